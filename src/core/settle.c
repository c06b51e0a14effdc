/*
 * Settled window ends (jst_window_end_settled): the end edge is read at the
 * window's end instant t, and the figure is formed once each interpolated
 * counter has latched again after t, so that the end edge, like a long
 * window's begin, lies between two known counter values (window.c
 * edge_energy) instead of being extrapolated from the last latch with a power
 * that may be up to a sampler period old. The wait is bounded: a counter that
 * does not latch within one and a half refreshes of its edge's latch, a domain
 * that fails, or the caller's timeout ends it, and the figure is formed as an
 * immediate end would form it, saying why in its note. Means over a refresh
 * (a power analyser's samples) wait likewise for the first mean stamped after
 * the end, which settles the end on the step of the means (power_edge.c).
 */
#include "meter_internal.h"

#include <errno.h>
#include <time.h>

/* A counter refreshed this often or faster is not waited for: its edge is
 * extrapolated over at most a few ms of power (RAPL's 1 ms). */
#define JST_SETTLE_MIN_REFRESH_S 0.005
/* Means over a refresh longer than this are not waited for (a BMC's 1 s or
 * more, an analyser sampling every second): the next one may take one and a
 * half refreshes, past the default cap; their end stays bridged, and stated. */
#define JST_SETTLE_MAX_MEAN_S 0.5
/* The wait's cap where the caller gives none. */
#define JST_SETTLE_DEFAULT_MS 1000u
/* Polls of a counter per refresh while waiting for its latch, and their
 * spacing's bounds: a latch is seen within a tenth of a refresh of it. */
#define JST_SETTLE_POLLS 10
#define JST_SETTLE_POLL_MIN_NS 1000000LL
#define JST_SETTLE_POLL_MAX_NS 10000000LL

