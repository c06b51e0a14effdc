/*
 * Reading and folding. Each backend is read under its own I/O lock, outside
 * the meter's lock, so that device I/O never holds up window calls on other
 * threads; the values are then folded into the domains under the meter's lock
 * (still holding the I/O lock, so that one backend's readings fold in the
 * order they were taken).
 *
 * Folding is where the sensor model turns raw values into energy:
 *  - counters: wraps extended, jumps judged against the time since the value
 *    last changed, resets and implausible jumps bridged from power, energy
 *    between latches interpolated from power;
 *  - power readings: integrated, with the variance of the sampling kept;
 *  - a failed reading is skipped (transient) or ends the domain (the device or
 *    zone is gone); a value that stops changing while the device draws power
 *    is reopened or flagged.
 */
#include "meter_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* The longest wait after a stall across wraps for the power after it. */
#define JST_STALL_WAIT_MAX_S 1.0
/* A counter that has not changed for this many refreshes (and at least
 * JST_STUCK_MIN_NS) while its device draws power is stuck. */
#define JST_STUCK_REFRESHES 50
#define JST_STUCK_MIN_NS 2000000000LL
/* Power below this is no evidence that a device is drawing any. */
#define JST_STUCK_MIN_W 1.0

static int permanent(int status)
{
	return status == -ENODEV || status == -ENOENT;
}

static void dom_fail(struct jst_dom *dom, int64_t t, const char *error, int status)
{
	dom->failed = 1;
	/* The figure ends at the last good reading: what it measured; or at the
	 * last edge held after it, which windows already count (their rows then
	 * add up to the window around them, and a window begun there is not
	 * said to end before its begin). */
	dom->failed_t_ns = dom->held_t_ns > dom->last_t_ns ? dom->held_t_ns
	                   : dom->last_t_ns                ? dom->last_t_ns
	                                                   : t;
	/* A power domain's edges after its last reading were bridged with its
	 * power (edge_take): its energy is taken on to the last of them as they
	 * counted it, with the same miss. Else a window begun after that reading
	 * (a BMC's means stand a refresh back) would end before its begin, at
	 * 0 J, while its rows had counted the bridged time. */
	const struct jst_sensor *s = &dom->sensor;
	if (dom->desc.method == JST_METHOD_POWER && dom->last_t_ns &&
	    dom->held_t_ns > dom->last_t_ns && !isnan(s->power_w)) {
		double gap = (double)(dom->held_t_ns - dom->last_t_ns) * 1e-9;
		double e = s->power_w * gap;
		dom->energy_j += e;
		dom->bridged_j += e;
		dom->bridge_u_j += jst_power_bridge_miss(dom, s->power_w, gap);
		dom->bridges++;
	}
	dom->peak_fresh = 0;
	if (error && error[0])
		snprintf(dom->failure, sizeof dom->failure, "%s", error);
	else
		snprintf(dom->failure, sizeof dom->failure, "%s: %s", dom->desc.name,
		         jst_strerror(status));
}

/* Energy over (from, to] that a counter cannot tell: bridged from the power
 * the sensor knows. from: the instant the counter's last value stood for (its
 * latch: what was interpolated past it is no part of the counter's value); to:
 * the instant its new value stands for. raw_since_reset_j: what a counter that
 * restarted from zero shows now (NaN when it did not restart). */
static void bridge(struct jst_dom *dom, int64_t from, int64_t to, int64_t to_err,
                   double raw_since_reset_j)
{
	const struct jst_sensor *s = &dom->sensor;
	double dt = to > from ? (double)(to - from) * 1e-9 : 0;
	double p = s->power_w;
	double e, u;
	if (isnan(p)) {
		/* Nothing known of the power: the counter's own word, or nothing. */
		e = isnan(raw_since_reset_j) ? 0 : raw_since_reset_j;
		u = s->bound_w * dt;
	} else {
		double gap = dt;
		e = 0;
		if (!isnan(raw_since_reset_j)) {
			/* Energy since the reset is the counter's; only the time
			 * before it is bridged. */
			e = raw_since_reset_j;
			gap = p > 0 ? dt - raw_since_reset_j / p : 0;
			if (gap < 0)
				gap = 0;
		}
		e += p * gap;
		/* Where the new value stands is known to within to_err. */
		u = jst_sensor_power_spread(s) * gap + 0.1 * p * gap + p * (double)to_err * 1e-9;
	}
	dom->bridged_j += e;
	dom->bridge_u_j += u;
	dom->bridges++;
}

/* A counter that restarted at 0 somewhere in a bracket (the restart was taken
 * at its middle) shows, at its first latch since, what it counted since the
 * restart: the restart lay that energy's time before the latch, at the power
 * the sensor knows. What was bridged up to it is moved there (within the
 * bracket, as stated). */
static void restart_place(struct jst_dom *dom, double since_j)
{
	const struct jst_sensor *s = &dom->sensor;
	double p = s->power_w;
	if (p > 0) {
		double at = (double)s->latch_ns - since_j / p * 1e9;
		if (at < (double)dom->restart_lo_ns)
			at = (double)dom->restart_lo_ns;
		if (at > (double)dom->restart_hi_ns)
			at = (double)dom->restart_hi_ns;
		double move = p * (at - (double)dom->restart_at_ns) * 1e-9;
		dom->bridged_j += move;
		/* Stated again where it lands: a window that ends after this
		 * reading and began after the restart sees the move whole. */
		dom->bridge_u_j += fabs(move);
		dom->counter_j = (double)dom->counter.ext * dom->desc.unit_j + dom->bridged_j;
	}
	dom->restart_at_ns = 0;
}

/* The longest the counter's value can have taken from the latch of the value
 * the previous reading showed to one read at t: the time since that reading,
 * and before it back to the latch, which lies within the bracket of its
 * change and no more than a refresh before the reading (1 s while the refresh
 * is not known). */
