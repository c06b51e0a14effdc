/* The sensor model (see sensor.h): refresh, latch grid, power, plausibility,
 * interpolation and edge uncertainty of one domain. */
#include "sensor.h"

#include "joulestat.h"

#include <math.h>
#include <stdlib.h>

void jst_sensor_init(struct jst_sensor *s, double declared_refresh_s, double resolution_j,
                     double bound_w, int measure, int interpolate)
{
	*s = (struct jst_sensor){
	    .refresh_s = declared_refresh_s > 0 ? declared_refresh_s : 0,
	    .refresh_source = declared_refresh_s > 0 ? JST_REFRESH_DECLARED : JST_REFRESH_UNKNOWN,
	    .resolution_j = resolution_j,
	    .bound_w = bound_w,
	    .measuring = measure && !(declared_refresh_s > 0),
	    .interpolate = interpolate,
	    .power_w = NAN,
	    .span_power_w = NAN,
	    .recent_lo = INFINITY,
	    .recent_hi = -INFINITY,
	};
	s->refresh_ns = s->refresh_s > 0 ? (int64_t)llround(s->refresh_s * 1e9) : 0;
}

static int64_t refresh_ns(const struct jst_sensor *s)
{
	return s->refresh_ns;
}

/* A refresh declared or measured: kept in ns too, as the grid reads it. */
static void refresh_set(struct jst_sensor *s, double refresh_s)
{
	s->refresh_s = refresh_s;
	s->refresh_ns = refresh_s > 0 ? (int64_t)llround(refresh_s * 1e9) : 0;
}

/* The grid's width near t: as pinned, plus what the refresh's own uncertainty
 * adds per refresh since (at most a refresh: then it says nothing). */
static int64_t grid_width(const struct jst_sensor *s, int64_t t)
{
	int64_t r = refresh_ns(s);
	double n = fabs((double)(t - s->ref_ns)) / (double)r;
	double w = (double)s->ref_w + 2.0 * n * s->refresh_sigma_ns + 2.0 * (double)s->jitter_ns;
	return w < (double)r ? (int64_t)w : r;
}

/* The grid point nearest t. */
static int64_t grid_near(const struct jst_sensor *s, int64_t t)
{
	int64_t r = refresh_ns(s), x = t - s->ref_ns;
	/* Within half a refresh of the reference (t is often the reference
	 * itself): the reference, as the rounding below would give. */
	if (x >= -(r / 2) && x <= r / 2)
		return s->ref_ns;
	return s->ref_ns + (int64_t)nearbyint((double)x / (double)r) * r;
}

/* The grid points that may be the latch of a value on show at hi, known to
 * have been latched in (lo, hi] (at most one refresh r > 0): the latest whose
 * interval begins at or before hi, and the one before it; a bracket one
 * refresh wide can hold both, one at each end. Each one's part of the bracket
 * goes to [alo, ahi] and [blo, bhi] (empty: hi < lo). Returns the later. */
static int64_t grid_fit(const struct jst_sensor *s, int64_t r, int64_t lo, int64_t hi, int64_t *alo,
                        int64_t *ahi, int64_t *blo, int64_t *bhi)
{
	int64_t h = grid_width(s, hi) / 2, x = hi + h - s->ref_ns;
	int64_t p = s->ref_ns + (x / r - (x % r < 0)) * r;
	*alo = p - h > lo ? p - h : lo;
	*ahi = p + h < hi ? p + h : hi;
	*blo = p - r - h > lo ? p - r - h : lo;
	*bhi = p - r + h < hi ? p - r + h : hi;
	return p;
}

/* A narrow bracket (lo, hi] on the grid: with the last one, some refreshes
 * before, it bounds a measured refresh (each holds a latch, give or take the
 * latches' jitter), so that the refresh's uncertainty, which widens the grid
 * per refresh elapsed, shrinks as brackets far apart come; where reads are
 * slow and their brackets wide, the grid would otherwise widen faster than
 * they narrow it. A declared refresh (no uncertainty) is left alone. */
