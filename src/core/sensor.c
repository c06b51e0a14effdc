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
	};
}

double jst_sensor_refresh(const struct jst_sensor *s)
{
	return s->refresh_s > 0 ? s->refresh_s : JST_REFRESH_ASSUMED_S;
}

static int64_t refresh_ns(const struct jst_sensor *s)
{
	return s->refresh_s > 0 ? (int64_t)llround(s->refresh_s * 1e9) : 0;
}

/* The latch of a value first seen at hi and not at lo: on the grid where one
 * is known and consistent with the bracket, narrowing the grid with it. */
static int64_t grid_latch(struct jst_sensor *s, int64_t lo, int64_t hi)
{
	int64_t r = refresh_ns(s);
	if (r < JST_GRID_MIN_NS)
		return hi; /* too fast (or unknown) to model: the reading is the latch */
	if (hi - lo > r)
		lo = hi - r; /* the value on show was latched within one refresh */
	if (s->have_ref) {
		int64_t n = (hi - s->ref_ns) / r - (hi < s->ref_ns);
		int64_t p = s->ref_ns + n * r; /* the last grid point at or before hi */
		/* The grid is known to ref_w where it was last pinned; each refresh
		 * since adds the refresh's own uncertainty. */
		int64_t w = s->ref_w + (int64_t)(2.0 * (double)llabs(n) * s->refresh_sigma_ns);
		int64_t plo = p - w / 2, phi = p + w / 2;
		int64_t ilo = plo > lo ? plo : lo, ihi = phi < hi ? phi : hi;
		if (ihi >= ilo) {
			/* Consistent: the two brackets narrow each other. */
			s->ref_ns = ilo + (ihi - ilo) / 2;
			s->ref_w = ihi - ilo > 20000 ? ihi - ilo : 20000;
			return s->ref_ns;
		}
	}
	/* No grid yet, or it drifted away: start again from this bracket. */
	s->have_ref = 1;
	s->ref_ns = lo + (hi - lo) / 2;
	s->ref_w = hi - lo;
	return s->ref_ns;
}

void jst_sensor_observe(struct jst_sensor *s, int64_t t, int64_t t_err, int changed)
{
	if (!s->last_read_ns) {
		/* The first value: latched at most one refresh ago. */
		s->chg_hi = t;
		s->chg_lo = t - (int64_t)(jst_sensor_refresh(s) * 1e9);
		s->latch_ns = t;
		s->last_read_ns = t;
		s->last_read_err = t_err;
		return;
	}
	if (changed) {
		/* Each read's value was taken somewhere inside its call: the bracket
		 * is as wide as the two calls allow. */
		int64_t lo = s->last_read_ns - s->last_read_err, hi = t + t_err;
		s->chg_lo = lo;
		s->chg_hi = hi;
		if (s->measuring) {
			int64_t mid = lo + (hi - lo) / 2;
			if (hi - lo <= JST_MEASURE_BRACKET_NS && s->nmeas < JST_MEASURE_MAX)
				s->meas[s->nmeas++] = mid;
		}
		s->latch_ns = grid_latch(s, lo, hi);
	}
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
	return span >= 400000000LL && span >= 12 * mean;
}

/* Least squares of change instants against refresh numbers, the numbers taken
 * from the slope so far over a span that doubles, so that an error in the
 * first guess never miscounts the refreshes between distant changes. Returns
 * the slope; *rms the scatter about it, *sigma how well it is known. */
