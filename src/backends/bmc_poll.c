/* The poll thread of a BMC backend and the hand-over of its answers to the
 * meter's reads (bmc_poll.h). */
#include "bmc_poll.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Gaps between changes counted before the BMC's own refresh is taken (the
 * first: a 1 s BMC whose power held still for a refresh shows a gap of 2, and
 * its next gap of 1 takes the model back; waiting for more leaves a slower
 * BMC stated on the declared refresh longer, which misses more than that
 * costs: BENCHMARKS.md 3c), and the longest counted, in declared refreshes. */
#define JST_BMC_GAPS 1
#define JST_BMC_GAP_MAX 30

struct jst_bmc_poll {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	atomic_int stop;
	int threaded;         /* 0: stepped by jst_bmc_poll_step (virtual time) */
	int64_t (*now)(void); /* the clock polls are timed by */
	int64_t interval_ns;
	jst_bmc_fetch_fn fetch;
	void *arg;
	size_t n;
	/* Under mu: the latest good answer and the polls since. */
	struct jst_bmc_value *latest;
	int64_t stamp_ns;     /* the instant latest's power readings stand for */
	int64_t stamp_err_ns; /* how far stamp_ns may be from that instant */
	uint64_t seq;         /* new readings so far */
	uint64_t fail_seq;    /* failed polls so far */
	uint64_t fail_after;  /* seq when the latest failed poll was made */
	int fails_in_row;
	char error[JST_ERROR_MAX];
	/* The poll thread's own: the previous answer, and the BMC's update grid. */
	struct jst_bmc_value *prev;
	int64_t prev_t0_ns; /* when the previous fetch began */
	int64_t phase_lo, phase_hi, phase_at_ns, phase_ns;
	int have_prev, have_phase;
	/* The declared refresh (the grid the phase is learnt on), and the one
	 * the readings are modelled with: the declared one, or the interval
	 * the BMC's updates were observed to keep where that is slower. */
	int64_t declared_ns, refresh_ns;
	/* The updates observed: the last change's instant and its bracket's
	 * width, and the gaps between consecutive changes counted by their
	 * length in declared refreshes. */
	int64_t change_ns, change_w_ns;
	unsigned gap_count[JST_BMC_GAP_MAX + 1];
	int have_change, gaps;
	/* The reads' side (read() calls are serialised by the core). */
	uint64_t seen_seq, seen_fail;
	struct jst_bmc_value *scratch;
};

/* How far a BMC's update grid may drift from this host's clock, per second
 * (crystals are good to 100 ppm): a phase learnt long ago widens by this. */
#define JST_BMC_DRIFT 1e-4

/* The BMC's refresh in declared ones, from the gaps counted: the largest k
 * that nearly all of them are whole multiples of (a change placed a refresh
 * off now and then must not halve it); 1 while fewer than JST_BMC_GAPS. */
static int64_t poll_gap_refresh(const struct jst_bmc_poll *p)
{
	unsigned total = 0;
	for (int k = 1; k <= JST_BMC_GAP_MAX; k++)
		total += p->gap_count[k];
	if (total < JST_BMC_GAPS)
		return 1;
	for (int k = JST_BMC_GAP_MAX; k >= 2; k--) {
		unsigned mult = 0;
		for (int j = k; j <= JST_BMC_GAP_MAX; j += k)
			mult += p->gap_count[j];
		if (p->gap_count[k] && 5 * mult >= 4 * total)
			return k;
	}
	return 1;
}

/* A change placed on the grid: how often the BMC updates. Changes lie on its
 * update grid, so two consecutive ones are a whole number of its refreshes
 * apart (of the declared grid's too, where the BMC's refresh is a multiple of
 * the declared one). A gap is counted where the brackets of its two changes
 * leave one whole number of declared refreshes; where four in five gaps are
 * multiples of k > 1 (a BMC that averages over 5 s, declared or assumed at
 * 1 s), the readings are modelled with k declared refreshes: each a mean over
 * that interval, stamped at its middle, one new reading an interval. Power
 * that holds still shows no change and keeps the declared refresh. */