static double wrap_span_s(const struct jst_dom *dom, int64_t t)
{
	const struct jst_sensor *s = &dom->sensor;
	double back_s = s->refresh_s > 0 ? s->refresh_s : 1.0;
	double bracket_s = (double)(dom->last_t_ns - s->chg_lo) * 1e-9;
	if (s->chg_lo > 0 && bracket_s < back_s)
		back_s = bracket_s;
	return (double)(t - dom->last_t_ns) * 1e-9 + back_s;
}

/* The most a counter read at t can have counted since the previous reading's
 * value was latched: what decides whether a gap is ambiguous across wraps
 * (infer_wraps) and so whether a reading waits for the power after it
 * (stall_wait_ns). */
static double wrap_reach_j(const struct jst_dom *dom, int64_t t)
{
	const struct jst_sensor *s = &dom->sensor;
	return 1.5 * s->bound_w * wrap_span_s(dom, t) + 2 * s->resolution_j;
}

/* Wraps a long gap may hide. Where the bound allows more than one count
 * (max_j reaches a further pass of the modulus), the counter alone cannot
 * tell which: the count that best matches the power before the gap is taken
 * for now (wraps_settle takes the power after it into account once the
 * counter shows it), and every count the bound allows is stated in the ±,
 * since nothing seen excludes a power that moved anywhere during the gap. */
static void infer_wraps(struct jst_dom *dom, int64_t t, double max_j, uint64_t delta)
{
	const struct jst_domain_desc *d = &dom->desc;
	const struct jst_sensor *s = &dom->sensor;
	if (!d->modulus)
		return; /* a 64-bit counter never wraps */
	double range_j = (double)d->modulus * d->unit_j;
	double delta_j = (double)delta * d->unit_j;
	/* Wraps before the previous reading were counted there: only the time
	 * since it (and the refresh its value may have been latched in before
	 * it) can hide more. max_j runs from the value's last change, which a
	 * value that came round to where it was (a whole modulus, or none)
	 * would leave before the gap, counting the gap again at each reading. */
	double since_j = wrap_reach_j(dom, t);
	if (dom->last_t_ns && since_j < max_j)
		max_j = since_j;
	if (max_j < range_j + delta_j)
		return; /* one count fits: the counter's own */
	double kmax = floor((max_j - delta_j) / range_j);
	if (kmax > 1e6)
		kmax = 1e6; /* no real gap; the count stays an int */
	double p0 = s->power_w;
	double gap_s = (double)(t - s->latch_ns) * 1e-9;
	/* Nothing known of the power: the counter's own word, as for a reset. */
	double k = isnan(p0) ? 0 : nearbyint((p0 * gap_s - delta_j) / range_j);
	k = k < 0 ? 0 : k > kmax ? kmax : k;
	dom->bridged_j += k * range_j;
	dom->bridge_u_j += (k > kmax - k ? k : kmax - k) * range_j;
	dom->bridges++;
	dom->wrap_gaps++;
	dom->wrap_max += (unsigned)kmax;
	dom->wrap_taken += (unsigned)k;
	dom->wrap_pending = 1;
	dom->wrap_k = (int)k;
	dom->wrap_kmax = (int)kmax;
	dom->wrap_p0_w = p0;
	dom->wrap_delta_j = delta_j;
	dom->wrap_from_ns = s->latch_ns;
	dom->wrap_latch_ns = 0; /* set once the gap's own latch is placed */
}

/* The counter has shown the power after an ambiguous gap (over a span long
 * enough for the sensor's own power): the gap's count taken again from the
 * mean of the powers before and after it. A power that stepped during the
 * gap is what the power before it alone misjudges by whole wraps. The move
 * is stated again where it lands, as a restart's is. */
static void wraps_settle(struct jst_dom *dom)
{
	const struct jst_domain_desc *d = &dom->desc;
	struct jst_sensor *s = &dom->sensor;
	double span_s = (double)(s->latch_ns - dom->wrap_latch_ns) * 1e-9;
	/* Half the span the reading after a stall waits (stall_wait_ns): a
	 * latch lands up to a refresh before the reading. */
	double min_s = jst_sensor_refresh(s);
	if (min_s < 0.5 * (double)JST_POWER_SPAN_NS * 1e-9)
		min_s = 0.5 * (double)JST_POWER_SPAN_NS * 1e-9;
	if (span_s < min_s)
		return;
	dom->wrap_pending = 0;
	double p1 = (double)(dom->counter.ext - dom->wrap_ext) * d->unit_j / span_s;
	double p = isnan(dom->wrap_p0_w) ? p1 : 0.5 * (dom->wrap_p0_w + p1);
	double range_j = (double)d->modulus * d->unit_j;
	double k = nearbyint((p * dom->wrap_t_s - dom->wrap_delta_j) / range_j);
	k = k < 0 ? 0 : k > dom->wrap_kmax ? dom->wrap_kmax : k;
	if ((int)k == dom->wrap_k)
		return;
	double move = (k - dom->wrap_k) * range_j;
	dom->bridged_j += move;
	dom->bridge_u_j += fabs(move);
	dom->wrap_taken = dom->wrap_taken + (unsigned)k - (unsigned)dom->wrap_k;
	dom->wrap_k = (int)k;
	/* The sensor's next span starts after the gap: it moves with it, as do
	 * the latches since (a window's edge is evaluated between them) and the
	 * energy on show, down as well as up: the gap's count, not a reading,
	 * was wrong. */
	if (s->have_anchor && s->anchor_ns >= dom->wrap_latch_ns)
		s->anchor_j += move;
	for (unsigned h = 0; h < dom->nhist; h++)
		if (dom->hist[h].latch_ns >= dom->wrap_latch_ns)
			dom->hist[h].counter_j += move;
	dom->energy_j += move;
	dom->counter_j = (double)dom->counter.ext * d->unit_j + dom->bridged_j;
}

