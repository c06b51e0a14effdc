/* The window pair's fixed cost cut without changing its figures: a window
 * and a measurement freed are reused by the next, and a measurement's totals
 * and plain notes are formed when first read. Each test checks the figures of
 * a reused or lazily formed measurement against the fake backend's counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fake_backend.h"
#include "meter_internal.h"

#define BASE 7000000000ULL /* a large base that must never show */
#define READERS 8

static const struct jst_backend_ops *const both[] = {&fake_ops_a, &fake_ops_b};
static uint64_t counter_a, counter_b;
static unsigned shorts; /* short windows checked */

static int setup(void **st)
{
	(void)st;
	fake_reset(&fake_a);
	fake_reset(&fake_b);
	/* Two packages in µJ, on two backends: the totals add across them. */
	fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0", JST_METHOD_COUNTER, 0.05,
	         1e-6, 0);
	fake_add(&fake_b, "package-1", JST_KIND_PACKAGE, "cpu:package-1", JST_METHOD_COUNTER, 0.05,
	         1e-6, 0);
	/* A declared refresh too fast for a latch grid: each reading is its own
	 * latch, so the figures are the counters' differences exactly, and a
	 * window shorter than 3 ms carries the short-window note (deferred). */
	fake_a.desc[0].refresh_s = fake_b.desc[0].refresh_s = 0.001;
	counter_a = counter_b = BASE;
	shorts = 0;
	fake_set_counter(&fake_a, 0, counter_a);
	fake_set_counter(&fake_b, 0, counter_b);
	return 0;
}

static jst_meter *open_meter(void)
{
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 60000; /* the sampler stays out of the way */
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), 0);
	assert_int_equal(jst_meter_domain_count(m), 2);
	return m;
}

/* Advance the counters by a and b µJ. */
static void advance(uint64_t a, uint64_t b)
{
	fake_set_counter(&fake_a, 0, counter_a += a);
	fake_set_counter(&fake_b, 0, counter_b += b);
}

static jst_domain_energy domain(const jst_measurement *ms, size_t i)
{
	jst_domain_energy d = {.size = sizeof d};
	assert_int_equal(jst_measurement_domain(ms, i, &d), 0);
	return d;
}

static jst_total total(const jst_measurement *ms, jst_total_kind k)
{
	jst_total t = {.size = sizeof t};
	assert_int_equal(jst_measurement_total(ms, k, &t), 0);
	return t;
}

/* One window of a and b µJ: its figures, its label and its totals. */
static void check(const jst_measurement *ms, const char *label, uint64_t a, uint64_t b)
{
	assert_string_equal(jst_measurement_name(ms), label);
	jst_domain_energy d0 = domain(ms, 0), d1 = domain(ms, 1);
	assert_float_equal(d0.energy_j, (double)a * 1e-6, 1e-9);
	assert_float_equal(d1.energy_j, (double)b * 1e-6, 1e-9);
	/* A window shorter than 3 refreshes says so (most here: a preempted
	 * thread may make one longer), in the note formed on first reading. */
	const char *note = "shorter than 3 refreshes of the sensor (1 ms): energy between "
	                   "refreshes interpolated from power";
	assert_int_equal(d0.short_window, strstr(d0.note, note) != NULL);
	assert_int_equal(d1.short_window, strstr(d1.note, note) != NULL);
	shorts += d0.short_window;
	jst_total cpu = total(ms, JST_TOTAL_CPU), all = total(ms, JST_TOTAL_ALL);
	assert_float_equal(cpu.energy_j, (double)(a + b) * 1e-6, 1e-9);
	assert_int_equal(cpu.parts, 2);
	assert_float_equal(all.energy_j, cpu.energy_j, 1e-12);
	assert_float_equal(cpu.uncertainty_j, d0.uncertainty_j + d1.uncertainty_j, 1e-12);
	assert_float_equal(cpu.avg_power_w, cpu.energy_j / jst_measurement_duration(ms), 1e-9);
}

/* Windows and measurements freed one after another are reused: each figure is
 * its own window's, whatever the label's length or the previous window's
 * state (relabelled, rotated, cancelled). */
static void reused_windows_keep_their_own_figures(void **st)
{
	(void)st;
	jst_meter *m = open_meter();
	char long_label[200];
	memset(long_label, 'x', sizeof long_label - 1);
	long_label[sizeof long_label - 1] = 0;
	const char *labels[] = {"a", long_label, "", "step", long_label + 100, "b"};
	for (size_t r = 0; r < 40; r++) {
		const char *label = labels[r % 6];
		jst_window *w;
		jst_measurement *ms;
		assert_int_equal(jst_window_begin(m, label, &w), 0);
		assert_string_equal(jst_window_label(w), label);
		uint64_t a = 1000 * (r + 1), b = 333 * (r + 2);
		advance(a, b);
		if (r % 5 == 1) {
			/* A rotated window: the rows tile it, then the handle is freed
			 * with its origin set, for the next begin to reuse. */
			jst_measurement *row;
			assert_int_equal(jst_window_rotate(w, &row), 0);
			check(row, label, a, b);
			jst_measurement_free(row);
			advance(7, 11);
			assert_int_equal(jst_window_end(w, &ms), 0);
			check(ms, label, 7, 11);
			jst_measurement_free(ms);
			continue;
		}
		if (r % 5 == 2) {
			assert_int_equal(jst_window_relabel(w, long_label + 50), 0);
			label = long_label + 50;
		}
		if (r % 5 == 3) {
			jst_window_cancel(w);
			continue;
		}
		assert_int_equal(jst_window_end(w, &ms), 0);
		check(ms, label, a, b);
		/* Held while the next window ends: that one is allocated apart. */
		jst_window *w2;
		jst_measurement *ms2;
		assert_int_equal(jst_window_begin(m, "second", &w2), 0);
		advance(5, 3);
		assert_int_equal(jst_window_end(w2, &ms2), 0);
		check(ms2, "second", 5, 3);
		check(ms, label, a, b); /* unchanged by the other */
		jst_measurement_free(ms2);
		jst_measurement_free(ms);
	}
	/* Ended without a measurement: the window is still released. */
	jst_window *w;
	assert_int_equal(jst_window_begin(m, "none", &w), 0);
	assert_int_equal(jst_window_end(w, NULL), 0);
	jst_meter_close(m);
	assert_true(shorts > 0);
}