static void poll_observe_change(struct jst_bmc_poll *p)
{
	int64_t d = p->declared_ns, u = p->phase_ns, w = p->phase_hi - p->phase_lo;
	int64_t half = (w + p->change_w_ns) / 2, gap = u - p->change_ns;
	int64_t klo = (gap - half + d - 1) / d, khi = (gap + half) / d;
	if (p->have_change && gap - half > 0 && klo == khi && khi <= JST_BMC_GAP_MAX) {
		p->gap_count[khi]++;
		p->gaps++;
		p->refresh_ns = poll_gap_refresh(p) * d;
	}
	p->change_ns = u;
	p->change_w_ns = w;
	p->have_change = 1;
}

/* Where the answer fetched over [t0, t1] stands in time. The BMC updates its
 * value every refresh R, on a grid whose phase the changes show: a change
 * lies after the previous fetch began and before this one ended. Brackets
 * taken at different phases of the polls are intersected (moved onto each
 * other by whole refreshes), so the grid narrows to the fetches' own spread;
 * a bracket that does not fit (a BMC that skipped or moved its updates)
 * starts again from itself. The value is the BMC's mean over the refresh
 * that ended at its update, so it stands at that update less half a
 * refresh. With no change seen yet (constant power), the update is taken
 * half a refresh back. *changed_out: whether the answer differs from the
 * last. */
static int64_t poll_stamp(struct jst_bmc_poll *p, int64_t t0, int64_t t1, int64_t *err,
                          int *changed_out)
{
	/* The grid is learnt on the declared refresh (a slower BMC's updates
	 * lie on it too); the readings stand on the modelled one. */
	int64_t g = p->declared_ns, r = p->refresh_ns;
	int changed = 0;
	for (size_t i = 0; p->have_prev && i < p->n; i++)
		changed |= p->scratch[i].power_w != p->prev[i].power_w ||
		           p->scratch[i].counter != p->prev[i].counter;
	if (changed && t1 - p->prev_t0_ns <= g) {
		int64_t lo = p->prev_t0_ns, hi = t1;
		if (p->have_phase) {
			int64_t mid = lo + (hi - lo) / 2;
			int64_t old = p->phase_lo + (p->phase_hi - p->phase_lo) / 2;
			int64_t n = (int64_t)llround((double)(mid - old) / (double)g);
			int64_t drift = (int64_t)(JST_BMC_DRIFT * (double)(t1 - p->phase_at_ns));
			int64_t plo = p->phase_lo + n * g - drift,
			        phi = p->phase_hi + n * g + drift;
			if (plo < hi && phi > lo) {
				lo = plo > lo ? plo : lo;
				hi = phi < hi ? phi : hi;
			}
		}
		p->phase_lo = lo;
		p->phase_hi = hi;
		p->phase_at_ns = t1;
		p->phase_ns = lo + (hi - lo) / 2;
		p->have_phase = 1;
		poll_observe_change(p);
		r = p->refresh_ns;
	}
	*changed_out = changed;
	memcpy(p->prev, p->scratch, p->n * sizeof *p->prev);
	p->prev_t0_ns = t0;
	p->have_prev = 1;
	/* The update lies within the grid's bracket (widened by the drift since
	 * it was learnt); with no grid yet, anywhere in the refresh before the
	 * answer came back. */
	if (!p->have_phase) {
		*err = r / 2 + (t1 - t0) / 2;
		return t0 + (t1 - t0) / 2 - r;
	}
	*err = (p->phase_hi - p->phase_lo) / 2 +
	       (int64_t)(JST_BMC_DRIFT * (double)(t1 - p->phase_at_ns));
	/* The last update before the answer came back; where it fell during the
	 * request, the BMC may have answered before it: an unchanged value is
	 * the one before. */
	int64_t k = (t1 - p->phase_ns) / r - (t1 < p->phase_ns);
	int64_t update = p->phase_ns + k * r;
	if (update > t0 && !changed)
		update -= r;
	return update - r / 2;
}

/* One poll: fetch, place the answer in time, hand it over. Under mu on
 * return; the caller unlocks. Returns 1 once the BMC is gone. */