static void counter_stuck_check(struct jst_dom *dom, int64_t t)
{
	const struct jst_sensor *s = &dom->sensor;
	if (s->refresh_source == JST_REFRESH_UNKNOWN || dom->stuck_now)
		return;
	int64_t still = t - s->chg_hi;
	if (still < JST_STUCK_MIN_NS)
		return; /* below any limit: the usual reading, without the arithmetic */
	int64_t limit = (int64_t)(JST_STUCK_REFRESHES * s->refresh_s * 1e9);
	if (limit < JST_STUCK_MIN_NS)
		limit = JST_STUCK_MIN_NS;
	if (still < limit || !(s->power_w > JST_STUCK_MIN_W))
		return;
	/* Core and uncore planes really do idle at zero. */
	if (dom->desc.kind == JST_KIND_CORE || dom->desc.kind == JST_KIND_UNCORE)
		return;
	dom->stuck_now = 1;
	dom->stucks++;
	dom->reopen = 1;
}

/* A latch into the history ring, its latest latch kept up to date: latches
 * come in order but for the grid's corrections, so a rescan is rare. */
static void hist_push(struct jst_dom *dom, int64_t latch_ns, int64_t alt_ns, double counter_j)
{
	int64_t evicted = dom->hist[dom->ihist].latch_ns;
	int full = dom->nhist == JST_LATCH_HISTORY;
	dom->hist[dom->ihist].latch_ns = latch_ns;
	dom->hist[dom->ihist].alt_ns = alt_ns;
	dom->hist[dom->ihist].counter_j = counter_j;
	dom->ihist = (dom->ihist + 1) % JST_LATCH_HISTORY;
	if (!full)
		dom->nhist++;
	if (dom->nhist == 1 || latch_ns >= dom->hist_max_ns) {
		dom->hist_max_ns = latch_ns;
	} else if (full && evicted == dom->hist_max_ns) {
		dom->hist_max_ns = dom->hist[0].latch_ns;
		for (unsigned k = 1; k < dom->nhist; k++)
			if (dom->hist[k].latch_ns > dom->hist_max_ns)
				dom->hist_max_ns = dom->hist[k].latch_ns;
	}
}

/* A hardware counter whose refresh is not known yet (being measured, or
 * measuring gave up on a busy machine): no grid says where its latches lie,
 * but each change's bracket does (the measuring reads are 2 ms apart). Its
 * edges are formed as a gridded counter's are, so that a window evaluates
 * them between latches (with the grid once it is learnt), not as the value on
 * show: a window between two latches would read 0 J and the next one a whole
 * refresh, and an edge read before the refresh was learnt would never count
 * what accrued since its latch. */
static int refresh_unknown(const struct jst_sensor *s)
{
	return s->interpolate && s->refresh_ns == 0;
}

/* The latch of the value on show where no grid places it: the middle of its
 * change's bracket, at most the assumed refresh wide (the sensor takes the
 * reading itself, for a counter too fast to model). */
static int64_t bracket_latch(const struct jst_sensor *s)
{
	int64_t lo = s->chg_lo, hi = s->chg_hi;
	int64_t r = (int64_t)(JST_REFRESH_ASSUMED_S * 1e9);
	if (hi - lo > r)
		lo = hi - r;
	return lo + (hi - lo) / 2;
}

/* Was this fold of a counter a clean one, its reading good and its value
 * continuing the last (no reset, jump, bridge, unseen span, stall or reopen),
 * so that its grid may say when the value can next change? */
static int fold_clean(const struct jst_dom *dom, int first, enum jst_counter_event ev,
                      unsigned bridges0, double unseen_u0, double unseen_s0)
{
	return !first && ev != JST_COUNTER_DISCONTINUITY && dom->bridges == bridges0 &&
	       dom->unseen_u_j == unseen_u0 && dom->unseen_s == unseen_s0 && !dom->restart_at_ns &&
	       !dom->stuck_now && !dom->reopen && dom->reopened == dom->reopened_seen &&
	       dom->desc.method == JST_METHOD_COUNTER;
}