/* The totals and notes formed after the meter is gone: from the measurement
 * and the domains' shared strings alone. */
static void measurement_formed_after_the_meter_closed(void **st)
{
	(void)st;
	jst_meter *m = open_meter();
	jst_window *w;
	jst_measurement *ms, *spare;
	/* One freed first: the table's spare outlives the meter too. */
	assert_int_equal(jst_window_begin(m, "spare", &w), 0);
	assert_int_equal(jst_window_end(w, &spare), 0);
	jst_measurement_free(spare);
	assert_int_equal(jst_window_begin(m, "late", &w), 0);
	advance(2500000, 500000);
	assert_int_equal(jst_window_end(w, &ms), 0);
	jst_meter_close(m);
	check(ms, "late", 2500000, 500000);
	jst_measurement_free(ms);
}

struct reader {
	const jst_measurement *ms;
	pthread_barrier_t *go;
	jst_total cpu;
	jst_domain_energy d0;
	char note[512];
};

static void *read_fresh(void *arg)
{
	struct reader *r = arg;
	pthread_barrier_wait(r->go);
	r->cpu = (jst_total){.size = sizeof r->cpu};
	r->d0 = (jst_domain_energy){.size = sizeof r->d0};
	jst_measurement_total(r->ms, JST_TOTAL_CPU, &r->cpu);
	jst_measurement_domain(r->ms, 0, &r->d0);
	snprintf(r->note, sizeof r->note, "%s", r->d0.note);
	return NULL;
}

/* Many threads reading a fresh measurement at once: one forms it, every one
 * sees it whole. */
static void fresh_measurement_read_by_many_threads(void **st)
{
	(void)st;
	jst_meter *m = open_meter();
	for (int round = 0; round < 20; round++) {
		jst_window *w;
		jst_measurement *ms;
		assert_int_equal(jst_window_begin(m, "shared", &w), 0);
		advance(1000000, 250000);
		assert_int_equal(jst_window_end(w, &ms), 0);
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, READERS);
		struct reader r[READERS];
		pthread_t th[READERS];
		for (int i = 0; i < READERS; i++) {
			r[i] = (struct reader){.ms = ms, .go = &go};
			assert_int_equal(pthread_create(&th[i], NULL, read_fresh, &r[i]), 0);
		}
		for (int i = 0; i < READERS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < READERS; i++) {
			assert_float_equal(r[i].cpu.energy_j, 1.25, 1e-9);
			assert_int_equal(r[i].cpu.parts, 2);
			assert_float_equal(r[i].d0.energy_j, 1.0, 1e-9);
			assert_int_equal(r[i].d0.short_window, r[0].d0.short_window);
			assert_string_equal(r[i].note, r[0].note);
		}
		check(ms, "shared", 1000000, 250000);
		jst_measurement_free(ms);
	}
	jst_meter_close(m);
}

struct freer {
	jst_measurement *ms[16];
	pthread_barrier_t *go;
};

static void *free_all(void *arg)
{
	struct freer *f = arg;
	pthread_barrier_wait(f->go);
	for (int i = 0; i < 16; i++)
		jst_measurement_free(f->ms[i]);
	return NULL;
}

/* Measurements freed on many threads while their meter closes: each is either
 * kept as the spare and freed by the close, or freed at once; none leaks (the
 * sanitizer builds check) and none is freed twice. */
static void measurements_freed_while_the_meter_closes(void **st)
{
	(void)st;
	for (int round = 0; round < 10; round++) {
		jst_meter *m = open_meter();
		struct freer f[READERS];
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, READERS + 1);
		for (int t = 0; t < READERS; t++) {
			f[t].go = &go;
			for (int i = 0; i < 16; i++) {
				jst_window *w;
				assert_int_equal(jst_window_begin(m, "many", &w), 0);
				advance(10, 20);
				assert_int_equal(jst_window_end(w, &f[t].ms[i]), 0);
			}
		}
		check(f[0].ms[0], "many", 10, 20);
		pthread_t th[READERS];
		for (int t = 0; t < READERS; t++)
			assert_int_equal(pthread_create(&th[t], NULL, free_all, &f[t]), 0);
		pthread_barrier_wait(&go);
		jst_meter_close(m);
		for (int t = 0; t < READERS; t++)
			pthread_join(th[t], NULL);
		pthread_barrier_destroy(&go);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(reused_windows_keep_their_own_figures, setup),
	    cmocka_unit_test_setup(measurement_formed_after_the_meter_closed, setup),
	    cmocka_unit_test_setup(fresh_measurement_read_by_many_threads, setup),
	    cmocka_unit_test_setup(measurements_freed_while_the_meter_closes, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