static int poll_once(struct jst_bmc_poll *p)
{
	char err[JST_ERROR_MAX] = "";
	int64_t t0 = p->now();
	int r = p->fetch(p->arg, p->scratch, p->n, err, sizeof err);
	int64_t t1 = p->now();
	pthread_mutex_lock(&p->mu);
	if (r == 0) {
		int64_t err = 0;
		int changed = 0;
		int64_t stamp = poll_stamp(p, t0, t1, &err, &changed);
		/* A new update (not the one already given), or, on a
		 * grid not yet known, a refresh since the last. A changed
		 * value is always new: the change that shows a slower BMC
		 * raises refresh_ns, and measured on it the stamp placed on
		 * the declared one lies less than 3/4 of it back, which held
		 * the new value and the refresh it shows back a whole
		 * refresh (a figure's note said the declared refresh for
		 * that long after the updates had shown it). */
		if (stamp > p->stamp_ns &&
		    (changed || stamp - p->stamp_ns >= p->refresh_ns * 3 / 4)) {
			memcpy(p->latest, p->scratch, p->n * sizeof *p->latest);
			p->stamp_ns = stamp;
			p->stamp_err_ns = err;
			p->seq++;
		}
		p->fails_in_row = 0;
	} else if (!atomic_load(&p->stop)) {
		p->fail_seq++;
		p->fail_after = p->seq;
		p->fails_in_row++;
		snprintf(p->error, sizeof p->error, "%s", err[0] ? err : strerror(-r));
	}
	return p->fails_in_row >= JST_BMC_GONE_AFTER;
}

static void *poll_main(void *arg)
{
	struct jst_bmc_poll *p = arg;
	/* The probe's fetch was the first poll: the next is an interval on. A
	 * poll at once would ask what the probe was just told, while its caller
	 * is still setting up (joulestatd drops its privileges then, which
	 * signals every thread: FreeIPMI fails the request it interrupts). */
	int64_t next = p->now();
	int gone = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		next += p->interval_ns;
		struct timespec ts = {.tv_sec = next / 1000000000LL,
		                      .tv_nsec = next % 1000000000LL};
		while (!gone && !atomic_load(&p->stop) &&
		       pthread_cond_timedwait(&p->cond, &p->mu, &ts) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&p->mu);
		/* Its domains have ended: nothing more to ask. */
		if (gone || atomic_load(&p->stop))
			break;
		gone = poll_once(p);
		/* Keep the phase; a fetch slower than the interval is followed at once. */
		int64_t now = p->now();
		if (next + p->interval_ns < now)
			next = now - p->interval_ns;
	}
	return NULL;
}

int jst_bmc_poll_step(struct jst_bmc_poll *p)
{
	int gone = poll_once(p);
	pthread_mutex_unlock(&p->mu);
	return gone;
}

static struct jst_bmc_poll *poll_start(size_t n, double refresh_s, jst_bmc_fetch_fn fetch,
                                       void *arg, const struct jst_bmc_value *first,
                                       int64_t first_t_ns, int64_t (*now)(void))
{
	struct jst_bmc_poll *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->latest = calloc(n ? n : 1, sizeof *p->latest);
	p->scratch = calloc(n ? n : 1, sizeof *p->scratch);
	p->prev = calloc(n ? n : 1, sizeof *p->prev);
	if (!p->latest || !p->scratch || !p->prev)
		goto fail;
	memcpy(p->latest, first, n * sizeof *first);
	p->n = n;
	p->fetch = fetch;
	p->arg = arg;
	p->now = now ? now : jst_backend_now_ns;
	p->threaded = now == NULL;
	p->refresh_ns = (int64_t)llround(refresh_s * 1e9);
	p->declared_ns = p->refresh_ns;
	/* Twice per refresh: each update is seen within half a refresh, which
	 * places it on the BMC's grid, and readings are never two refreshes apart. */
	p->interval_ns = p->refresh_ns / 2;
	memcpy(p->scratch, first, n * sizeof *first);
	int changed = 0;
	p->stamp_ns = poll_stamp(p, first_t_ns, first_t_ns, &p->stamp_err_ns, &changed);
	p->seq = 1; /* probe's answer, not yet read */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->mu, NULL);
	if (p->threaded && pthread_create(&p->thread, NULL, poll_main, p) != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->mu);
		goto fail;
	}
	return p;