static void fold_counter(struct jst_dom *dom, const struct jst_raw *raw, int64_t t, int hold)
{
	const struct jst_domain_desc *d = &dom->desc;
	struct jst_sensor *s = &dom->sensor;
	if (d->modulus && raw->counter >= d->modulus) {
		/* Garbage, not a value: the next reading counts. */
		dom->transient++;
		snprintf(dom->transient_error, sizeof dom->transient_error,
		         "%s: %llu is outside the counter's range", d->name,
		         (unsigned long long)raw->counter);
		return;
	}
	int first = !dom->counter.primed;
	uint64_t last = dom->counter.last;
	unsigned bridges0 = dom->bridges;
	double unseen_u0 = dom->unseen_u_j, unseen_s0 = dom->unseen_s;
	int changed = !first && raw->counter != last;
	/* The plausibility bound judges a wrapping counter's step and bounds a
	 * reset; a 64-bit counter that did not fall needs none (the commonest
	 * reading: the value as before). */
	int bounded = !first && (d->modulus || raw->counter < last);
	double max_j = bounded ? jst_sensor_max_energy(s, t) : 0;
	uint64_t delta = 0;
	enum jst_counter_event ev = JST_COUNTER_OK;
	if (first || changed || d->modulus) {
		double units = max_j / d->unit_j;
		uint64_t max_delta =
		    !bounded || units >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)units + 1;
		ev = jst_counter_update(&dom->counter, raw->counter, max_delta, &delta);
	}
	/* else the value as before, in range: jst_counter_update would find no
	 * step and change nothing. */
	if (ev == JST_COUNTER_DISCONTINUITY) {
		/* Fell back (a reset: it counts again from zero) or jumped further
		 * than any power could take it: the counter's value is continued
		 * from its last latch to the instant the new value stands for. */
		int64_t from = s->latch_ns;
		int at_zero = raw->counter == 0;
		int64_t err = jst_sensor_observe_restart(s, t, raw->t_err_ns, at_zero);
		double since = raw->counter < last ? (double)raw->counter * d->unit_j : NAN;
		bridge(dom, from, s->latch_ns, err, since <= max_j ? since : NAN);
		/* A restart at 0 is placed once the counter shows what it counted
		 * since (restart_place). */
		dom->restart_at_ns = at_zero ? s->latch_ns : 0;
		dom->restart_lo_ns = s->latch_ns - err;
		dom->restart_hi_ns = s->latch_ns + err;
	} else if (!first) {
		infer_wraps(dom, t, max_j, delta);
	}
	/* What the backend could not see, as it states it: stated with what
	 * was bridged. */
	if (raw->unseen_u_j > dom->unseen_u_j) {
		dom->bridge_u_j += raw->unseen_u_j - dom->unseen_u_j;
		dom->unseen_u_j = raw->unseen_u_j;
	}
	if (raw->unseen_s > dom->unseen_s) {
		/* Anything from 0 to the bound, about the power the backend
		 * bridged the span with (its reading's, else the sensor's). */
		double p = !isnan(raw->telemetry_power_w) ? raw->telemetry_power_w : s->power_w;
		p = isnan(p) ? 0 : p;
		dom->bridge_u_j += jst_sensor_power_away(s, p) * (raw->unseen_s - dom->unseen_s);
		dom->unseen_s = raw->unseen_s;
	}
	if (ev == JST_COUNTER_DISCONTINUITY)
		; /* observed by jst_sensor_observe_restart */
	else if (!changed && dom->restart_at_ns)
		jst_sensor_observe_still(s, t, raw->t_err_ns); /* still the restart's 0 */
	else
		jst_sensor_observe(s, t, raw->t_err_ns, changed);
	dom->counter_j = (double)dom->counter.ext * d->unit_j + dom->bridged_j;
	if (ev == JST_COUNTER_DISCONTINUITY) {
		dom->wrap_pending = 0; /* the counter after it is no measure of the power */
	} else if (dom->wrap_pending && !dom->wrap_latch_ns) {
		/* The ambiguous gap's own latch: the power after it counts from here. */
		/* A value that came round to where it was latched no new value:
		 * it stands for the reading's instant. */
		dom->wrap_latch_ns = changed ? s->latch_ns : t;
		dom->wrap_ext = dom->counter.ext;
		dom->wrap_t_s = (double)(dom->wrap_latch_ns - dom->wrap_from_ns) * 1e-9;
		dom->wrap_gap_s += dom->wrap_t_s;
	}
	/* Only a change has a latch to time a span from (the first value's is
	 * anywhere in the refresh before it). */
	if (changed && ev != JST_COUNTER_DISCONTINUITY && dom->restart_at_ns)
		restart_place(dom, raw->counter * d->unit_j);
	if (changed) {
		jst_sensor_counter_latched(s, dom->counter_j);
		if (dom->wrap_pending && dom->wrap_latch_ns && s->latch_ns > dom->wrap_latch_ns)
			wraps_settle(dom);
		dom->stuck_now = 0;
		if (s->span_fresh) {
			dom->peak_cand_w = s->span_power_w;
			dom->peak_cand_ns = s->span_start_ns;
			dom->peak_fresh = 1;
		}
	} else {
		counter_stuck_check(dom, t);
	}
	/* The counter's value plus what accrued since it was latched; never
	 * below an earlier reading, so that no window is negative. */
	double e = dom->counter_j + jst_sensor_interpolate(s, t);
	if (e > dom->energy_j || first)
		dom->energy_j = e;
	/* Its parts, for a window to evaluate the edge again with the latest grid
	 * (window.c): both edges of a figure then rest on the same latches, which
	 * a value held up by an earlier reading would not. */
	/* An edge is evaluated again when its window ends: with the latest grid,
	 * and between the counter's value and its next one where that is known
	 * by then (window.c). Each figure is final when its window ends, so
	 * windows that end at different times agree within their uncertainties,
	 * not exactly. */
	int unknown = refresh_unknown(s);
	int64_t latch = unknown ? bracket_latch(s) : s->latch_ns;
	dom->interp_lazy = unknown || jst_sensor_gridded(s);
	dom->t_err_ns = raw->t_err_ns;
	if (changed)
		hist_push(dom, latch, s->latch_alt_ns, dom->counter_j);
	dom->interp_w = s->power_w;
	dom->interp_spread_w = jst_sensor_power_spread(s);
	dom->interp_lo = s->chg_lo;
	dom->interp_hi = s->chg_hi;
	dom->interp_err = s->chg_err;
	dom->interp_latch = latch;
	/* A restart at 0, until the counter's first value since, stands for the
	 * instant it was placed at, not for a latch of the grid's: an edge on it
	 * is evaluated there (the grid's point in its bracket, which a wide
	 * bracket can hold, would count the time between the two twice or not
	 * at all). */
	dom->interp_extra_ns = 0;
	if (dom->restart_at_ns) {
		dom->interp_latch = dom->restart_at_ns;
		dom->interp_lo = dom->restart_at_ns - 1;
		dom->interp_hi = dom->restart_at_ns;
		dom->interp_err = 0;
		dom->interp_extra_ns = dom->restart_hi_ns - dom->restart_at_ns;
	}
	/* Where the reading itself lies in time, as the backend could tell. */
	dom->edge_u_j =
	    jst_sensor_edge_uncertainty(s) +
	    (isnan(s->power_w) ? s->bound_w : s->power_w) * (double)raw->t_err_ns * 1e-9;
	if (hold && fold_clean(dom, first, ev, bridges0, unseen_u0, unseen_s0))
		dom->hold_until = jst_sensor_hold_until(s, t, raw->t_err_ns);
}

