/*
 * Settling a power domain's window edge after the fact. A meter its backend
 * polls on a thread of its own (a BMC) gives readings that stand for an
 * instant a refresh or so before they arrive: at a window's edge the last
 * reading is older than the edge, and the edge is bridged from it with its
 * power (read.c, edge_take), stated with the power's spread over the gap. A
 * window's begin need not stay so: once a reading stamped after it has been
 * folded, the integration itself passes the edge (the trapezoid between the
 * readings around it), and the edge takes that value, so that the begin and
 * the readings inside the window rest on the same integral. What a step
 * between those two readings can hide is in the integration's own variance
 * (read.c, fold_power), which the window counts; the bridge's share of the
 * edge's uncertainty goes. A window's end has no later reading when its
 * figure is formed: it stays bridged, and stated so.
 *
 * Readings that are means over the refresh (jst_domain_desc.power_mean: a
 * BMC's, a power analyser's samples through PTDaemon) are modelled as what
 * they are. Reading m_i, stamped at the middle c_i of refresh i, is the
 * energy of that refresh divided by R: the integration through consecutive
 * readings, (m_i + m_(i+1)) R / 2 from c_i to c_(i+1), is then the step
 * function of the means (m_i up to the refresh's end, m_(i+1) after) at every
 * c_i, and over the whole refreshes a window holds it is exact. What a mean
 * hides is how its refresh's energy lies in time: only the refreshes a
 * window's edges cut, and the time no reading has covered yet, carry an
 * error, and that is where it is stated:
 *  - the edge's refresh (a begin, once settled; an end a later mean
 *    settled): the step's share of it, (1 - f) R m, against the truth,
 *    anywhere a power within [L, H] with a mean of m allows
 *    (jst_power_mean_part);
 *  - time past the last reading's refresh (an end, an unsettled begin):
 *    whole refreshes, each a mean in the means' range, then a share of the
 *    next, its power within [L, H] and its mean in that range
 *    (jst_power_mean_unseen);
 *  - refreshes between two readings that no reading showed (a missed
 *    update): likewise, in the integration's variance (read.c).
 *
 * The principle for [L, H], the range the power may take within a refresh:
 * what physics allows, 0 to the domain's bound, and with the refresh's mean
 * m the share cut is then never below 0 nor above the refresh's energy R m.
 * Nothing the means show narrows it. A load in step with the refresh (a
 * training step of a second on a 1 s analyser, 400 W then 1500 W) gives
 * means as uniform as a steady load's; one near it (a 1.1 s step) gives means
 * that span a tenth of its swing; the means of a few refreshes span nothing
 * at all. A range taken from the means (as this did: their range widened by
 * itself either side) read such loads up to 52 times outside the ± on windows
 * cut inside a 1 s sample (tests/unit/test_power_mean_sweep.c). The price is a
 * steady load's: a window of a sample or less is stated as the instrument
 * resolves it (up to its samples' whole energy), one of N samples within
 * about 1.5 / N of its energy beyond the class at its two cut samples. The
 * meters these backends make have one domain, the node: no finer domain of
 * the same meter narrows it (a GPU's counter on the node is a part of it, and
 * bounds nothing of the rest).
 *
 * The means' range speaks only for means no reading has shown yet (a refresh
 * past the last one, missed ones) and for where the steps of the means lie
 * (jst_power_mean_shift): that of the last 16, widened for how few
 * (mean_ranges).
 */
#include "meter_internal.h"

#include <math.h>