static void real_sleep(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
	/* nanosleep, not clock_nanosleep: macOS has only the former. */
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void (*jst_sleep_ns)(int64_t ns) = real_sleep;

const char *jst_settle_miss_text(unsigned miss)
{
	switch (miss) {
	case JST_SETTLE_TIMEOUT:
		return "end not settled (the wait for the next value timed out): "
		       "the end edge extrapolated from the last";
	case JST_SETTLE_FAILED:
		return "end not settled (its readings failed while waiting for the next "
		       "value): the end edge extrapolated from the last";
	case JST_SETTLE_STILL:
		return "end not settled (the value did not move within 1.5 refreshes): the "
		       "end edge extrapolated from the last";
	case JST_SETTLE_LATE:
		return "end not settled (the next value came more than 1.5 refreshes "
		       "after the last): the end edge bounded by it";
	default:
		return "";
	}
}

/* Does domain i's end edge wait for a later latch? Counters whose latches are
 * modelled, with a known refresh slower than a few ms; and means over a
 * refresh (a power analyser's samples, a BMC's) whose end edge was bridged
 * from the last mean: once a mean stamped after the edge is folded, the edge
 * lies on the step of the means, its refresh's share stated, as a begin's
 * (power_edge.c). */
static int waits(const struct jst_dom *dom, const struct jst_edge *e)
{
	const struct jst_sensor *s = &dom->sensor;
	if (e->failed || dom->failed)
		return 0;
	if (dom->desc.method == JST_METHOD_POWER && dom->desc.power_mean)
		return e->unsettled && jst_sensor_refresh(s) <= JST_SETTLE_MAX_MEAN_S;
	return dom->desc.method == JST_METHOD_COUNTER && e->lazy &&
	       s->refresh_s > JST_SETTLE_MIN_REFRESH_S;
}

/* Past an edge's deadline with no new value: STILL once a read begun after
 * it showed none; FAILED where every read for two polls past it failed (the
 * domain's transient errors: nothing to say whether it moved); else WAIT. */
static unsigned past(const struct jst_edge *e, int64_t deadline, int64_t poll_ns)
{
	if (e->looked_ns > deadline)
		return JST_SETTLE_STILL;
	if (e->tried_ns > deadline + 2 * poll_ns)
		return JST_SETTLE_FAILED;
	return JST_SETTLE_WAIT;
}

/* Under mu: where the wait of a mean's edge stands now. A mean's refresh
 * ends half a refresh after its stamp, and its sample is read within a poll
 * of that: the mean after the edge is seen within one and a half refreshes.
 * It is missing only once a read begun past that has not shown it (the time
 * of the check says nothing: the thread may have been held between the read
 * and it on a loaded machine). */
static unsigned mean_state(const struct jst_dom *dom, struct jst_edge *e, int64_t poll_ns)
{
	if (dom->failed)
		return JST_SETTLE_FAILED;
	if (dom->integ.primed && dom->integ.t_ns > e->t_ns) {
		jst_power_edge_settle(dom, e);
		return e->unsettled ? JST_SETTLE_LATE : JST_SETTLE_DONE;
	}
	int64_t r = (int64_t)(jst_sensor_refresh(&dom->sensor) * 1e9);
	return past(e, e->t_ns + r + r / 2 + poll_ns + e->t_err_ns, poll_ns);
}

/* Under mu: where the wait of edge e stands now. The same rule as
 * edge_energy's: the next value is the earliest latched more than half a
 * refresh after the edge's latch; within one and a half, the edge lies
 * between the two. As a mean's, it is missing once a read begun past that
 * has not shown it. */
static unsigned edge_state(const struct jst_dom *dom, const struct jst_edge *e, int64_t poll_ns)
{
	const struct jst_sensor *s = &dom->sensor;
	if (dom->failed)
		return JST_SETTLE_FAILED;
	int64_t other;
	int64_t l = jst_sensor_latch_of(s, e->lo_ns, e->hi_ns, e->lo_err_ns, jst_edge_seen(e),
	                                e->latch_ns, &other);
	double r = jst_sensor_refresh(s);
	int64_t next = INT64_MAX;
	for (unsigned k = 0; k < dom->nhist; k++) {
		int64_t nl = dom->hist[k].latch_ns;
		if ((double)(nl - l) * 1e-9 > 0.5 * r && dom->hist[k].counter_j > e->counter_j &&
		    nl < next)
			next = nl;
	}
	if (next != INT64_MAX)
		return (double)(next - l) * 1e-9 < 1.5 * r ? JST_SETTLE_DONE : JST_SETTLE_LATE;
	/* A latch inside one and a half refreshes is seen by the poll after it. */
	int64_t deadline = l + (int64_t)(1.5 * r * 1e9) + poll_ns + e->t_err_ns;
	if (dom->stuck_now)
		return JST_SETTLE_STILL;
	return past(e, deadline, poll_ns);
}

static int64_t poll_of(const struct jst_dom *dom)
{
	int64_t p = (int64_t)(jst_sensor_refresh(&dom->sensor) * 1e9) / JST_SETTLE_POLLS;
	return p < JST_SETTLE_POLL_MIN_NS   ? JST_SETTLE_POLL_MIN_NS
	       : p > JST_SETTLE_POLL_MAX_NS ? JST_SETTLE_POLL_MAX_NS
	                                    : p;
}

/* Under mu: the read begun at t is each waiting edge's latest look, unless
 * its domain's reading failed in it (transient: it showed nothing). */
static void looks_begin(struct jst_meter *m, struct jst_edge *edges)
{
	for (size_t i = 0; i < m->ndoms; i++)
		edges[i].look_transient = m->doms[i].transient;
}

static void looks_end(struct jst_meter *m, struct jst_edge *edges, int64_t t)
{
	for (size_t i = 0; i < m->ndoms; i++) {
		if (edges[i].settle != JST_SETTLE_WAIT)
			continue;
		edges[i].tried_ns = t;
		if (m->doms[i].transient == edges[i].look_transient)
			edges[i].looked_ns = t;
	}
}

void jst_settle_wait(struct jst_meter *m, struct jst_edge *edges, int64_t end, unsigned timeout_ms)
{
	int64_t cap = (int64_t)(timeout_ms ? timeout_ms : JST_SETTLE_DEFAULT_MS) * 1000000LL;
	int64_t real0 = jst_real_now_ns();
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->ndoms; i++) {
		edges[i].settle = waits(&m->doms[i], &edges[i]) ? JST_SETTLE_WAIT : JST_SETTLE_DONE;
		edges[i].looked_ns = edges[i].tried_ns = end; /* the end's own reading */
	}
	pthread_mutex_unlock(&m->mu);
	for (;;) {
		int64_t now = jst_now_ns(), poll = JST_SETTLE_POLL_MAX_NS;
		size_t pending = 0;
		pthread_mutex_lock(&m->mu);
		for (size_t i = 0; i < m->ndoms; i++) {
			if (edges[i].settle != JST_SETTLE_WAIT)
				continue;
			struct jst_dom *dom = &m->doms[i];
			int64_t p = poll_of(dom);
			edges[i].settle = (unsigned char)(dom->desc.method == JST_METHOD_POWER
			                                      ? mean_state(dom, &edges[i], p)
			                                      : edge_state(dom, &edges[i], p));
			if (edges[i].settle == JST_SETTLE_WAIT) {
				pending++;
				if (p < poll)
					poll = p;
			}
		}
		pthread_mutex_unlock(&m->mu);
		if (!pending)
			return;
		/* Bounded on the core's clock (virtual in tests) and on the real one
		 * (a core clock that stands still must not hang the caller). */
		int64_t left = cap - (now - end), real_left = cap - (jst_real_now_ns() - real0);
		if (real_left < left)
			left = real_left;
		if (left <= 0) {
			for (size_t i = 0; i < m->ndoms; i++)
				if (edges[i].settle == JST_SETTLE_WAIT)
					edges[i].settle = JST_SETTLE_TIMEOUT;
			return;
		}
		/* Never past the timeout: the last look is at it, not a poll later. */
		jst_sleep_ns(poll < left ? poll : left);
		pthread_mutex_lock(&m->mu);
		looks_begin(m, edges);
		int64_t look = jst_now_ns();
		pthread_mutex_unlock(&m->mu);
		jst_meter_read(m, 0, NULL);
		pthread_mutex_lock(&m->mu);
		looks_end(m, edges, look);
		pthread_mutex_unlock(&m->mu);
	}
}