static double fit_refresh(const struct jst_sensor *s, double guess, double *rms, double *sigma,
                          double *last_latch)
{
	double slope = guess;
	int64_t m0 = s->meas[0];
	double last = (double)(s->meas[s->nmeas - 1] - m0);
	for (double span = 6 * guess;; span *= 2) {
		double sn = 0, sm = 0, snn = 0, snm = 0, k = 0;
		for (unsigned i = 0; i < s->nmeas; i++) {
			double m = (double)(s->meas[i] - m0);
			if (m > span)
				break;
			double n = nearbyint(m / slope);
			sn += n;
			sm += m;
			snn += n * n;
			snm += n * m;
			k++;
		}
		double den = k * snn - sn * sn;
		if (k >= 3 && den > 0) {
			double fit = (k * snm - sn * sm) / den;
			if (fit > 0.5 * guess && fit < 1.5 * guess)
				slope = fit;
		}
		if (span >= last)
			break;
	}
	/* Scatter about the fit, and the slope's standard error. */
	double sn = 0, snn = 0, sr = 0, srr = 0, k = s->nmeas;
	double nlast = nearbyint((double)(s->meas[s->nmeas - 1] - m0) / slope);
	for (unsigned i = 0; i < s->nmeas; i++) {
		double m = (double)(s->meas[i] - m0);
		double n = nearbyint(m / slope);
		double res = m - n * slope;
		sn += n;
		snn += n * n;
		sr += res;
		srr += res * res;
	}
	double var = srr / k - (sr / k) * (sr / k);
	*rms = sqrt(var > 0 ? var : 0);
	/* The fitted grid at the last change: far better placed than any one
	 * bracket (the mean residual is the line's offset). */
	*last_latch = (double)m0 + sr / k + nlast * slope;
	double sxx = snn - sn * sn / k;
	*sigma = sxx > 0 && k > 2 ? *rms * sqrt(k / (k - 2)) / sqrt(sxx) : slope * 1e-3;
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
	double q = (double)diff[nd / 4];
	if (q <= 1.5 * (double)fast_poll_ns) {
		/* It changed at about every read: only known to be at least this fast. */
		s->refresh_s = (double)diff[nd / 2] * 1e-9;
		s->refresh_source = JST_REFRESH_MEASURED;
		return 1;
	}
	/* Even the short spacings may be multiples: the refresh is the largest
	 * candidate that every change fits, to within the brackets' width. */
	for (int k = 1; k <= 4; k++) {
		double guess = q / k;
		if (guess < 1.5 * (double)fast_poll_ns)
			break;
		double rms, sigma, last;
		double slope = fit_refresh(s, guess, &rms, &sigma, &last);
		if (rms > 0.2 * slope || rms > (double)JST_MEASURE_BRACKET_NS)
			continue;
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
		s->refresh_s = slope * 1e-9;
		s->refresh_source = JST_REFRESH_MEASURED;
		/* Two standard errors, and at least 0.05% (a busy machine's
		 * brackets are not as independent as the fit assumes): what the grid
		 * may drift by per refresh. */
		s->refresh_sigma_ns = 2 * sigma > 5e-4 * slope ? 2 * sigma : 5e-4 * slope;
		/* The fitted grid as the reference, as wide as two standard errors
		 * of its offset either way (at least 50 us). */
		s->have_ref = 1;
		s->ref_ns = (int64_t)llround(last);
		double w = 4 * rms / sqrt((double)s->nmeas);
		s->ref_w = w > 50000 ? (int64_t)w : 50000;
		return 1;
	}
	return 0;
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

double jst_sensor_interpolate(const struct jst_sensor *s, int64_t t)
{
	int64_t r = refresh_ns(s);
	if (!s->interpolate || r < JST_GRID_MIN_NS || isnan(s->power_w) || s->measuring)
		return 0;
	int64_t dt = t - s->latch_ns;
	if (dt <= 0)
		return 0;
	if (dt > r)
		dt = r;
	return s->power_w * (double)dt * 1e-9;
}

static double recent_max(const struct jst_sensor *s)
{
	double hi = isnan(s->power_w) ? 0 : s->power_w;
	for (unsigned i = 0; i < s->nrecent; i++)
		if (s->recent[i] > hi)
			hi = s->recent[i];
	return hi;
}

double jst_sensor_power_spread(const struct jst_sensor *s)
{
	double p = isnan(s->power_w) ? 0 : s->power_w;
	double lo = p, hi = p;
	for (unsigned i = 0; i < s->nrecent; i++) {
		if (s->recent[i] < lo)
			lo = s->recent[i];
		if (s->recent[i] > hi)
			hi = s->recent[i];
	}
	double spread = hi - lo;
	return spread > 0.05 * p ? spread : 0.05 * p;
}

double jst_sensor_edge_uncertainty(const struct jst_sensor *s)
{
	double r = jst_sensor_refresh(s);
	if (isnan(s->power_w) && s->nrecent == 0)
		return s->resolution_j + s->bound_w * r; /* nothing known of the power yet */
	/* Interpolated: what is left is how far the power moved from the guide,
	 * and where in time the latch lies. */
	if (s->interpolate && refresh_ns(s) >= JST_GRID_MIN_NS && !isnan(s->power_w) &&
	    !s->measuring) {
		/* Where the latch lies, as far as the grid knows; a grid lost
		 * altogether still leaves the figure within one refresh's energy. */
		double latch_w = (double)(s->have_ref ? s->ref_w : refresh_ns(s)) * 1e-9;
		if (latch_w > r)
			latch_w = r;
		return s->resolution_j + jst_sensor_power_spread(s) * r + s->power_w * latch_w;
	}
	return s->resolution_j + recent_max(s) * r;
}