static void mean_ranges(const struct jst_sensor *s, double *mlo, double *mhi, double *lo,
                        double *hi)
{
	double p = isnan(s->power_w) ? 0 : s->power_w;
	double l = s->recent_lo < p ? s->recent_lo : p;
	double h = s->recent_hi > p ? s->recent_hi : p;
	unsigned n = s->nrecent;
	/* The range of the means is that of the few seen: n values drawn
	 * evenly from a range span (n - 1) / (n + 1) of it on average, so the
	 * range of the means is taken as (n + 1) / (n - 1) of what they span,
	 * about their middle (x3 from two means, x1.13 from sixteen). */
	double d = h - l;
	/* One mean has no range: only the readings' noise, below. */
	double dm = n > 1 ? d * (double)(n + 1) / (double)(n - 1) : 0;
	l -= 0.5 * (dm - d);
	h += 0.5 * (dm - d);
	/* The readings' own noise, as jst_sensor_power_spread: 5% of the power. */
	if (h - l < 0.05 * p) {
		l = p - 0.025 * p;
		h = p + 0.025 * p;
	}
	/* Within a refresh: anything the device can draw (the header). */
	double top = s->bound_w > p ? s->bound_w : p;
	if (top < h)
		top = h;
	*lo = 0;
	*hi = top;
	*mlo = l > 0 ? l : 0;
	*mhi = h;
}

void jst_power_mean_range(const struct jst_sensor *s, double *lo, double *hi)
{
	double mlo, mhi;
	mean_ranges(s, &mlo, &mhi, lo, hi);
}

double jst_power_mean_part(const struct jst_dom *dom, double m, double f)
{
	const struct jst_sensor *s = &dom->sensor;
	double r = jst_sensor_refresh(s), lo, hi;
	jst_power_mean_range(s, &lo, &hi);
	if (m < lo)
		lo = m;
	if (m > hi)
		hi = m;
	f = f < 0 ? 0 : f > 1 ? 1 : f;
	/* The energy after the edge, T, has the refresh's R m in all: at most
	 * (1 - f) R H, and R m less at least f R L before the edge; at least
	 * (1 - f) R L, and R m less at most f R H. */
	double over = fmin((1 - f) * (hi - m), f * (m - lo));
	double under = fmin((1 - f) * (m - lo), f * (hi - m));
	return r * fmax(over, under);
}

double jst_power_mean_unseen(const struct jst_dom *dom, double m, double span_s)
{
	const struct jst_sensor *s = &dom->sensor;
	if (!(span_s > 0) || isnan(m))
		return 0;
	double r = jst_sensor_refresh(s), mlo, mhi, lo, hi;
	mean_ranges(s, &mlo, &mhi, &lo, &hi);
	if (m < mlo)
		mlo = m;
	if (m > mhi)
		mhi = m;
	lo = fmin(lo, mlo);
	hi = fmax(hi, mhi);
	/* The span begins where the last mean's refresh ended: whole refreshes,
	 * each a mean no reading has shown yet, in the means' range, then the
	 * first share phi of the next: a short share can be at an extreme of
	 * the power, a long one no further than its refresh's mean allows. */
	double whole = floor(span_s / r);
	double phi = span_s / r - whole;
	double part_hi = fmin(phi * hi, mhi - (1 - phi) * lo);
	double part_lo = fmax(phi * lo, mlo - (1 - phi) * hi);
	return r * (whole * fmax(mhi - m, m - mlo) + fmax(part_hi - phi * m, phi * m - part_lo));
}

double jst_power_mean_shift(const struct jst_dom *dom, int64_t t_err_ns)
{
	/* The steps of the means moved by t_err against where they belong:
	 * what moves at each edge is a mean's worth over t_err, the means'
	 * spread about their middle (the power within them is the other
	 * terms'). */
	double mlo, mhi, lo, hi;
	mean_ranges(&dom->sensor, &mlo, &mhi, &lo, &hi);
	return (double)t_err_ns * 1e-9 * 0.5 * (mhi - mlo);
}

double jst_power_bridge_miss(const struct jst_dom *dom, double p, double gap_s)
{
	const struct jst_sensor *s = &dom->sensor;
	double miss = jst_sensor_power_spread(s) * gap_s;
	/* A mean's own refresh runs half a refresh past its reading, and is its
	 * own: only the time after it is unseen. */
	if (dom->desc.method == JST_METHOD_POWER && dom->desc.power_mean)
		miss = jst_power_mean_unseen(dom, p, gap_s - 0.5 * jst_sensor_refresh(s)) +
		       jst_power_mean_shift(dom, dom->t_err_ns);
	/* Unseen for longer than two refreshes, the device has had time to
	 * draw anything: what the recent power's range says holds for those
	 * two, beyond them anything up to the bound (a stalled BMC over a run's
	 * last seconds). */
	double r = jst_sensor_refresh(s);
	if (r > 0 && gap_s > 2 * r) {
		double unseen = jst_sensor_power_away(s, p) * (gap_s - 2 * r);
		if (unseen > miss)
			miss = unseen;
	}
	return miss;
}