static void fold_power(struct jst_dom *dom, const struct jst_raw *raw, int64_t t)
{
	struct jst_sensor *s = &dom->sensor;
	double w = raw->power_w;
	/* The backend saw the device update slower than declared (a BMC,
	 * bmc_poll.c): the model takes the refresh it keeps, never below the
	 * declared one; the figures' notes say so (window.c). */
	double r = raw->refresh_s > dom->desc.refresh_s ? raw->refresh_s : dom->desc.refresh_s;
	if (raw->refresh_s > 0 && r != s->refresh_s) {
		double lag = fabs(r - jst_sensor_refresh(s));
		if (lag > dom->refresh_lag_s)
			dom->refresh_lag_s = lag;
		dom->refresh_moved_ns = t;
		s->refresh_s = r;
		s->refresh_ns = (int64_t)llround(r * 1e9);
		s->refresh_source =
		    r > dom->desc.refresh_s ? JST_REFRESH_MEASURED : JST_REFRESH_DECLARED;
	}
	if (!(w >= 0) || isinf(w)) {
		dom->transient++;
		snprintf(dom->transient_error, sizeof dom->transient_error,
		         "%s: invalid power reading", dom->desc.name);
		return;
	}
	struct jst_integrator *in = &dom->integ;
	if (in->primed && t > in->t_ns) {
		double dt = (double)(t - in->t_ns) * 1e-9;
		double r = jst_sensor_refresh(s);
		/* A step between two readings lies anywhere in the interval, or in
		 * the refresh before it (a reading shows the value the device took
		 * at its last update): the trapezoid is off by up to half the step
		 * times as much. */
		double u = 0.6 * fabs(w - in->power_w) * (dt + r);
		if (dom->desc.power_mean) {
			/* Means of consecutive refreshes: exact at the readings
			 * (power_edge.c); refreshes between them that no reading
			 * showed are unseen, unless the backend knows their energy
			 * (gap_j). Where readings failed across them (a stalled
			 * meter), the device had time to draw anything: the means'
			 * range speaks for two refreshes and a second, the rest is
			 * stated up to the bound. */
			double miss = nearbyint(dt / r - 1) * r, far = 0;
			double known = 2 * r > 1 ? 2 * r : 1;
			if (dt <= 1.5 * r || !isnan(raw->gap_j))
				miss = 0;
			else if (dom->transient != dom->transient_folded && miss > known) {
				double hi = w > in->power_w ? w : in->power_w;
				far = jst_sensor_power_away(s, hi) * (miss - known);
				miss = known;
			}
			u = jst_power_mean_unseen(dom, 0.5 * (w + in->power_w), miss) + far;
		} else if (dt > 2 * r) {
			/* Sampled slower than the device changes: what happened
			 * between the readings is unseen, anywhere from 0 to the
			 * bound, below the readings as well as above them, and
			 * stated as the spans a backend could not see are (linearly:
			 * a sampler's period can alias with a periodic load, every
			 * reading caught in a burst). */
			dom->bridge_u_j +=
			    (dt - 2 * r) * jst_sensor_power_away(s, 0.5 * (w + in->power_w));
		}
		if (dt > 2 * r && dom->transient && dom->last_t_ns == in->t_ns)
			dom->bridges++; /* a gap left by failed readings */
		dom->var_j2 += u * u;
	}
	int was_primed = in->primed;
	double prev_w = in->power_w;
	if (in->primed && t > in->t_ns) {
		dom->prev_reading.t_ns = in->t_ns;
		dom->prev_reading.power_w = in->power_w;
		dom->prev_reading.energy_j = in->energy_j;
	}
	int64_t t_prev = in->t_ns;
	jst_integrator_add(in, t, w);
	if (dom->desc.power_mean && was_primed && t > t_prev && !isnan(raw->gap_j) &&
	    raw->gap_j >= 0) {
		/* Half of each mean's refresh, and the gap between them as the
		 * backend knows it, for the trapezoid across the gap. */
		double r = jst_sensor_refresh(s), dt = (double)(t - t_prev) * 1e-9;
		if (dt > 1.5 * r) {
			in->energy_j +=
			    0.5 * r * (prev_w + w) + raw->gap_j - 0.5 * (prev_w + w) * dt;
		}
	}
	if (dom->desc.power_mean)
		dom->t_err_ns = raw->t_err_ns; /* the mean's refresh, placed so far */
	dom->transient_folded = dom->transient;
	dom->energy_j = in->energy_j;
	dom->edge_u_j = 0; /* the edge reading is a real reading */
	/* The recent range is of the device's updates, one a refresh: readings
	 * between two updates show the same value again (window edges, many a
	 * refresh), which would crowd the last seconds' range out of it. */
	if (!was_primed || w != prev_w ||
	    t - dom->power_pushed_ns >= (int64_t)(jst_sensor_refresh(s) * 1e9)) {
		jst_sensor_power(s, w, 1);
		dom->power_pushed_ns = t;
	}
	dom->peak_cand_w = w;
	dom->peak_cand_ns = t;
	dom->peak_fresh = 1;
}

static void fold(struct jst_dom *dom, const struct jst_raw *raw, int64_t t, int tele, int hold)
{
	dom->peak_fresh = 0;
	dom->hold_until = 0; /* until a clean counter reading says otherwise */
	if (dom->failed || raw->status == JST_RAW_UNCHANGED)
		return;
	if (raw->status < 0) {
		if (permanent(raw->status)) {
			dom_fail(dom, t, raw->error, raw->status);
			return;
		}
		dom->transient++;
		if (raw->error[0])
			snprintf(dom->transient_error, sizeof dom->transient_error, "%s",
			         raw->error);
		else
			snprintf(dom->transient_error, sizeof dom->transient_error, "%s",
			         jst_strerror(raw->status));
		return;
	}
	if (dom->desc.method == JST_METHOD_POWER) {
		fold_power(dom, raw, t);
	} else {
		fold_counter(dom, raw, t, hold);
		dom->reopened_seen = dom->reopened;
		/* The device's own power guides interpolation and bridging. */
		if (!isnan(raw->telemetry_power_w)) {
			jst_sensor_power(&dom->sensor, raw->telemetry_power_w, 1);
			dom->peak_cand_w = raw->telemetry_power_w;
			dom->peak_cand_ns = t;
			dom->peak_fresh = 1;
		}
	}
	dom->last_t_ns = t;
	dom->transient_good = dom->transient;
	jst_sample *l = &dom->latest;
	l->t_ns = t;
	l->energy_j = dom->energy_j;
	l->power_w = isnan(raw->telemetry_power_w) ? dom->sensor.power_w : raw->telemetry_power_w;
	/* A reading of energy alone (a window edge) keeps the last telemetry. */
	if (tele) {
		l->temperature_c = raw->temperature_c;
		l->utilization_pct = raw->utilization_pct;
		l->clock_mhz = raw->clock_mhz;
		l->power_limit_w = raw->power_limit_w;
	}
}