static void refresh_refine(struct jst_sensor *s, int64_t lo, int64_t hi)
{
	int64_t plo = s->narrow_lo, phi = s->narrow_hi;
	s->narrow_lo = lo;
	s->narrow_hi = hi;
	if (!phi || !(s->refresh_sigma_ns > 0))
		return;
	double r = (double)s->refresh_ns;
	int64_t mid = lo + (hi - lo) / 2, pmid = plo + (phi - plo) / 2;
	double k = nearbyint((double)(mid - pmid) / r);
	if (k < 1)
		return;
	double j2 = 2.0 * (double)s->jitter_ns;
	double blo = ((double)(lo - phi) - j2) / k, bhi = ((double)(hi - plo) + j2) / k;
	double olo = r - s->refresh_sigma_ns, ohi = r + s->refresh_sigma_ns;
	if (blo < olo)
		blo = olo;
	if (bhi > ohi)
		bhi = ohi;
	if (bhi < blo)
		return; /* inconsistent: the next change will tell */
	double half = (bhi - blo) / 2, floor = 1e-4 * r;
	refresh_set(s, (blo + half) * 1e-9);
	s->refresh_sigma_ns = half > floor ? half : floor;
}

/* The latch of a value first seen at hi and not at lo: on the grid where one
 * is known and consistent with the bracket, narrowing the grid with it. */
static int64_t grid_latch(struct jst_sensor *s, int64_t lo, int64_t hi, int64_t err)
{
	int64_t r = refresh_ns(s);
	s->latch_alt_ns = 0;
	if (r < JST_GRID_MIN_NS || s->grid_none)
		return hi; /* too fast, unknown or gridless: the reading is the latch */
	/* The value on show was latched within one refresh of when it was
	 * taken, which a slow call places as early as its start. */
	lo = jst_sensor_bracket_floor(lo, hi, err, r);
	/* A grid as wide as a refresh says nothing of the phase. */
	if (s->have_ref && grid_width(s, hi) < r) {
		int64_t alo, ahi, blo, bhi;
		grid_fit(s, r, lo, hi, &alo, &ahi, &blo, &bhi);
		/* A bracket narrower than half a refresh that the grid holds
		 * confirms it; a wider one fits some grid point whatever the grid. */
		int narrow = hi - lo < r / 2;
		if (ahi >= alo && bhi >= blo) {
			/* Both fit: the bracket tells nothing the grid does not (the two
			 * pieces are the grid's one interval, a refresh apart). Keep the
			 * grid; the likelier is the one with more of its interval in.
			 * On a narrow grid the two are two places (a value seen a latch
			 * late, one missed): the other is kept, for the edges before
			 * it (window.c). */
			int64_t pa = alo + (ahi - alo) / 2, pb = blo + (bhi - blo) / 2;
			if (4 * grid_width(s, hi) <= r)
				s->latch_alt_ns = ahi - alo >= bhi - blo ? pb : pa;
			return ahi - alo >= bhi - blo ? pa : pb;
		}
		if (bhi >= blo) {
			alo = blo;
			ahi = bhi;
		}
		if (ahi >= alo) {
			/* Consistent: the two brackets narrow each other. */
			s->ref_ns = alo + (ahi - alo) / 2;
			s->ref_w = ahi - alo > 20000 ? ahi - alo : 20000;
			s->grid_runs += narrow;
			if (narrow)
				refresh_refine(s, lo, hi);
			return s->ref_ns;
		}
	}
	/* No grid yet, or it drifted away: start again from this bracket. */
	s->narrow_hi = 0;
	s->grid_runs = 0;
	s->have_ref = 1;
	s->ref_ns = lo + (hi - lo) / 2;
	s->ref_w = hi - lo;
	return s->ref_ns;
}

/* Power w moves the value by a few counts per refresh: a value that did not
 * change saw no latch. */
static int every_latch_moves(const struct jst_sensor *s, double w)
{
	return w * jst_sensor_refresh(s) >= 4 * s->resolution_j;
}

/* The value had not changed at t: the next latch is later than t, so the one
 * on show is later than t - R. Narrows the grid from below, as a change
 * narrows it from above. Only where every latch changes the value (the power
 * moves it by a few counts per refresh): an idle counter's stillness says
 * nothing of its latches. */
