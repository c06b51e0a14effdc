/* --interval: one window on a second thread, rotated every period, so that
 * the rows tile the run exactly: each row ends on the reading the next one
 * begins on. */
#include "interval.h"
#include "forward.h"
#include "sinks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct jst_interval {
	jst_meter *meter;
	jst_window *window;
	int64_t period_ns;
	FILE *rows;
	size_t run; /* of the command, 1-based: every row says it */
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
		jst_sink_text_interval_row(iv->rows, m, iv->run,
		                           (double)(jst_measurement_end_ns(m) - iv->t0_ns) * 1e-9);
	}
	if (iv->writer.put)
		iv->writer.put(iv->writer.ctx, m);
	jst_measurement_free(m);
}

/* End the current row; on the last one, end the window itself. */
static int rotate(struct jst_interval *iv, int last)
{
	jst_measurement *m = NULL;
	int rc = last ? jst_window_end(iv->window, &m) : jst_window_rotate(iv->window, &m);
	if (rc)
		return rc;
	if (last) {
		iv->window = NULL;
		++*iv->serial; /* the next run's rows go on from here */
	} else {
		/* The next row's name: rows are numbered across the runs. */
		char name[32];
		window_name(name, sizeof name, ++*iv->serial);
		rc = jst_window_relabel(iv->window, name);
	}
	emit(iv, m);
	return rc;
}

/* Rotates the window every period, under mu: the stopper, which ends the
 * last row, waits for a rotation under way. */
static void *interval_main(void *arg)
{
	struct jst_interval *iv = arg;
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
		if (iv->stop)
			break;
		int rc = rotate(iv, 0);
		if (rc) {
			iv->error = rc;
			break;
		}
	}
	pthread_mutex_unlock(&iv->mu);
	return NULL;
}

int jst_interval_start(jst_meter *meter, unsigned period_ms, FILE *rows, size_t run, int *header,
                       unsigned *serial, const struct jst_interval_writer *writer,
                       struct jst_interval **out)
{
	struct jst_interval *iv = calloc(1, sizeof *iv);
	if (!iv)
		return -ENOMEM;
	*iv = (struct jst_interval){.meter = meter,
	                            .period_ns = (int64_t)period_ms * 1000000,
	                            .rows = rows,
	                            .run = run,
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
	int rc = jst_window_begin(meter, name, &iv->window);
	if (rc == 0) {
		/* Forwarded signals belong to the main thread, which waits for the command. */
		jst_forward_block();
		rc = -pthread_create(&iv->thread, NULL, interval_main, iv);
		jst_forward_unblock();
		if (rc)
			jst_window_cancel(iv->window);
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
	/* The last row ends here, as soon as the caller has ended the run's
	 * window: ended by the rows' own thread, woken late on a loaded machine,
	 * it ran up to 155 ms past the run (40 runs at once) and the rows added
	 * up to more than the run. */
	pthread_mutex_lock(&iv->mu);
	iv->stop = 1;
	if (!iv->error && iv->window) {
		int rc = rotate(iv, 1);
		if (rc)
			iv->error = rc;
	}
	pthread_cond_signal(&iv->cond);
	pthread_mutex_unlock(&iv->mu);
	pthread_join(iv->thread, NULL);

	int rc = iv->error;
	/* The window is left open after a failed rotation. */
	jst_window_cancel(iv->window);
	pthread_cond_destroy(&iv->cond);
	pthread_mutex_destroy(&iv->mu);
	free(iv);
	return rc;
}
