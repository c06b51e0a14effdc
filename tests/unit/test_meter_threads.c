/* Many threads opening, nesting and ending windows on one meter while the
 * sampler runs: no torn state, no lost windows, nesting always consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "fake_backend.h"
#include "meter_internal.h"
#include "named_windows.h"

#define THREADS 8
#define ROUNDS 150
#define POWER_W 100.0

static jst_meter *meter;
static int failures[THREADS];
static int ids[THREADS] = {0, 1, 2, 3, 4, 5, 6, 7};

static double energy(const jst_measurement *ms)
{
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	return d.energy_j;
}

static void *worker(void *arg)
{
	int id = *(const int *)arg;
	char outer[32], inner[32], handoff[32];
	snprintf(outer, sizeof outer, "outer-%d", id);
	snprintf(inner, sizeof inner, "inner-%d", id);
	/* Each thread ends the window its neighbour began: begin and end on
	 * different threads. */
	snprintf(handoff, sizeof handoff, "handoff-%d", (id + 1) % THREADS);
	char mine[32];
	snprintf(mine, sizeof mine, "handoff-%d", id);

	for (int r = 0; r < ROUNDS; r++) {
		jst_measurement *o = NULL, *i = NULL, *h = NULL;
		int64_t t0 = jst_now_ns();
		if (tw_begin(meter, outer) || tw_begin(meter, inner)) {
			failures[id]++;
			continue;
		}
		tw_begin(meter, mine); /* may still be open from last round: EEXIST is fine */
		if (tw_end(meter, inner, &i) || tw_end(meter, outer, &o)) {
			failures[id]++;
			continue;
		}
		double span = (double)(jst_now_ns() - t0) * 1e-9;
		tw_end(meter, handoff, &h); /* may not be open yet: ENOENT is fine */
		double eo = energy(o), ei = energy(i);
		double d = jst_measurement_duration(o);
		/* Inside the outer window, so never more. The clock-driven counter is
		 * read inside the outer window's begin and end calls, so at 100 W it
		 * moves at most P x the span around them (one 1 mJ unit of rounding).
		 * P x d is no bound: a thread preempted between the two backends'
		 * reads puts ms between an edge's instant and the counter's. */
		if (!(ei >= 0 && ei <= eo && d > 0 && d <= span && eo <= POWER_W * span + 0.0011))
			failures[id]++;
		if (h && !(energy(h) >= 0))
			failures[id]++;
		jst_measurement_free(o);
		jst_measurement_free(i);
		jst_measurement_free(h);
	}
	return NULL;
}

/* A GPU counting at POWER_W and a node meter at 300 W, sampled every 1 ms;
 * series_capacity 0 is the default ring. */
static void open_busy_meter(size_t series_capacity)
{
	fake_reset(&fake_a);
	fake_reset(&fake_b);
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_a.clock_power_w[i] = POWER_W;
	fake_add(&fake_b, "node", JST_KIND_NODE, "node:pdu", JST_METHOD_POWER, 0.01, 0, 0);
	fake_set_power(&fake_b, 0, 300.0);

	const struct jst_backend_ops *const ops[] = {&fake_ops_a, &fake_ops_b};
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 1;
	cfg.series_capacity = series_capacity;
	assert_int_equal(jst_meter_open_backends(&cfg, ops, 2, &meter), 0);
}

static void many_threads_many_windows(void **st)
{
	(void)st;
	open_busy_meter(0);

	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, worker, &ids[t]);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(failures[t], 0);
	/* Windows still open (handoffs nobody ended) are discarded by close. */
	jst_meter_close(meter);
}

/* Readers of the series and of fresh samples race the sampler and the window
 * calls: every copy must be whole (times increasing, energy never falling). */
static int reader_failures[2];

static void *reader(void *arg)
{
	int *fails = arg;
	jst_sample buf[16] = {{.size = sizeof buf[0]}}, now = {.size = sizeof now};
	for (int r = 0; r < ROUNDS * 4; r++) {
		int n = jst_meter_series(meter, (size_t)(r & 1), buf, 16);
		if (n < 0 || n > 16)
			(*fails)++;
		for (int k = 1; k < n; k++)
			if (!(buf[k].t_ns >= buf[k - 1].t_ns &&
			      buf[k].energy_j >= buf[k - 1].energy_j))
				(*fails)++;
		if (jst_meter_sample_now(meter, (size_t)(r & 1), &now) != 0 || !(now.energy_j >= 0))
			(*fails)++;
		if (n > 0 && now.t_ns < buf[n - 1].t_ns)
			(*fails)++;
	}
	return NULL;
}

static void series_readers_beside_windows(void **st)
{
	(void)st;
	open_busy_meter(8); /* the ring turns over many times while read */

	pthread_t rd[2], th[2];
	for (int t = 0; t < 2; t++)
		pthread_create(&rd[t], NULL, reader, &reader_failures[t]);
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, worker, &ids[t]);
	for (int t = 0; t < 2; t++) {
		pthread_join(rd[t], NULL);
		pthread_join(th[t], NULL);
	}
	for (int t = 0; t < 2; t++) {
		assert_int_equal(reader_failures[t], 0);
		assert_int_equal(failures[t], 0);
	}
	jst_meter_close(meter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(many_threads_many_windows),
	    cmocka_unit_test(series_readers_beside_windows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
