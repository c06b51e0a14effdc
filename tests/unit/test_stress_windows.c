/* Eight threads opening and closing overlapping windows on one meter that reads
 * eight simulated GPUs through the real nvml backend (sim/nvml, loaded from
 * JOULESTAT_NVML_LIBRARY), while the sampler runs every millisecond and other
 * meters come and go on the shared NVML session. Every measurement must be
 * sane, and the whole must be clean under ThreadSanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "joulestat.h"
#include "named_windows.h"

#define THREADS 8
#define GPUS 8
#define ROUNDS 300
#define POWER_W 300.0 /* GPU k draws POWER_W x (1 - 0.05 k) */

static jst_meter *meter;
static int failures[THREADS];
static char first_failure[THREADS][256];

static void note_failure(int id, const char *fmt, ...)
{
	if (failures[id]++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(first_failure[id], sizeof first_failure[id], fmt, ap);
		va_end(ap);
	}
}

/* The longest a window's begin or end call took: a thread preempted inside
 * the read of an edge states that edge's instant as uncertain by up to half
 * the call (docs/sensor-model.md), so the edges' claim may grow by the power
 * times it. On a loaded machine this is tens of milliseconds. */
static _Atomic int64_t longest_call_ns;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void note_call(int64_t t0)
{
	int64_t d = mono_ns() - t0, prev = atomic_load(&longest_call_ns);
	while (d > prev && !atomic_compare_exchange_weak(&longest_call_ns, &prev, d))
		;
}

static int timed_begin(const char *name)
{
	int64_t t0 = mono_ns();
	int rc = tw_begin(meter, name);
	note_call(t0);
	return rc;
}

static int timed_end(const char *name, jst_measurement **out)
{
	int64_t t0 = mono_ns();
	int rc = tw_end(meter, name, out);
	note_call(t0);
	return rc;
}

static void pause_us(unsigned us)
{
	struct timespec ts = {0, (long)us * 1000};
	nanosleep(&ts, NULL);
}

/* The simulated counter refreshes every 10 ms and counts whole mJ; the core
 * interpolates between refreshes at the device's power, so a window's energy
 * is P x its duration, within what its edges claim (and a thread preempted in
 * the middle of a read may shift an edge by more: 20 ms of slack): a wrong
 * scale, a leaked base or a torn reading shows even in a window of a few
 * milliseconds. */
static void check(int id, const jst_measurement *ms)
{
	double d = jst_measurement_duration(ms);
	if (!(d > 0) || jst_measurement_partial(ms)) {
		note_failure(id, "%s: duration %g, partial %d", jst_measurement_name(ms), d,
		             jst_measurement_partial(ms));
		return;
	}
	size_t n = jst_measurement_domain_count(ms);
	if (n != GPUS) {
		note_failure(id, "%s: %zu domains, want %d", jst_measurement_name(ms), n, GPUS);
		return;
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		jst_domain_energy de = {.size = sizeof de};
		jst_measurement_domain(ms, i, &de);
		unsigned k;
		if (sscanf(de.name, "gpu%u", &k) != 1 || k >= GPUS) {
			note_failure(id, "unexpected domain %s", de.name);
			continue;
		}
		double p = POWER_W * (1 - 0.05 * k);
		double slack = 0.02 * p + 0.002;
		double lo = p * d - slack, hi = p * d + slack;
		/* The edges' claim: the figure's uncertainty less its method's class. */
		double cls = de.accuracy * de.energy_j;
		double edges = sqrt(fmax(de.uncertainty_j * de.uncertainty_j - cls * cls, 0));
		double preempted = p * (double)atomic_load(&longest_call_ns) * 1e-9;
		if (!(de.energy_j >= 0) || de.energy_j < lo - edges || de.energy_j > hi + edges ||
		    de.partial || !de.primary || !(edges < 2 * p * 0.01 + 0.01 + preempted) ||
		    fabs(de.energy_j - p * d) > edges + slack)
			note_failure(id, "%s %s: %.6f J ± %.6f in %.6f s, want %.6f..%.6f",
			             jst_measurement_name(ms), de.name, de.energy_j, edges, d, lo,
			             hi);
		sum += de.energy_j;
	}
	jst_total gpu = {.size = sizeof gpu};
	if (jst_measurement_total(ms, JST_TOTAL_GPU, &gpu) || gpu.parts != GPUS ||
	    fabs(gpu.energy_j - sum) > 1e-6 * (1 + sum))
		note_failure(id, "%s: gpu total %.6f J over %zu parts, domains sum %.6f J",
		             jst_measurement_name(ms), gpu.energy_j, gpu.parts, sum);
}