static void grid_unchanged(struct jst_sensor *s, int64_t t)
{
	int64_t r = refresh_ns(s);
	if (!s->have_ref || r < JST_GRID_MIN_NS)
		return;
	int64_t width = grid_width(s, t);
	if (width >= r || !every_latch_moves(s, s->power_w))
		return;
	int64_t h = width / 2;
	/* The latch on show lies in the bracket of the change that showed it
	 * (within a refresh of its end), after t - R, and in one grid point's
	 * interval. Where two grid points' intervals fit that span, nothing is
	 * learnt: the likelier of the two (latch_ns) need not be the one. */
	int64_t blo = jst_sensor_bracket_floor(s->chg_lo, s->chg_hi, s->chg_err, r);
	if (t - r > blo)
		blo = t - r;
	int64_t p0 = grid_near(s, s->latch_ns), ilo = 0, ihi = -1;
	for (int64_t q = p0 - r; q <= p0 + r; q += r) {
		int64_t a = q - h > blo ? q - h : blo, b = q + h < s->chg_hi ? q + h : s->chg_hi;
		if (b < a)
			continue;
		if (ihi >= ilo)
			return; /* a second one fits */
		ilo = a;
		ihi = b;
	}
	if (ihi < ilo)
		return; /* inconsistent: a change will tell */
	if (ihi - ilo < s->ref_w) {
		s->ref_ns = ilo + (ihi - ilo) / 2;
		s->ref_w = ihi - ilo > 20000 ? ihi - ilo : 20000;
	}
	s->latch_ns = ilo + (ihi - ilo) / 2;
}

/* A change: its bracket, the refresh's measurement and the latch. Apart from
 * jst_sensor_observe, so that the usual reading, the value as before, pays for
 * none of it. */
static __attribute__((noinline)) void observe_change(struct jst_sensor *s, int64_t t, int64_t t_err)
{
	/* Each read's value was taken somewhere inside its call: the bracket is
	 * as wide as the two calls allow. */
	int64_t lo = s->last_read_ns - s->last_read_err, hi = t + t_err;
	s->chg_lo = lo;
	s->chg_hi = hi;
	s->chg_err = t_err;
	if (s->measuring) {
		/* Narrow: the reads around it no further apart than the fast poll
		 * allows (a preempted poll's are not), however long each read took
		 * (a slow driver's call widens every bracket by its duration, and a
		 * bound on the reads' spacing alone would keep none). */
		int64_t mid = lo + (hi - lo) / 2;
		if (hi - lo <= JST_MEASURE_BRACKET_NS + 2 * (s->last_read_err + t_err) &&
		    s->nmeas < JST_MEASURE_MAX) {
			s->meas_h[s->nmeas] = (hi - lo) / 2;
			s->meas[s->nmeas++] = mid;
		}
	}
	s->latch_ns = grid_latch(s, lo, hi, t_err);
}

int64_t jst_sensor_observe_restart(struct jst_sensor *s, int64_t t, int64_t t_err, int at_zero)
{
	s->latch_alt_ns = 0;
	int64_t lo = s->last_read_ns - s->last_read_err, hi = t + t_err;
	s->chg_lo = lo;
	s->chg_hi = hi;
	s->chg_err = t_err;
	int64_t r = refresh_ns(s);
	/* Latched, or restarted and not latched since, within one refresh of
	 * when the value was taken. */
	if (r > 0)
		lo = jst_sensor_bracket_floor(lo, hi, t_err, r);
	s->latch_ns = lo + (hi - lo) / 2;
	int64_t half = (hi - lo) / 2;
	if (!at_zero && (r < JST_GRID_MIN_NS || s->grid_none)) {
		s->latch_ns = hi; /* too fast (or unknown) to model, as grid_latch */
		half = r;
	} else if (!at_zero && s->have_ref && grid_width(s, hi) < r) {
		int64_t alo, ahi, blo, bhi;
		grid_fit(s, r, lo, hi, &alo, &ahi, &blo, &bhi);
		if (ahi < alo) {
			alo = blo;
			ahi = bhi;
		}
		if (ahi >= alo) {
			s->latch_ns = alo + (ahi - alo) / 2;
			half = (ahi - alo) / 2;
		}
	}
	s->last_read_ns = t;
	s->last_read_err = t_err;
	return half;
}