fail:
	free(p->latest);
	free(p->scratch);
	free(p->prev);
	free(p);
	return NULL;
}

struct jst_bmc_poll *jst_bmc_poll_start(size_t n, double refresh_s, jst_bmc_fetch_fn fetch,
                                        void *arg, const struct jst_bmc_value *first,
                                        int64_t first_t_ns)
{
	return poll_start(n, refresh_s, fetch, arg, first, first_t_ns, NULL);
}

struct jst_bmc_poll *jst_bmc_poll_start_stepped(size_t n, double refresh_s, jst_bmc_fetch_fn fetch,
                                                void *arg, const struct jst_bmc_value *first,
                                                int64_t first_t_ns, int64_t (*now)(void))
{
	return poll_start(n, refresh_s, fetch, arg, first, first_t_ns, now);
}

void jst_bmc_poll_stop(struct jst_bmc_poll *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, 1);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	if (p->threaded)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p->latest);
	free(p->scratch);
	free(p->prev);
	free(p);
}

int jst_bmc_poll_stopping(const struct jst_bmc_poll *p)
{
	return atomic_load(&p->stop);
}

void jst_bmc_poll_fill(struct jst_bmc_poll *p, const struct jst_domain_desc *desc,
                       struct jst_raw *out, size_t n, unsigned flags, const char *what)
{
	/* New readings go to the sampler's reads only: they stand a refresh or
	 * so back, and a window's edge must stand at its own instant (it is
	 * bridged from the last reading with the known power). */
	int take = (flags & JST_READ_TELEMETRY) != 0;
	pthread_mutex_lock(&p->mu);
	uint64_t seq = p->seq, fail = p->fail_seq;
	int gone = p->fails_in_row >= JST_BMC_GONE_AFTER;
	char error[JST_ERROR_MAX];
	snprintf(error, sizeof error, "%s", p->error);
	const struct jst_bmc_value *v = p->latest;
	/* A failed poll is said once, in the order the polls were made: an
	 * answer that came after it is read next, and one that came before it
	 * and is not taken yet is taken first. Else a poll that failed just
	 * after the probe (in joulestatd, one interrupted as it drops its
	 * privileges) would leave the first reads with no value at all, where
	 * the probe's answer was waiting. */
	int before = take && seq != p->seen_seq && p->fail_after >= seq;
	int say_fail = !gone && fail != p->seen_fail && !before;
	for (size_t i = 0; i < n && i < p->n; i++) {
		const struct jst_bmc_value *x = &v[i];
		struct jst_raw *r = &out[i];
		if (gone) {
			r->status = -ENODEV;
			snprintf(r->error, sizeof r->error,
			         "%.32s: %.48s stopped answering (%d polls): %.200s", desc[i].name,
			         what, JST_BMC_GONE_AFTER, error);
		} else if (say_fail) {
			r->status = -EIO;
			snprintf(r->error, sizeof r->error, "%.32s: %.48s: %.200s", desc[i].name,
			         what, error);
		} else if (desc[i].method == JST_METHOD_COUNTER) {
			/* A counter reads like a register latched at the BMC's last answer. */
			if (!x->have_counter)
				r->status = JST_RAW_UNCHANGED;
			r->counter = x->counter;
		} else if (take && seq != p->seen_seq && !isnan(x->power_w)) {
			r->power_w = x->power_w;
			r->t_ns = p->stamp_ns;
			r->t_err_ns = p->stamp_err_ns;
			/* Once the updates were seen, the refresh they keep. */
			r->refresh_s = p->gaps >= JST_BMC_GAPS ? (double)p->refresh_ns * 1e-9 : 0;
		} else {
			r->status = JST_RAW_UNCHANGED;
		}
	}
	if (!say_fail && take)
		p->seen_seq = seq;
	if (!before)
		p->seen_fail = fail;
	pthread_mutex_unlock(&p->mu);
}