/* 1 when the edge was bridged past the last good reading with the known
 * power (read_backend_once keeps where: a power domain lost after it ends
 * there). */
static int edge_take(const struct jst_dom *dom, struct jst_edge *e, int64_t t, int held)
{
	/* Field by field, not as a literal, which would clear the whole edge
	 * first: the parts that only their flags (lazy, unsettled) let anyone
	 * read are written only where those are set. */
	int edge_power = dom->desc.method == JST_METHOD_POWER && dom->peak_fresh;
	e->energy_j = dom->energy_j;
	e->power_w = edge_power ? dom->peak_cand_w : NAN;
	e->u_j = dom->edge_u_j;
	e->unsettled = 0;
	e->unprimed = 0;
	e->mean_part = 0;
	e->var_j2 = dom->var_j2;
	e->bridged_j = dom->bridged_j;
	e->bridge_u_j = dom->bridge_u_j;
	e->bridges = dom->bridges;
	e->wrap_gaps = dom->wrap_gaps;
	e->wrap_max = dom->wrap_max;
	e->wrap_taken = dom->wrap_taken;
	e->wrap_gap_s = dom->wrap_gap_s;
	e->transient = dom->transient;
	e->stucks = dom->stucks;
	e->reopened = dom->reopened;
	e->failed = dom->failed;
	e->t_ns = t;
	e->t_err_ns = dom->t_err_ns;
	e->settle = JST_SETTLE_DONE;
	e->held = (unsigned char)held;
	/* A domain that is gone ends at its last good reading, evaluated as its
	 * edges are: from the parts that reading left. A held edge is evaluated
	 * from those parts at its own instant. */
	e->lazy = dom->interp_lazy && (dom->last_t_ns == t || dom->failed || held);
	if (e->lazy) {
		e->t_ns = held ? t : dom->failed ? dom->failed_t_ns : dom->last_t_ns;
		e->counter_j = dom->counter_j;
		e->interp_w = dom->interp_w;
		e->spread_w = dom->interp_spread_w;
		e->lo_ns = dom->interp_lo;
		e->hi_ns = dom->interp_hi;
		e->lo_err_ns = dom->interp_err;
		e->latch_ns = dom->interp_latch;
		e->extra_ns = dom->interp_extra_ns;
		e->pin_ns = 0;
	}
	if (held) {
		/* The value held, extended from its latch to the edge's instant,
		 * which is the clock's, not a reading's: none of the last reading's
		 * timing error is its. */
		double v = dom->counter_j + jst_sensor_interpolate(&dom->sensor, t);
		e->energy_j = v > dom->energy_j ? v : dom->energy_j;
		e->u_j = jst_sensor_edge_uncertainty(&dom->sensor);
		e->t_err_ns = 0;
	}
	/* This edge's reading failed (transiently): the time since the last good
	 * one is bridged with the power the sensor knows, and said to be. */
	const struct jst_sensor *s = &dom->sensor;
	int bridged = 0;
	e->cut_ns = 0;
	if (!held && !dom->failed && dom->last_t_ns && t > dom->last_t_ns) {
		if (isnan(s->power_w)) {
			/* No power to bridge with (the readings failed too soon
			 * after the meter opened for a span's power): the time's
			 * energy is unknown, and a figure ending here ends at the
			 * last good reading, marked partial, rather than count
			 * none of it as measured. A reading that answers again
			 * brings the counter's whole rise to a later edge. */
			if (dom->transient != dom->transient_good)
				e->cut_ns = dom->last_t_ns;
		} else {
			/* From the last good reading's energy as it was evaluated
			 * at its instant: every edge read while the device fails
			 * to answer then counts the time since, and a window
			 * inside the gap its power x its length (not 0, leaving
			 * the gap to the window that ends after it). */
			bridged = 1;
			double gap = (double)(t - dom->last_t_ns) * 1e-9;
			e->energy_j = dom->energy_j + s->power_w * gap;
			double miss = jst_power_bridge_miss(dom, s->power_w, gap);
			e->u_j += miss;
			/* A polled power reading stands for an instant before
			 * the edge: once one after the edge is folded, the edge
			 * is settled on the integration (power_edge.c). */
			if (dom->desc.method == JST_METHOD_POWER) {
				e->unsettled = 1;
				e->bridge_spread_j = miss;
			}
		}
	}
	/* No good reading yet (the first failed, or a polled meter's has not
	 * come): the integration's zero will be the first reading's instant,
	 * before or after this edge; the edge is placed against it then. */
	if (!held && !dom->failed && dom->desc.method == JST_METHOD_POWER && !dom->integ.primed) {
		e->unsettled = 1;
		e->unprimed = 1;
		e->bridge_spread_j = 0;
	}
	return bridged;
}

/* The instants of a reading's backends, for their mean. */
struct read_instant {
	int64_t base, sum, count;
};

/* base plus the mean of n offsets summing to sum: of one, without the
 * division (a 64-bit one costs more than the rest of a reading's sums). */
static int64_t mean_at(int64_t base, int64_t sum, int64_t n)
{
	return n == 1 ? base + sum : base + sum / n;
}

static int64_t instant_add(struct read_instant *in, int64_t t)
{
	if (in->count++ == 0)
		in->base = t;
	in->sum += t - in->base;
	return mean_at(in->base, in->sum, in->count);
}

/* What a reading does under mu once its last backend is folded, on the
 * reading's instant: a window's begin or end in the same hold of the lock as
 * the fold (window.c), not one more. */
struct read_then {
	void (*fn)(struct jst_meter *m, void *arg, int64_t t);
	void *arg;
};