/* An edge taken before the domain's first good reading, once it is in: the
 * integration starts from 0 at that reading's instant. A reading after the
 * edge: the edge is that much before it, at its power, and settled so. A
 * reading before the edge (a mean stamped at its refresh's middle): bridged
 * forward from it, as an edge after a reading is, and settled on the next. */
static void unprimed_place(const struct jst_dom *dom, struct jst_edge *e)
{
	const struct jst_integrator *in = &dom->integ;
	if (!in->primed || dom->failed || isnan(in->power_w))
		return;
	double gap = (double)(in->t_ns > e->t_ns ? in->t_ns - e->t_ns : e->t_ns - in->t_ns) * 1e-9;
	double miss = jst_power_bridge_miss(dom, in->power_w, gap);
	e->unprimed = 0;
	e->u_j += miss;
	if (in->t_ns > e->t_ns) {
		e->energy_j = in->energy_j - in->power_w * gap;
		e->unsettled = 0;
	} else {
		e->energy_j = in->energy_j + in->power_w * gap;
		e->bridge_spread_j = miss;
	}
}

void jst_power_edge_settle(const struct jst_dom *dom, struct jst_edge *e)
{
	const struct jst_integrator *in = &dom->integ;
	if (e->unprimed) {
		unprimed_place(dom, e);
		return;
	}
	int64_t t0 = dom->prev_reading.t_ns, t1 = in->t_ns;
	if (e->mean_part) {
		/* Stated again as the figure is formed: the power (and with it
		 * the top of the range, where it passed the bound) may have
		 * moved. */
		if (!dom->failed)
			e->u_j = e->mean_base_u_j + jst_power_mean_part(dom, e->mean_m, e->mean_f);
		return;
	}
	if (!e->unsettled || dom->failed || !in->primed || t1 <= e->t_ns || t0 == 0 || t0 > e->t_ns)
		return;
	double w0 = dom->prev_reading.power_w;
	double dt = (double)(t1 - t0) * 1e-9, x = (double)(e->t_ns - t0) * 1e-9;
	double r = jst_sensor_refresh(&dom->sensor);
	e->u_j -= e->bridge_spread_j;
	if (e->u_j < 0)
		e->u_j = 0;
	if (dom->desc.power_mean && dt <= 1.5 * r) {
		/* Consecutive means: the step between them, each refresh's ending
		 * halfway (the trapezoid's value at both readings). */
		double mid = 0.5 * dt, m = x < mid ? w0 : in->power_w;
		e->energy_j = dom->prev_reading.energy_j +
		              (x < mid ? w0 * x : w0 * mid + in->power_w * (x - mid));
		/* Where the edge lies in its refresh: from its reading's middle. */
		double f = 0.5 + (x < mid ? x : x - dt) / r;
		e->u_j += jst_power_mean_shift(dom, dom->t_err_ns);
		e->mean_part = 1;
		e->mean_m = m;
		e->mean_f = f;
		e->mean_base_u_j = e->u_j;
		e->u_j += jst_power_mean_part(dom, m, f);
	} else {
		double f = x / dt;
		double w = w0 + (in->power_w - w0) * f;
		e->energy_j = dom->prev_reading.energy_j + 0.5 * (w0 + w) * x;
		/* Means further apart than a refresh and a half (a daemon's
		 * client reading slower than the analyser samples: the means
		 * between came as one energy) say nothing of where in that span
		 * the energy lay: the edge's side of it is unseen from the nearer
		 * reading. Without it, a 400 W step 35 ms from a 370 ms client's
		 * edge put the truth 1.4 times outside the figure's +-. */
		if (dom->desc.power_mean) {
			double near = x < dt - x ? x : dt - x;
			e->u_j += jst_power_mean_unseen(dom, w, near) +
			          jst_power_mean_shift(dom, dom->t_err_ns);
		}
	}
	e->unsettled = 0;
}