/* Meters come and go on the NVML session the main meter is using. */
static void other_meter(int id)
{
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = "nvml";
	cfg.gpus = "1,GPU-5a1c0000-0000-4000-8000-000000000003";
	jst_meter *m = NULL;
	int rc = jst_meter_open(&cfg, &m);
	if (rc || jst_meter_domain_count(m) != 2) {
		note_failure(id, "second meter: %s, %zu domains", jst_strerror(rc),
		             m ? jst_meter_domain_count(m) : 0);
	} else {
		jst_measurement *ms = NULL;
		if (tw_begin(m, "side") || tw_end(m, "side", &ms))
			note_failure(id, "second meter: window failed");
		jst_measurement_free(ms);
	}
	jst_meter_close(m);
}

static void *worker(void *arg)
{
	int id = *(const int *)arg;
	char outer[32], inner[32], mine[32], theirs[32];
	snprintf(outer, sizeof outer, "outer-%d", id);
	snprintf(inner, sizeof inner, "inner-%d", id);
	/* Each thread ends the window its neighbour began: windows that overlap
	 * across threads, begun on one and ended on another. */
	snprintf(mine, sizeof mine, "handoff-%d", id);
	snprintf(theirs, sizeof theirs, "handoff-%d", (id + 1) % THREADS);
	unsigned seed = (unsigned)id * 2654435761u;
	char longest[32];
	snprintf(longest, sizeof longest, "whole-%d", id);
	if (timed_begin(longest))
		note_failure(id, "begin %s", longest);

	for (int r = 0; r < ROUNDS; r++) {
		jst_measurement *o = NULL, *i = NULL, *h = NULL;
		if (timed_begin(outer)) {
			note_failure(id, "begin %s", outer);
			continue;
		}
		timed_begin(mine); /* still open from last round: EEXIST is fine */
		pause_us(rand_r(&seed) % 3000);
		if (timed_begin(inner))
			note_failure(id, "begin %s", inner);
		pause_us(rand_r(&seed) % 5000);
		if (timed_end(inner, &i) || timed_end(outer, &o)) {
			note_failure(id, "end %s/%s", inner, outer);
			jst_measurement_free(i);
			jst_measurement_free(o);
			continue;
		}
		timed_end(theirs, &h); /* not begun yet: ENOENT is fine */
		check(id, i);
		check(id, o);
		if (h)
			check(id, h);
		if (jst_measurement_duration(i) > jst_measurement_duration(o))
			note_failure(id, "inner window longer than its outer one");
		jst_sample s = {.size = sizeof s};
		if (jst_meter_sample_now(meter, (size_t)id % GPUS, &s) || !(s.energy_j >= 0) ||
		    !(s.temperature_c > 0))
			note_failure(id, "sample_now: energy %g, temperature %g", s.energy_j,
			             s.temperature_c);
		if (r % 20 == 0)
			other_meter(id);
		jst_measurement_free(o);
		jst_measurement_free(i);
		jst_measurement_free(h);
	}
	jst_measurement *whole = NULL;
	if (timed_end(longest, &whole))
		note_failure(id, "end %s", longest);
	else
		check(id, whole);
	jst_measurement_free(whole);
	return NULL;
}

static void eight_threads_eight_gpus(void **st)
{
	(void)st;
	if (!getenv("JOULESTAT_NVML_LIBRARY"))
		skip(); /* run through meson test, which points it at sim/nvml */
	setenv("JSTSIM_NVML_GPUS", "8", 1);
	setenv("JSTSIM_NVML_TRACE", "const:300", 1);
	setenv("JSTSIM_NVML_COUNTER_TICK_MS", "10", 1);
	unsetenv("CUDA_VISIBLE_DEVICES");

	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = "nvml";
	cfg.sample_period_ms = 1;
	int rc = jst_meter_open(&cfg, &meter);
	assert_int_equal(rc, 0);
	assert_int_equal(jst_meter_domain_count(meter), GPUS);
	/* The counters' refresh is measured first: then every window interpolates. */
	assert_int_equal(jst_meter_settle(meter, 5000), 0);

	pthread_t th[THREADS];
	int ids[THREADS];
	for (int t = 0; t < THREADS; t++) {
		ids[t] = t;
		pthread_create(&th[t], NULL, worker, &ids[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);

	/* The sampler kept the series going all along. */
	jst_sample series[16] = {{.size = sizeof series[0]}};
	assert_true(jst_meter_series(meter, 0, series, 16) > 0);
	jst_meter_close(meter);

	int total = 0;
	for (int t = 0; t < THREADS; t++) {
		if (failures[t])
			print_message("thread %d: %d failures, first: %s\n", t, failures[t],
			              first_failure[t]);
		total += failures[t];
	}
	assert_int_equal(total, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(eight_threads_eight_gpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
