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

struct jst_bmc_poll {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	atomic_int stop;
	int64_t interval_ns;
	jst_bmc_fetch_fn fetch;
	void *arg;
	size_t n;
	/* Under mu: the latest good answer and the polls since. */
	struct jst_bmc_value *latest;
	int64_t stamp_ns;  /* the instant latest's power readings stand for */
	uint64_t seq;      /* new readings so far */
	uint64_t fail_seq; /* failed polls so far */
	int fails_in_row;
	char error[JST_NOTE_MAX];
	/* The poll thread's own: the previous answer, and the BMC's update grid. */
	struct jst_bmc_value *prev;
	int64_t prev_t_ns, phase_ns, refresh_ns;
	int have_prev, have_phase;
	/* The reads' side (read() calls are serialised by the core). */
	uint64_t seen_seq, seen_fail;
	struct jst_bmc_value *scratch;
};

/* Where the answer read at t stands in time. The BMC updates its value every
 * refresh R, on a grid whose phase the changes show (each change lies between
 * two polls half a refresh apart); the value is its mean over the refresh that
 * ended at its update, so it stands at that update less half a refresh. With
 * no change seen yet (constant power), the update is taken half a refresh
 * back. */
static int64_t poll_stamp(struct jst_bmc_poll *p, int64_t t)
{
	int64_t r = p->refresh_ns;
	int changed = 0;
	for (size_t i = 0; p->have_prev && i < p->n; i++)
		changed |= p->scratch[i].power_w != p->prev[i].power_w ||
		           p->scratch[i].counter != p->prev[i].counter;
	if (changed && t - p->prev_t_ns <= r) {
		p->phase_ns = p->prev_t_ns + (t - p->prev_t_ns) / 2;
		p->have_phase = 1;
	}
	memcpy(p->prev, p->scratch, p->n * sizeof *p->prev);
	p->prev_t_ns = t;
	p->have_prev = 1;
	int64_t update = p->have_phase ? p->phase_ns + (t - p->phase_ns) / r * r : t - r / 2;
	return update - r / 2;
}

static void *poll_main(void *arg)
{
	struct jst_bmc_poll *p = arg;
	int64_t next = jst_backend_now_ns();
	while (!atomic_load(&p->stop)) {
		next += p->interval_ns;
		char err[JST_NOTE_MAX] = "";
		int64_t t0 = jst_backend_now_ns();
		int r = p->fetch(p->arg, p->scratch, p->n, err, sizeof err);
		int64_t t = t0 + (jst_backend_now_ns() - t0) / 2;
		pthread_mutex_lock(&p->mu);
		if (r == 0) {
			int64_t stamp = poll_stamp(p, t);
			/* A new update (not the one already given), or, on a
			 * grid not yet known, a refresh since the last. */
			if (stamp - p->stamp_ns >= p->refresh_ns * 3 / 4) {
				memcpy(p->latest, p->scratch, p->n * sizeof *p->latest);
				p->stamp_ns = stamp;
				p->seq++;
			}
			p->fails_in_row = 0;
		} else if (!atomic_load(&p->stop)) {
			p->fail_seq++;
			p->fails_in_row++;
			snprintf(p->error, sizeof p->error, "%s", err[0] ? err : strerror(-r));
		}
		int gone = p->fails_in_row >= JST_BMC_GONE_AFTER;
		/* Keep the phase; a fetch slower than the interval is followed at once. */
		int64_t now = jst_backend_now_ns();
		if (next < now)
			next = now;
		struct timespec ts = {.tv_sec = next / 1000000000LL,
		                      .tv_nsec = next % 1000000000LL};
		while (!gone && !atomic_load(&p->stop) &&
		       pthread_cond_timedwait(&p->cond, &p->mu, &ts) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&p->mu);
		if (gone)
			break; /* its domains have ended: nothing more to ask */
	}
	return NULL;
}

struct jst_bmc_poll *jst_bmc_poll_start(size_t n, double refresh_s, jst_bmc_fetch_fn fetch,
                                        void *arg, const struct jst_bmc_value *first,
                                        int64_t first_t_ns)
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
	p->refresh_ns = (int64_t)llround(refresh_s * 1e9);
	/* Twice per refresh: each update is seen within half a refresh, which
	 * places it on the BMC's grid, and readings are never two refreshes apart. */
	p->interval_ns = p->refresh_ns / 2;
	memcpy(p->scratch, first, n * sizeof *first);
	p->stamp_ns = poll_stamp(p, first_t_ns);
	p->seq = 1; /* probe's answer, not yet read */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->mu, NULL);
	if (pthread_create(&p->thread, NULL, poll_main, p) != 0) {
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

void jst_bmc_poll_stop(struct jst_bmc_poll *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, 1);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
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
	char error[JST_NOTE_MAX];
	snprintf(error, sizeof error, "%s", p->error);
	const struct jst_bmc_value *v = p->latest;
	/* A failed poll is said once; an answer that came after it is read next. */
	int say_fail = !gone && fail != p->seen_fail;
	for (size_t i = 0; i < n && i < p->n; i++) {
		const struct jst_bmc_value *x = &v[i];
		struct jst_raw *r = &out[i];
		if (gone) {
			r->status = -ENODEV;
			snprintf(r->error, sizeof r->error,
			         "%.32s: %.48s stopped answering (%d polls): %.40s", desc[i].name,
			         what, JST_BMC_GONE_AFTER, error);
		} else if (say_fail) {
			r->status = -EIO;
			snprintf(r->error, sizeof r->error, "%.32s: %.48s: %.72s", desc[i].name,
			         what, error);
		} else if (desc[i].method == JST_METHOD_COUNTER) {
			/* A counter reads like a register latched at the BMC's last answer. */
			if (!x->have_counter)
				r->status = JST_RAW_UNCHANGED;
			r->counter = x->counter;
		} else if (take && seq != p->seen_seq && !isnan(x->power_w)) {
			r->power_w = x->power_w;
			r->t_ns = p->stamp_ns;
		} else {
			r->status = JST_RAW_UNCHANGED;
		}
	}
	if (!say_fail && take)
		p->seen_seq = seq;
	p->seen_fail = fail;
	pthread_mutex_unlock(&p->mu);
}