/* A window edge at t on a backend none of whose counters can have latched
 * since its last reading (jst_sensor_hold_until): each domain's edge formed
 * from the model, as a reading at t would have shown it (the value held,
 * extended from its latch at the known power), under mu and without the
 * backend's lock or a read. The sensors learn nothing from it: no reading was
 * made. Returns 0 where the backend must be read after all (a reading since
 * made or moved the hold). */
static int hold_backend(struct jst_meter *m, struct jst_be *be, struct jst_edge *edges,
                        struct read_instant *instant, const struct read_then *then)
{
	/* No hold (edge_read=always, or a counter that must be read): not even
	 * the clock is read here. */
	if (!atomic_load_explicit(&be->held_until, memory_order_relaxed))
		return 0;
	/* The instant is taken under mu: no reading folds between it and the
	 * edge, so the edge is never older than the state it is formed from (a
	 * thread that waited for the lock would otherwise place its edge before
	 * a reading folded meanwhile, and its window's instant apart from it). */
	pthread_mutex_lock(&m->mu);
	int64_t t = jst_now_ns();
	if (t >= atomic_load_explicit(&be->held_until, memory_order_relaxed)) {
		pthread_mutex_unlock(&m->mu);
		return 0;
	}
	for (size_t j = 0; j < be->ndecl; j++) {
		if (be->map[j] < 0)
			continue;
		size_t i = (size_t)be->map[j];
		struct jst_dom *dom = &m->doms[i];
		/* Never before what was read (a backend's stamp may lie a little
		 * past the clock read here). */
		int64_t td = t > dom->last_t_ns ? t : dom->last_t_ns;
		dom->peak_fresh = 0;
		if (!dom->failed) {
			/* As fold_counter leaves a value as before: extended at the
			 * power known now (the last reading's telemetry came after
			 * its own fold). energy_j, edge_u_j and last_t_ns stay the
			 * last reading's: what a failed reading is bridged from. */
			const struct jst_sensor *sn = &dom->sensor;
			dom->interp_w = sn->power_w;
			dom->interp_spread_w = jst_sensor_power_spread(sn);
		}
		edge_take(dom, &edges[i], td, !dom->failed);
		if (!dom->failed)
			dom->held_t_ns = td;
	}
	m->edges_held++;
	int64_t reading_t = instant_add(instant, t);
	if (then)
		then->fn(m, then->arg, reading_t);
	pthread_mutex_unlock(&m->mu);
	return 1;
}

/* Under mu, after a reading folded: until when the backend's counters hold
 * their values (0: none, or one that must be read). Domains that are gone
 * are read for nothing: they hold nothing back. */
static void hold_update(struct jst_meter *m, struct jst_be *be)
{
	int64_t until = INT64_MAX;
	for (size_t j = 0; j < be->ndecl && until; j++) {
		if (be->map[j] < 0 || m->doms[be->map[j]].failed)
			continue;
		int64_t u = m->doms[be->map[j]].hold_until;
		if (u < until)
			until = u;
	}
	atomic_store_explicit(&be->held_until, until == INT64_MAX ? 0 : until,
	                      memory_order_relaxed);
}

/* A backend not read for long enough that a wrapping counter of it may have
 * passed its modulus more than once (the process was stopped, a VM paused):
 * the wait before the power after the gap is known (0: none stalled). Under
 * be->io, which every write of what it looks at holds. */
static int64_t stall_wait_ns(const struct jst_meter *m, const struct jst_be *be, int64_t t)
{
	int64_t wait = 0;
	for (size_t j = 0; j < be->ndecl; j++) {
		if (be->map[j] < 0)
			continue;
		const struct jst_dom *dom = &m->doms[be->map[j]];
		const struct jst_sensor *s = &dom->sensor;
		if (dom->failed || !dom->desc.modulus || !dom->counter.primed || !dom->last_t_ns)
			continue;
		if (wrap_reach_j(dom, t) < (double)dom->desc.modulus * dom->desc.unit_j)
			continue;
		double r = s->refresh_s > 0 ? s->refresh_s : 1.0;
		/* Long enough for the sensor's own power, a few refreshes. */
		double w = 2 * r > (double)JST_POWER_SPAN_NS * 1e-9
		               ? 2 * r
		               : (double)JST_POWER_SPAN_NS * 1e-9;
		int64_t ns =
		    (int64_t)(w < JST_STALL_WAIT_MAX_S ? w * 1e9 : JST_STALL_WAIT_MAX_S * 1e9);
		if (ns > wait)
			wait = ns;
	}
	return wait;
}

/* One reading of a backend, folded. A reading that ends a stall across wraps
 * (may_stall) is folded without the caller's edges, and another is made a
 * short wait later for them: the power after the gap (wraps_settle) is then
 * known to the reading whose figure it decides, not only to the next. */
