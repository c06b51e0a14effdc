/* --interval: back-to-back windows on a second thread. Each next window is
 * begun before the current one ends, so the intervals cover the run with
 * nothing left out (they overlap by the time of one reading). */
#include "interval.h"
#include "forward.h"
#include "sinks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct jst_interval {
	jst_meter *meter;
	int64_t period_ns;
	FILE *rows;
	int *header;
	unsigned *serial;
	struct jst_interval_writer writer; /* put NULL: none */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;
	int error;
	int64_t t0_ns; /* begin of the first window: the rows' time origin */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void window_name(char *buf, size_t len, unsigned serial)
{
	snprintf(buf, len, "interval-%u", serial);
}

/* A finished interval: its row, then the writer; nothing of it is kept. */
static void emit(struct jst_interval *iv, jst_measurement *m)
{
	if (iv->rows) {
		if (!*iv->header) {
			jst_sink_text_interval_header(iv->rows, m);
			*iv->header = 1;
		}
		jst_sink_text_interval_row(iv->rows, m,
		                           (double)(jst_measurement_end_ns(m) - iv->t0_ns) * 1e-9);
	}
	if (iv->writer.put)
		iv->writer.put(iv->writer.ctx, m);
	jst_measurement_free(m);
}

/* End window `cur`, having begun `next` first unless this is the last one. */
static int rotate(struct jst_interval *iv, unsigned cur, int last)
{
	char name[32], next[32];
	window_name(name, sizeof name, cur);
	if (!last) {
		window_name(next, sizeof next, cur + 1);
		int rc = jst_window_begin(iv->meter, next);
		if (rc)
			return rc;
	}
	jst_measurement *m = NULL;
	int rc = jst_window_end(iv->meter, name, &m);
	if (rc)
		return rc;
	emit(iv, m);
	return 0;
}

static void *interval_main(void *arg)
{
	struct jst_interval *iv = arg;
	unsigned cur = *iv->serial;
	int64_t next = iv->t0_ns;

	pthread_mutex_lock(&iv->mu);
	for (;;) {
		next += iv->period_ns;
		/* Ticks missed while joulestat was stopped (Ctrl-Z, a debugger) or
		 * starved are skipped: catching up would only add windows of no length. */
		int64_t now = now_ns();
		if (next <= now)
			next = now + iv->period_ns;
		struct timespec ts = {.tv_sec = next / 1000000000LL,
		                      .tv_nsec = next % 1000000000LL};
		while (!iv->stop && pthread_cond_timedwait(&iv->cond, &iv->mu, &ts) != ETIMEDOUT)
			;
		int last = iv->stop;
		pthread_mutex_unlock(&iv->mu);
		int rc = rotate(iv, cur, last);
		pthread_mutex_lock(&iv->mu);
		if (rc) {
			iv->error = rc;
			break;
		}
		cur++;
		if (last)
			break;
	}
	*iv->serial = cur;
	pthread_mutex_unlock(&iv->mu);
	return NULL;
}

int jst_interval_start(jst_meter *meter, unsigned period_ms, FILE *rows, int *header,
                       unsigned *serial, const struct jst_interval_writer *writer,
                       struct jst_interval **out)
{
	struct jst_interval *iv = calloc(1, sizeof *iv);
	if (!iv)
		return -ENOMEM;
	*iv = (struct jst_interval){.meter = meter,
	                            .period_ns = (int64_t)period_ms * 1000000,
	                            .rows = rows,
	                            .header = header,
	                            .serial = serial,
	                            .writer = writer ? *writer : (struct jst_interval_writer){0}};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the meter's clock */
	pthread_mutex_init(&iv->mu, NULL);
	pthread_cond_init(&iv->cond, &ca);
	pthread_condattr_destroy(&ca);

	char name[32];
	window_name(name, sizeof name, *serial);
	iv->t0_ns = now_ns();
	int rc = jst_window_begin(meter, name);
	if (rc == 0) {
		/* Forwarded signals belong to the main thread, which waits for the command. */
		jst_forward_block();
		rc = -pthread_create(&iv->thread, NULL, interval_main, iv);
		jst_forward_unblock();
		if (rc)
			jst_window_cancel(meter, name);
	}
	if (rc) {
		pthread_cond_destroy(&iv->cond);
		pthread_mutex_destroy(&iv->mu);
		free(iv);
		return rc;
	}
	*out = iv;
	return 0;
}

int jst_interval_stop(struct jst_interval *iv)
{
	pthread_mutex_lock(&iv->mu);
	iv->stop = 1;
	pthread_cond_signal(&iv->cond);
	pthread_mutex_unlock(&iv->mu);
	pthread_join(iv->thread, NULL);

	int rc = iv->error;
	if (iv->error) {
		/* A window may be left open after a failed rotation. */
		char name[32];
		window_name(name, sizeof name, *iv->serial);
		jst_window_cancel(iv->meter, name);
		window_name(name, sizeof name, *iv->serial + 1);
		jst_window_cancel(iv->meter, name);
	}
	pthread_cond_destroy(&iv->cond);
	pthread_mutex_destroy(&iv->mu);
	free(iv);
	return rc;
}
