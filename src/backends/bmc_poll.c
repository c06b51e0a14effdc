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
	uint64_t seq;      /* good answers so far */
	uint64_t fail_seq; /* failed polls so far */
	int fails_in_row;
	char error[JST_NOTE_MAX];
	/* The reads' side (read() calls are serialised by the core). */
	uint64_t seen_seq, seen_fail;
	struct jst_bmc_value *scratch;
};

static void *poll_main(void *arg)
{
	struct jst_bmc_poll *p = arg;
	int64_t next = jst_backend_now_ns();
	while (!atomic_load(&p->stop)) {
		next += p->interval_ns;
		char err[JST_NOTE_MAX] = "";
		int r = p->fetch(p->arg, p->scratch, p->n, err, sizeof err);
		pthread_mutex_lock(&p->mu);
		if (r == 0) {
			memcpy(p->latest, p->scratch, p->n * sizeof *p->latest);
			p->seq++;
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

struct jst_bmc_poll *jst_bmc_poll_start(size_t n, double interval_s, jst_bmc_fetch_fn fetch,
                                        void *arg, const struct jst_bmc_value *first)
{
	struct jst_bmc_poll *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->latest = calloc(n ? n : 1, sizeof *p->latest);
	p->scratch = calloc(n ? n : 1, sizeof *p->scratch);
	if (!p->latest || !p->scratch)
		goto fail;
	memcpy(p->latest, first, n * sizeof *first);
	p->n = n;
	p->fetch = fetch;
	p->arg = arg;
	p->interval_ns = (int64_t)llround(interval_s * 1e9);
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
	free(p);
}

int jst_bmc_poll_stopping(const struct jst_bmc_poll *p)
{
	return atomic_load(&p->stop);
}

void jst_bmc_poll_fill(struct jst_bmc_poll *p, const struct jst_domain_desc *desc,
                       struct jst_raw *out, size_t n, const char *what)
{
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
		} else if (seq != p->seen_seq && !isnan(x->power_w)) {
			r->power_w = x->power_w;
		} else {
			r->status = JST_RAW_UNCHANGED;
		}
	}
	if (!say_fail)
		p->seen_seq = seq;
	p->seen_fail = fail;
	pthread_mutex_unlock(&p->mu);
}