static void read_backend_once(struct jst_meter *m, struct jst_be *be, unsigned how,
                              struct jst_edge *edges, struct read_instant *instant,
                              const struct read_then *then, int may_stall)
{
	pthread_mutex_lock(&be->io);
	for (size_t j = 0; j < be->ndecl; j++)
		jst_raw_clear(&be->raw[j]);
	/* A backend that stamps its readings needs no clock read of the core's
	 * around them: on a virtual machine a clock read may cost as much as the
	 * reading itself. */
	int stamps = be->ops->stamps;
	int64_t t0 = stamps ? 0 : jst_now_ns();
	int r = be->ops->read(be->state, be->raw, be->ndecl,
	                      how & JST_READ_TELE ? JST_READ_TELEMETRY : 0);
	int64_t t = stamps ? 0 : t0 + (jst_now_ns() - t0) / 2;
	/* The reading's instant: where the backend stamped its values, their mean
	 * (a thread preempted after the reads must not move it), else the middle
	 * of the call. */
	int64_t base = 0, sum = 0, n = 0;
	/* A mean over a refresh is stamped at the refresh's middle, up to a
	 * refresh before it was read (a power analyser's sample): it places its
	 * own reading, never the reading's instant, which would move a window's
	 * instants, and every other backend's edges with them. */
	for (size_t j = 0; j < be->ndecl; j++)
		if (be->map[j] >= 0 && be->raw[j].t_ns > 0 &&
		    !m->doms[be->map[j]].desc.power_mean) {
			if (n++ == 0)
				base = be->raw[j].t_ns;
			sum += be->raw[j].t_ns - base;
		}
	int64_t t_mid = n ? mean_at(base, sum, n) : stamps ? jst_now_ns() : t;
	if (stamps)
		t = t_mid; /* for the readings that failed unstamped */
	int64_t wait = 0;
	if (may_stall) {
		/* Every window edge until the power after the gap is known waits
		 * for it, not only the reading that found the stall (another
		 * thread's window end, say). The sampler's readings meanwhile
		 * only help measure it. */
		wait = stall_wait_ns(m, be, t_mid);
		if (wait)
			be->stall_until_ns = t_mid + wait;
		else if (be->stall_until_ns > t_mid && (edges || then))
			wait = be->stall_until_ns - t_mid;
	}
	struct read_instant first = {0};
	unsigned how_all = how;
	struct jst_edge *edges_all = edges;
	const struct read_then *then_all = then;
	struct read_instant *instant_all = instant;
	if (wait) {
		how &= JST_READ_TELE;
		edges = NULL;
		then = NULL;
		instant = &first;
	}
	int64_t reading_t = instant_add(instant, t_mid);

	int reopen_any = 0;
	pthread_mutex_lock(&m->mu);
	for (size_t j = 0; j < be->ndecl; j++) {
		if (be->map[j] < 0)
			continue;
		size_t i = (size_t)be->map[j];
		struct jst_dom *dom = &m->doms[i];
		struct jst_raw *raw = &be->raw[j];
		if (r < 0) {
			raw->status = r;
			snprintf(raw->error, sizeof raw->error, "%s: backend %s read failed: %s",
			         dom->desc.name, be->ops->name, jst_strerror(r));
		}
		int64_t td = raw->t_ns > 0 ? raw->t_ns : t;
		fold(dom, raw, td, !!(how & JST_READ_TELE), m->edge_hold);
		if (m->windows) /* none open at most windows' begin */
			jst_windows_fold(m, i, how);
		/* A mean's edge is the reading's instant, bridged from the mean
		 * and settled once a later one is folded (power_edge.c). */
		/* Bridged past the last reading: a loss after it ends here. */
		if (edges && edge_take(dom, &edges[i], dom->desc.power_mean ? t : td, 0) &&
		    dom->desc.method == JST_METHOD_POWER)
			dom->held_t_ns = edges[i].t_ns;
		reopen_any |= dom->reopen;
	}
	if (m->edge_hold)
		hold_update(m, be);
	if (how & JST_READ_HOLD)
		m->edges_read++;
	if (then)
		then->fn(m, then->arg, reading_t);
	pthread_mutex_unlock(&m->mu);

	/* Reopening is the backend's I/O: under its lock, outside the meter's. */
	for (size_t j = 0; reopen_any && j < be->ndecl; j++) {
		if (be->map[j] < 0)
			continue;
		struct jst_dom *dom = &m->doms[be->map[j]];
		pthread_mutex_lock(&m->mu);
		int reopen = dom->reopen;
		dom->reopen = 0;
		pthread_mutex_unlock(&m->mu);
		if (reopen && be->ops->reopen && be->ops->reopen(be->state, j) == 0) {
			pthread_mutex_lock(&m->mu);
			dom->reopened++; /* the next reading resumes the count */
			pthread_mutex_unlock(&m->mu);
		}
	}
	pthread_mutex_unlock(&be->io);
	if (wait) {
		jst_sleep_ns(wait);
		read_backend_once(m, be, how_all, edges_all, instant_all, then_all, 0);
	}
}

static void read_backend(struct jst_meter *m, struct jst_be *be, unsigned how,
                         struct jst_edge *edges, struct read_instant *instant,
                         const struct read_then *then)
{
	if ((how & JST_READ_HOLD) && edges && hold_backend(m, be, edges, instant, then))
		return;
	read_backend_once(m, be, how, edges, instant, then, 1);
}

static int64_t meter_read(struct jst_meter *m, unsigned how, struct jst_edge *edges,
                          const struct read_then *then)
{
	struct read_instant instant = {0};
	for (size_t b = 0; b < m->nactive; b++)
		read_backend(m, &m->backends[m->active[b]], how, edges, &instant,
		             b + 1 == m->nactive ? then : NULL);
	int64_t t =
	    instant.count ? mean_at(instant.base, instant.sum, instant.count) : jst_now_ns();
	if (then && !m->nactive) {
		pthread_mutex_lock(&m->mu);
		then->fn(m, then->arg, t);
		pthread_mutex_unlock(&m->mu);
	}
	if (how & JST_READ_SAMPLER) {
		pthread_mutex_lock(&m->mu);
		for (size_t i = 0; i < m->ndoms; i++)
			if (!m->doms[i].failed)
				jst_series_push(&m->doms[i].series, &m->doms[i].latest);
		pthread_mutex_unlock(&m->mu);
	}
	return t;
}

int64_t jst_meter_read(struct jst_meter *m, unsigned how, struct jst_edge *edges)
{
	return meter_read(m, how, edges, NULL);
}

int64_t jst_meter_read_then(struct jst_meter *m, unsigned how, struct jst_edge *edges,
                            void (*fn)(struct jst_meter *m, void *arg, int64_t t), void *arg)
{
	struct read_then then = {fn, arg};
	return meter_read(m, how, edges, &then);
}

int jst_meter_sensors_measuring(const struct jst_meter *m)
{
	for (size_t i = 0; i < m->ndoms; i++)
		if (m->doms[i].sensor.measuring)
			return 1;
	return 0;
}

void jst_meter_sensors_settle(struct jst_meter *m, int64_t fast_poll_ns)
{
	for (size_t i = 0; i < m->ndoms; i++)
		if (m->doms[i].sensor.measuring)
			jst_sensor_measure_finish(&m->doms[i].sensor, fast_poll_ns);
}