void jst_sensor_observe(struct jst_sensor *s, int64_t t, int64_t t_err, int changed)
{
	if (!s->last_read_ns) {
		/* The first value: latched at most one refresh ago. */
		s->chg_hi = t;
		s->chg_lo = t - (int64_t)(jst_sensor_refresh(s) * 1e9);
		s->chg_err = 0;
		s->latch_ns = t;
		s->last_read_ns = t;
		s->last_read_err = t_err;
		return;
	}
	if (changed)
		observe_change(s, t, t_err);
	else
		grid_unchanged(s, t - t_err);
	s->last_read_ns = t;
	s->last_read_err = t_err;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int jst_sensor_measure_enough(const struct jst_sensor *s)
{
	if (s->nmeas >= JST_MEASURE_MAX)
		return 1;
	if (s->nmeas < 6)
		return 0;
	/* A baseline of a dozen refreshes and 0.4 s: the fit's slope is then good
	 * to a small fraction of a millisecond. */
	int64_t span = s->meas[s->nmeas - 1] - s->meas[0];
	int64_t mean = span / (s->nmeas - 1);
	/* Brackets wider than a millisecond (slow reads) place each change
	 * less well: the slope's error goes as their width over the span to
	 * the power 3/2, so the span grows as the width to the power 2/3 (up
	 * to the measuring's time limit, sampler.c). */
	double h = 0;
	for (unsigned i = 0; i < s->nmeas; i++)
		h += (double)s->meas_h[i];
	h /= s->nmeas;
	double want = 4e8 * (h > 1e6 ? pow(h / 1e6, 2.0 / 3.0) : 1.0);
	return (double)span >= want && span >= 12 * mean;
}

/* Least squares of change instants against refresh numbers, the numbers taken
 * from the slope so far over a span that doubles, so that an error in the
 * first guess never miscounts the refreshes between distant changes. Returns
 * the slope; *rms the scatter about it, *sigma how well it is known. */
static double fit_refresh(const struct jst_sensor *s, double guess, double *rms, double *sigma,
                          double *last_latch, double num[JST_MEASURE_MAX])
{
	if (s->nmeas == 0) {
		*rms = *sigma = *last_latch = 0;
		return guess;
	}
	/* Each change numbered from the one before it, not from the first: the
	 * guess is off by up to a bracket, which would miscount the refreshes
	 * between distant changes, never between neighbours. */
	num[0] = 0;
	for (unsigned i = 1; i < s->nmeas; i++)
		num[i] = num[i - 1] + nearbyint((double)(s->meas[i] - s->meas[i - 1]) / guess);
	int64_t m0 = s->meas[0];
	double sn = 0, sm = 0, snn = 0, snm = 0, k = s->nmeas;
	for (unsigned i = 0; i < s->nmeas; i++) {
		double m = (double)(s->meas[i] - m0);
		sn += num[i];
		sm += m;
		snn += num[i] * num[i];
		snm += num[i] * m;
	}
	double den = k * snn - sn * sn;
	double slope = den > 0 ? (k * snm - sn * sm) / den : guess;
	if (!(slope > 0.5 * guess && slope < 1.5 * guess))
		slope = guess;
	double icpt = (sm - slope * sn) / k;
	/* Scatter about the fit, and the slope's standard error. */
	double srr = 0;
	for (unsigned i = 0; i < s->nmeas; i++) {
		double res = (double)(s->meas[i] - m0) - icpt - num[i] * slope;
		srr += res * res;
	}
	*rms = sqrt(srr / k);
	double sxx = snn - sn * sn / k;
	*sigma = sxx > 0 && k > 2 ? *rms * sqrt(k / (k - 2)) / sqrt(sxx) : slope * 1e-3;
	/* The fitted grid at the last change: far better placed than any one
	 * bracket. */
	*last_latch = (double)m0 + icpt + num[s->nmeas - 1] * slope;
	return slope;
}

int jst_sensor_measure_finish(struct jst_sensor *s, int64_t fast_poll_ns)
{
	s->measuring = 0;
	if (s->nmeas < 8)
		return 0;
	int64_t diff[JST_MEASURE_MAX];
	unsigned nd = 0;
	for (unsigned i = 1; i < s->nmeas; i++)
		if (s->meas[i] > s->meas[i - 1])
			diff[nd++] = s->meas[i] - s->meas[i - 1];
	if (nd < 3)
		return 0;
	qsort(diff, nd, sizeof diff[0], cmp_i64);
	/* Changes missed under load make some spacings two or three refreshes:
	 * the short ones are single refreshes. */
	unsigned iq = nd / 4, imed = nd / 2;
	double q = (double)diff[iq];
	/* The short spacings' mean: where the reads are coarse against the
	 * refresh (a slow driver's), each is a refresh give or take a read, and
	 * the quartile alone may be one of the short ones. */
	double sum = 0;
	unsigned nshort = 0;
	for (unsigned i = 0; i < nd; i++)
		if ((double)diff[i] <= 1.5 * q) {
			sum += (double)diff[i];
			nshort++;
		}
	double mshort = sum / nshort;
	int64_t hs[JST_MEASURE_MAX];
	for (unsigned i = 0; i < s->nmeas; i++)
		hs[i] = s->meas_h[i];
	qsort(hs, s->nmeas, sizeof hs[0], cmp_i64);
	int64_t hmed = hs[s->nmeas / 2];
	if (q <= 1.5 * (double)fast_poll_ns) {
		/* It changed at about every read: only known to be at least this
		 * fast, too fast for a grid to be of use: a reading is its own latch. */
		refresh_set(s, (double)diff[imed] * 1e-9);
		s->refresh_source = JST_REFRESH_MEASURED;
		s->interpolate = 0;
		return 1;
	}
	/* Even the short spacings may be multiples: the refresh is the largest
	 * candidate that every change fits, to within the brackets' width. */
	for (int c = 0; c < 8; c++) {
		int k = 1 + c / 2;
		double guess = (c % 2 ? q : mshort) / k;
		if (guess < 1.5 * (double)fast_poll_ns)
			continue;
		double rms, sigma, last, num[JST_MEASURE_MAX];
		double slope = fit_refresh(s, guess, &rms, &sigma, &last, num);
		/* Once more, numbered by the slope found: where brackets are wide
		 * against the refresh (slow reads), a guess from the spacings may
		 * miscount a neighbour's refreshes that the fitted slope does not. */
		if (slope != guess)
			slope = fit_refresh(s, slope, &rms, &sigma, &last, num);
		/* Each change's latch lies in its bracket: on a grid that is the
		 * counter's, every bracket holds a point of the fitted grid, give or
		 * take the fit's own error. What is left over is how far the latches
		 * stray from a grid; a grid they stray from by more than the
		 * tolerance is not the counter's (a finer one fits jittered latches
		 * no better: it is dropped, not trusted). */
		double tol = slope / JST_JITTER_TOL_DIV;
		if (tol < (double)JST_JITTER_TOL_MIN_NS)
			tol = (double)JST_JITTER_TOL_MIN_NS;
		double stray = 0;
		for (unsigned i = 0; i < s->nmeas; i++) {
			double at = last - (num[s->nmeas - 1] - num[i]) * slope;
			double off = fabs((double)s->meas[i] - at) - (double)s->meas_h[i];
			if (off > stray)
				stray = off;
		}
		/* A grid no coarser than its brackets (the usual one: a preempted
		 * read widens a few) and tolerance fits any changes: it says
		 * nothing. */
		if (stray > tol || 2 * ((double)hmed + tol) >= slope)
			continue;
		/* Each change's latch lies in its bracket, give or take the stray:
		 * carried along the fitted grid to the last change (with the
		 * slope's error per step), the brackets intersect where the grid's
		 * point there can lie. That, not the fit's statistical error, is
		 * how well the grid is placed: reads spaced commensurately with the
		 * refresh bracket every change at the same phase, and a fit exact
		 * through their middles would pin a grid to 50 us that is off by up
		 * to half a bracket. */
		/* Two standard errors, and at least 0.05% (a busy machine's
		 * brackets are not as independent as the fit assumes), and at
		 * least as far as the brackets themselves allow: any two changes,
		 * each latched in its bracket (give or take the stray), bound the
		 * refreshes between them. Slow reads' wide brackets, or reads
		 * spaced commensurately with the refresh, leave the fit surer of
		 * itself than the brackets are; it is what the grid may drift by
		 * per refresh. */
		double sig = 2 * sigma > 5e-4 * slope ? 2 * sigma : 5e-4 * slope;
		double rlo = 0, rhi = INFINITY;
		for (unsigned i = 0; i < s->nmeas; i++)
			for (unsigned j = i + 1; j < s->nmeas; j++) {
				double dn = num[j] - num[i];
				if (dn < 1)
					continue;
				double gap = (double)(s->meas[j] - s->meas[i]);
				double h = (double)(s->meas_h[i] + s->meas_h[j]) + 2 * stray;
				if ((gap - h) / dn > rlo)
					rlo = (gap - h) / dn;
				if ((gap + h) / dn < rhi)
					rhi = (gap + h) / dn;
			}
		if (rhi >= rlo) {
			if (slope < rlo || slope > rhi)
				slope = rlo + (rhi - rlo) / 2;
			double dev = slope - rlo > rhi - slope ? slope - rlo : rhi - slope;
			if (dev > sig)
				sig = dev;
		}
		double ilo = -INFINITY, ihi = INFINITY;
		for (unsigned i = 0; i < s->nmeas; i++) {
			double d = num[s->nmeas - 1] - num[i];
			double c = (double)s->meas[i] + d * slope;
			double h = (double)s->meas_h[i] + stray + d * sig;
			if (c - h > ilo)
				ilo = c - h;
			if (c + h < ihi)
				ihi = c + h;
		}
		/* A finer grid always fits: if every change fell on every g-th of
		 * its points, the refresh is g of them. */
		uint64_t g = 0;
		for (unsigned i = 1; i < s->nmeas; i++) {
			uint64_t n = (uint64_t)llround((double)(s->meas[i] - s->meas[0]) / slope);
			for (uint64_t a = g, b = n; b;) {
				uint64_t t = a % b;
				a = b;
				b = t;
				g = a;
			}
		}
		if (g > 1) {
			slope *= (double)g;
			sigma *= (double)g;
		}
		refresh_set(s, slope * 1e-9);
		s->refresh_source = JST_REFRESH_MEASURED;
		s->refresh_sigma_ns = g > 1 ? sig * (double)g : sig;
		/* The fitted grid as the reference, as wide as two standard errors
		 * of its offset either way (at least 50 us). */
		s->have_ref = 1;
		s->ref_ns = (int64_t)llround(last);
		double w = 4 * rms / sqrt((double)s->nmeas);
		if (ihi >= ilo && ihi - ilo > w) {
			s->ref_ns = (int64_t)llround(ilo + (ihi - ilo) / 2);
			w = ihi - ilo;
		}
		s->ref_w = w > 50000 ? (int64_t)w : 50000;
		/* Its brackets were carried along a refresh partly estimated:
		 * changes confirm the grid before it says when no latch can come
		 * (a first narrow bracket after the fit sometimes starts it
		 * again). */
		s->grid_runs = 0;
		/* The latches' stray (with a margin: the largest of a few dozen
		 * falls short of the largest there is) widens the grid. */
		s->jitter_ns = (int64_t)(1.5 * stray);
		s->grid_none = 0;
		return 1;
	}
	/* The changes were bracketed, and none of the candidates' grids holds
	 * them: the latches come at a refresh on average but off any grid. The
	 * refresh is the spacings' median; the jitter, half the farthest a
	 * single spacing strays from it, plus the brackets' width. The counter
	 * is modelled without a grid (grid_none). */
	if (s->nmeas < 10)
		return 0; /* too few to tell a jittered counter from a busy machine */
	double med = (double)diff[imed], hw = 0, far = 0, nref = 0;
	for (unsigned i = 0; i < s->nmeas; i++)
		if ((double)s->meas_h[i] > hw)
			hw = (double)s->meas_h[i];
	/* A spacing is one refresh where it strays from one no further than
	 * the short ones do (the jitter, seen from below), else two or more (a
	 * change not bracketed): counted to the nearest. */
	double one = 0;
	unsigned nones = 0;
	for (unsigned i = 0; i < nd; i++) {
		double x = (double)diff[i];
		if (x < 1.5 * med && fabs(x - med) > far)
			far = fabs(x - med);
		if (x > 0.5 * med && x < 1.5 * med) {
			one += x;
			nones++;
		}
	}
	/* The unit spacings are counted in: their mean, not their median (reads
	 * coarse against the refresh give spacings of whole polls either side
	 * of it). */
	if (nones)
		med = one / nones;
	/* The refresh: least squares of each change against its count of
	 * refreshes (less swayed by the jitter of the first and last). */
	double sn = 0, sm = 0, snn = 0, snm = 0, k = s->nmeas;
	for (unsigned i = 0; i < s->nmeas; i++) {
		if (i) {
			double x = (double)(s->meas[i] - s->meas[i - 1]);
			double c = x <= med + far ? 1 : nearbyint(x / med);
			nref += c < 1 ? 1 : c;
		}
		double m = (double)(s->meas[i] - s->meas[0]);
		sn += nref;
		sm += m;
		snn += nref * nref;
		snm += nref * m;
	}
	double den = k * snn - sn * sn;
	refresh_set(s, (den > 0 ? (k * snm - sn * sm) / den : med) * 1e-9);
	s->refresh_source = JST_REFRESH_MEASURED;
	s->jitter_ns = (int64_t)(1.25 * far / 2 + 2 * hw);
	s->grid_none = 1;
	s->have_ref = 0;
	s->grid_runs = 0;
	return 1;
}

double jst_sensor_max_energy(const struct jst_sensor *s, int64_t t)
{
	/* Unknown refresh: a second, generous enough for any counter's latching. */
	double r = s->refresh_s > 0 ? s->refresh_s : 1.0;
	double dt = (double)(t - s->chg_lo) * 1e-9 + r;
	if (!(dt > 0))
		dt = r;
	return 1.5 * s->bound_w * dt + 2 * s->resolution_j;
}

void jst_sensor_power(struct jst_sensor *s, double w, int from_device)
{
	if (!(w >= 0) || isinf(w))
		return;
	s->recent[s->irecent] = w;
	s->irecent = (s->irecent + 1) % JST_RECENT_POWER;
	if (s->nrecent < JST_RECENT_POWER)
		s->nrecent++;
	/* In the order a scan from the first would keep them (the first of
	 * equals), so that every reader's result is the scan's. */
	double lo = s->recent[0], hi = s->recent[0];
	for (unsigned i = 1; i < s->nrecent; i++) {
		if (s->recent[i] < lo)
			lo = s->recent[i];
		if (s->recent[i] > hi)
			hi = s->recent[i];
	}
	s->recent_lo = lo;
	s->recent_hi = hi;
	/* The device's own reading is the better guide while it comes. */
	if (from_device || !s->power_from_device) {
		s->power_w = w;
		s->power_from_device = from_device;
	}
}

void jst_sensor_counter_latched(struct jst_sensor *s, double energy_j)
{
	s->span_fresh = 0;
	if (!s->have_anchor) {
		s->have_anchor = 1;
		s->anchor_j = energy_j;
		s->anchor_ns = s->latch_ns;
		return;
	}
	int64_t span = s->latch_ns - s->anchor_ns;
	int64_t min = refresh_ns(s);
	if (min < JST_POWER_SPAN_NS)
		min = JST_POWER_SPAN_NS;
	if (span < min)
		return;
	s->span_power_w = (energy_j - s->anchor_j) / ((double)span * 1e-9);
	s->span_start_ns = s->anchor_ns;
	s->span_fresh = 1;
	s->anchor_j = energy_j;
	s->anchor_ns = s->latch_ns;
	jst_sensor_power(s, s->span_power_w, 0);
}

/* The grid point a bracket (lo, hi] holds (jst_sensor_latch_of), the other
 * to *other where two do. */
static int64_t latch_fit(const struct jst_sensor *s, int64_t r, int64_t lo, int64_t hi,
                         int64_t fallback, int64_t *other)
{
	*other = INT64_MIN;
	int64_t alo, ahi, blo, bhi;
	/* The grid point known to ref_w need only overlap the bracket; of two
	 * that do, the one with more of its interval in it. Its point, clamped
	 * into the bracket. */
	int64_t p = grid_fit(s, r, lo, hi, &alo, &ahi, &blo, &bhi);
	int64_t pa = p < alo ? alo : p > ahi ? ahi : p;
	int64_t pb = p - r < blo ? blo : p - r > bhi ? bhi : p - r;
	int a = ahi >= alo, b = bhi >= blo;
	if (!a && !b)
		return fallback;
	if (a && b)
		*other = bhi - blo > ahi - alo ? pa : pb;
	return b && (!a || bhi - blo > ahi - alo) ? pb : pa;
}

int64_t jst_sensor_latch_of(const struct jst_sensor *s, int64_t lo, int64_t hi, int64_t err,
                            int64_t seen, int64_t fallback, int64_t *other)
{
	int64_t r = refresh_ns(s);
	*other = INT64_MIN;
	if (!s->have_ref || r < JST_GRID_MIN_NS)
		return fallback;
	lo = jst_sensor_bracket_floor(lo, hi, err, r); /* as grid_latch */
	int64_t l = latch_fit(s, r, lo, hi, fallback, other);
	/* The next latch came after seen, within a refresh and the latches'
	 * jitter of this one: of two points, the earlier is ruled out where it
	 * lies before that. Only where every latch moved the value lately (the
	 * least recent power moves it by a few counts a refresh: not an idle
	 * counter, nor one that may have idled unseen), and the value did not
	 * stand still across a latch (seen a refresh or more after it was first
	 * shown). */
	int64_t after = seen - r - 2 * s->jitter_ns;
	if (*other == INT64_MIN || !seen || after <= lo || after >= hi ||
	    !every_latch_moves(s, jst_sensor_power_floor(s)))
		return l;
	int64_t o2;
	int64_t l2 = latch_fit(s, r, after, hi, l, &o2);
	/* Ruled out on a refresh measured with its latches' jitter, the power
	 * known from the device itself: the other is no longer stated. Else the
	 * later is taken and the other still stated: on a declared refresh the
	 * latches' jitter is not known (a jitter wider than the margin puts the
	 * latch past the cut), and without the device's power the spread that
	 * states the edges is the counter's own, averaged over refreshes, below
	 * what the device drew within them (a review's sweep of 31,000 windows:
	 * 17 of 21 windows that the cut alone left outside their ± had none). */
	if (o2 == INT64_MIN && (s->refresh_source != JST_REFRESH_MEASURED || !s->power_from_device))
		o2 = l2 == l ? *other : l;
	*other = o2;
	return l2;
}

double jst_sensor_power_floor(const struct jst_sensor *s)
{
	double lo = s->power_w;
	return s->nrecent && !(s->recent_lo >= lo) ? s->recent_lo : lo;
}

/* The first grid point whose interval, widened by safety, reaches past t:
 * the earliest a latch later than t can lie at is its return less *h. 0 where
 * the grid there is wider than half a refresh (it says nothing). */
static int64_t grid_after(const struct jst_sensor *s, int64_t t, int64_t safety, int64_t *h)
{
	int64_t r = refresh_ns(s), x = t - s->ref_ns;
	int64_t g = s->ref_ns + (x / r - (x % r < 0)) * r; /* at or before t */
	for (int k = 0; k < 3; k++, g += r) {
		int64_t w = grid_width(s, g);
		if (2 * w > r)
			return 0;
		*h = w / 2 + safety;
		if (g + *h >= t)
			return g;
	}
	return 0;
}

int64_t jst_sensor_hold_until(const struct jst_sensor *s, int64_t t, int64_t t_err)
{
	int64_t r = refresh_ns(s);
	if (!jst_sensor_interpolates(s) || !s->have_ref || s->grid_runs < JST_HOLD_RUNS)
		return 0;
	int64_t safety = r / JST_HOLD_SAFETY_DIV;
	if (safety < JST_HOLD_SAFETY_NS)
		safety = JST_HOLD_SAFETY_NS;
	/* Two bounds on the next latch. The reading showed the value at t -
	 * t_err at the earliest: no latch came before that. And the value on
	 * show was latched after the last reading that did not show it (chg_lo),
	 * at a grid point: the next is a refresh after the first point that may
	 * lie past chg_lo (a reading just after a latch knows it came). */
	int64_t ha = 0, hb = 0;
	int64_t a = grid_after(s, t - t_err, safety, &ha);
	int64_t b = grid_after(s, s->chg_lo, safety, &hb);
	if (!a || !b)
		return 0;
	int64_t until = a - ha;
	if (b + r - hb > until)
		until = b + r - hb;
	if (until <= t + t_err)
		return 0; /* the reading lies where the next latch may: none held */
	return until < t + r ? until : t + r;
}

int64_t jst_sensor_grid_width(const struct jst_sensor *s, int64_t t)
{
	int64_t r = refresh_ns(s);
	return s->have_ref && r >= JST_GRID_MIN_NS ? grid_width(s, t) : r;
}
