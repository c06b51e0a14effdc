/* The meter and its windows, driven by a fake backend whose values the test sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "fake_backend.h"
#include "meter_internal.h"
#include "named_windows.h"

static const struct jst_backend_ops *const both[] = {&fake_ops_a, &fake_ops_b};

static void nap_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* How many reads with telemetry the fake has served: the sampler's (every
 * one of its reads asks for telemetry) and jst_meter_sample_now's. */
static unsigned telemetry_reads(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	unsigned n = f->telemetry_reads;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Wait until the fake has served `more` telemetry reads after `since`: a
 * condition with a deadline (30 s, for the most loaded machine) instead of a
 * sleep that hopes the sampler ran. When the fake has counted a read, the
 * meter is still inside that reading (it holds the meter's lock), so a window
 * call made after this returns sees it whole. Returns the count reached. */
static unsigned wait_telemetry_reads(struct fake *f, unsigned since, unsigned more)
{
	int64_t deadline = jst_now_ns() + 30 * 1000000000LL;
	for (;;) {
		unsigned n = telemetry_reads(f);
		if (n >= since + more)
			return n;
		assert_true(jst_now_ns() < deadline);
		nap_ms(1);
	}
}

static int setup(void **st)
{
	(void)st;
	fake_reset(&fake_a);
	fake_reset(&fake_b);
	return 0;
}

static jst_meter *open_meter(int cross, unsigned period_ms)
{
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.cross_validate = cross;
	cfg.sample_period_ms = period_ms;
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), 0);
	return m;
}

static double energy_of(const jst_measurement *ms, size_t i)
{
	jst_domain_energy d = {.size = sizeof d};
	assert_int_equal(jst_measurement_domain(ms, i, &d), 0);
	return d.energy_j;
}

static void nested_and_overlapping_windows(void **st)
{
	(void)st;
	fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0", JST_METHOD_COUNTER, 0.05,
	         1e-6, 0);
	fake_set_counter(&fake_a, 0, 5000000000ULL); /* a large base that must never show */
	jst_meter *m = open_meter(0, 0);
	jst_measurement *a, *b, *c;

	assert_int_equal(tw_begin(m, "outer"), 0);
	fake_set_counter(&fake_a, 0, 5000000000ULL + 1000000);
	assert_int_equal(tw_begin(m, "overlap"), 0);
	assert_int_equal(tw_begin(m, "inner"), 0);
	fake_set_counter(&fake_a, 0, 5000000000ULL + 3000000);
	assert_int_equal(tw_end(m, "inner", &c), 0);
	assert_int_equal(tw_end(m, "outer", &a), 0); /* ends before "overlap" */
	fake_set_counter(&fake_a, 0, 5000000000ULL + 3500000);
	assert_int_equal(tw_end(m, "overlap", &b), 0);

	assert_float_equal(energy_of(a, 0), 3.0, 1e-9);
	assert_float_equal(energy_of(b, 0), 2.5, 1e-9);
	assert_float_equal(energy_of(c, 0), 2.0, 1e-9);
	assert_string_equal(jst_measurement_name(b), "overlap");
	assert_true(jst_measurement_duration(a) > 0);
	assert_true(jst_measurement_end_ns(b) > jst_measurement_begin_ns(b));
	jst_total t = {.size = sizeof t};
	assert_int_equal(jst_measurement_total(a, JST_TOTAL_CPU, &t), 0);
	assert_float_equal(t.energy_j, 3.0, 1e-9);
	assert_int_equal(t.parts, 1);
	assert_int_equal(jst_measurement_total(a, JST_TOTAL_COUNT_, &t), -EINVAL);
	jst_measurement_free(a);
	jst_measurement_free(b);
	jst_measurement_free(c);
	jst_meter_close(m);
}

static void labels_need_not_be_unique(void **st)
{
	(void)st;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-1", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_set_counter(&fake_a, 0, 1000);
	jst_meter *m = open_meter(0, 0);
	jst_window *a, *b;
	jst_measurement *ma, *mb;
	/* The same label twice (a recursive or concurrent call): two windows. */
	assert_int_equal(jst_window_begin(m, "step", &a), 0);
	fake_set_counter(&fake_a, 0, 3000);
	assert_int_equal(jst_window_begin(m, "step", &b), 0);
	fake_set_counter(&fake_a, 0, 4000);
	assert_int_equal(jst_window_end(b, &mb), 0);
	assert_int_equal(jst_window_end(a, &ma), 0);
	assert_string_equal(jst_measurement_name(ma), "step");
	assert_string_equal(jst_measurement_name(mb), "step");
	assert_float_equal(energy_of(ma, 0), 3.0, 1e-9);
	assert_float_equal(energy_of(mb, 0), 1.0, 1e-9);
	jst_measurement_free(ma);
	jst_measurement_free(mb);
	/* Cancel frees without measuring. */
	assert_int_equal(jst_window_begin(m, "x", &a), 0);
	assert_string_equal(jst_window_label(a), "x");
	jst_window_cancel(a);
	jst_meter_close(m);
}

static void rotation_tiles_exactly(void **st)
{
	(void)st;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-1", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_set_counter(&fake_a, 0, 1000);
	jst_meter *m = open_meter(0, 0);
	jst_window *outer, *rows;
	jst_measurement *ms;
	assert_int_equal(jst_window_begin(m, "outer", &outer), 0);
	assert_int_equal(jst_window_begin(m, "row", &rows), 0);
	double sum = 0;
	int64_t prev_end = 0;
	for (int k = 1; k <= 20; k++) {
		fake_set_counter(&fake_a, 0, 1000 + 1234 * (uint64_t)k);
		assert_int_equal(k < 20 ? jst_window_rotate(rows, &ms) : jst_window_end(rows, &ms),
		                 0);
		/* Each row begins on the reading the previous one ended on. */
		if (prev_end)
			assert_true(jst_measurement_begin_ns(ms) == prev_end);
		prev_end = jst_measurement_end_ns(ms);
		sum += energy_of(ms, 0);
		jst_measurement_free(ms);
	}
	assert_int_equal(jst_window_end(outer, &ms), 0);
	assert_float_equal(sum, 20 * 1.234, 1e-9);
	assert_float_equal(energy_of(ms, 0), sum, 1e-9);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void wraps_are_extended(void **st)
{
	(void)st;
	size_t i = fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0",
	                    JST_METHOD_COUNTER, 0.05, 1e-3, 1000);
	fake_set_counter(&fake_a, i, 900);
	jst_meter *m = open_meter(0, 0);
	jst_measurement *ms;
	fake_set_counter(&fake_a, i, 950);
	assert_int_equal(tw_begin(m, "w"), 0);
	fake_set_counter(&fake_a, i, 100); /* wrapped: +150 */
	jst_meter_sample_now(m, 0, &(jst_sample){.size = sizeof(jst_sample)});
	fake_set_counter(&fake_a, i, 300);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	assert_float_equal(energy_of(ms, 0), 0.350, 1e-12);
	assert_false(jst_measurement_partial(ms));
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void reset_marks_partial_never_negative(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-1", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_set_counter(&fake_a, i, 1000000);
	jst_meter *m = open_meter(0, 0);
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "w"), 0);
	fake_set_counter(&fake_a, i, 1002000);
	jst_meter_sample_now(m, 0, &(jst_sample){.size = sizeof(jst_sample)});
	fake_set_counter(&fake_a, i, 500); /* driver reload */
	jst_meter_sample_now(m, 0, &(jst_sample){.size = sizeof(jst_sample)});
	fake_set_counter(&fake_a, i, 1500);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	/* 2 J before; the 0.5 J the counter counted since it restarted from zero;
	 * 1 J after. */
	assert_float_equal(d.energy_j, 3.5, 1e-9);
	assert_false(d.partial);
	assert_true(d.bridged);
	assert_non_null(strstr(d.note, "bridged"));
	assert_false(jst_measurement_partial(ms));
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void failing_device_gives_partial(void **st)
{
	(void)st;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_add(&fake_a, "gpu1", JST_KIND_GPU, "gpu:GPU-1", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	jst_meter *m = open_meter(0, 0);
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "w"), 0);
	fake_set_counter(&fake_a, 0, 4000);
	fake_set_counter(&fake_a, 1, 4000);
	jst_meter_sample_now(m, 0, &(jst_sample){.size = sizeof(jst_sample)});
	fake_set_status(&fake_a, 1, -ENODEV);
	fake_set_counter(&fake_a, 0, 9000);
	fake_set_counter(&fake_a, 1, 9000); /* never seen: the GPU is gone */
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy d0 = {.size = sizeof d0}, d1 = {.size = sizeof d1};
	jst_measurement_domain(ms, 0, &d0);
	jst_measurement_domain(ms, 1, &d1);
	assert_float_equal(d0.energy_j, 9.0, 1e-9);
	assert_false(d0.partial);
	assert_float_equal(d1.energy_j, 4.0, 1e-9);
	assert_true(d1.partial);
	assert_non_null(strstr(d1.note, "fake device lost"));
	assert_true(jst_measurement_partial(ms));
	jst_total t = {.size = sizeof t};
	jst_measurement_total(ms, JST_TOTAL_GPU, &t);
	assert_float_equal(t.energy_j, 13.0, 1e-9);
	assert_true(t.partial);
	jst_measurement_free(ms);

	/* A window begun after the failure reports nothing for it, and says why. */
	assert_int_equal(tw_begin(m, "later"), 0);
	assert_int_equal(tw_end(m, "later", &ms), 0);
	jst_measurement_domain(ms, 1, &d1);
	assert_float_equal(d1.energy_j, 0.0, 0);
	assert_non_null(strstr(d1.note, "before the window began"));
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void power_domains_are_integrated(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_POWER, 0.10, 0, 0);
	jst_sample s1 = {.size = sizeof s1}, s2 = {.size = sizeof s2}, s3 = {.size = sizeof s3},
	           s4 = {.size = sizeof s4};
	fake_set_power(&fake_a, i, 100.0);
	jst_meter *m = open_meter(0, 10);
	jst_measurement *ms;
	unsigned c = telemetry_reads(&fake_a);
	assert_int_equal(tw_begin(m, "w"), 0);
	/* Three sampler readings inside, waited for (nothing else reads now). */
	wait_telemetry_reads(&fake_a, c, 3);
	/* A step to 300 W and back, each between two readings whose instants the
	 * meter reports: the truth is then bounded by the readings' own times,
	 * however the threads were scheduled. */
	jst_meter_sample_now(m, 0, &s1);
	fake_set_power(&fake_a, i, 300.0);
	jst_meter_sample_now(m, 0, &s2);
	/* A plateau the sampler integrates too. */
	wait_telemetry_reads(&fake_a, telemetry_reads(&fake_a), 2);
	jst_meter_sample_now(m, 0, &s3);
	fake_set_power(&fake_a, i, 100.0);
	jst_meter_sample_now(m, 0, &s4);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	double extra = d.energy_j - 100 * jst_measurement_duration(ms);
	/* 300 W throughout [s2, s3]; the steps lie somewhere in [s1, s2] and
	 * [s3, s4], where the trapezoid adds between nothing and all of 200 W.
	 * A method that missed the plateau or the steps falls outside. */
	double t1 = (double)s1.t_ns * 1e-9, t2 = (double)s2.t_ns * 1e-9;
	double t3 = (double)s3.t_ns * 1e-9, t4 = (double)s4.t_ns * 1e-9;
	assert_true(t1 < t2 && t2 < t3 && t3 < t4);
	assert_true(extra >= 200 * (t3 - t2) - 1e-9);
	assert_true(extra <= 200 * (t4 - t1) + 1e-9);
	assert_float_equal(d.peak_power_w, 300.0, 1e-9);
	assert_true(d.samples >= 5);
	assert_int_equal(d.method, JST_METHOD_POWER);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void constant_power_is_exact(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "node", JST_KIND_NODE, "node:pdu", JST_METHOD_POWER, 0.01, 0, 0);
	fake_set_power(&fake_a, i, 250.0);
	jst_meter *m = open_meter(0, 5);
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "w"), 0);
	nap_ms(50);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	assert_float_equal(energy_of(ms, 0), 250.0 * jst_measurement_duration(ms), 1e-9);
	jst_total t = {.size = sizeof t};
	jst_measurement_total(ms, JST_TOTAL_SYSTEM, &t);
	assert_float_equal(t.energy_j, energy_of(ms, 0), 1e-12);
	jst_measurement_total(ms, JST_TOTAL_ALL, &t);
	assert_int_equal(t.parts, 0); /* a node meter is not a component */
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void one_device_two_backends(void **st)
{
	(void)st;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-7", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	size_t p =
	    fake_add(&fake_b, "gpu0", JST_KIND_GPU, "gpu:GPU-7", JST_METHOD_POWER, 0.10, 0, 0);
	fake_set_power(&fake_b, p, 200);

	jst_meter *m = open_meter(0, 0);
	assert_int_equal(jst_meter_domain_count(m), 1);
	jst_domain_info di = {.size = sizeof di};
	jst_meter_domain(m, 0, &di);
	assert_string_equal(di.backend, "fake-a");
	assert_true(di.primary);
	jst_backend_info bi = {.size = sizeof bi};
	jst_meter_backend(m, 1, &bi);
	assert_true(bi.available);
	assert_non_null(strstr(bi.reason, "not used"));
	jst_meter_close(m);

	m = open_meter(1, 5);
	assert_int_equal(jst_meter_domain_count(m), 2);
	jst_measurement *ms;
	/* The test's clock around each edge: both backends' readings of that edge
	 * lie inside it. */
	int64_t b0 = jst_now_ns();
	assert_int_equal(tw_begin(m, "w"), 0);
	int64_t b1 = jst_now_ns();
	fake_set_counter(&fake_a, 0, 10000);
	nap_ms(30);
	int64_t e0 = jst_now_ns();
	assert_int_equal(tw_end(m, "w", &ms), 0);
	int64_t e1 = jst_now_ns();
	jst_domain_energy d0 = {.size = sizeof d0}, d1 = {.size = sizeof d1};
	jst_measurement_domain(ms, 0, &d0);
	jst_measurement_domain(ms, 1, &d1);
	assert_true(d0.primary);
	assert_false(d1.primary);
	/* Two backends are read one after the other: the window's edges are the mean
	 * of their instants, half the gap between the two reads from the power
	 * backend's own. The gap is microseconds, unless a thread was preempted
	 * between the reads: it is never more than the edge call took. */
	double gap = (double)((b1 - b0) > (e1 - e0) ? (b1 - b0) : (e1 - e0)) * 1e-9;
	assert_float_equal(d1.energy_j, 200 * jst_measurement_duration(ms), 200 * gap / 2 + 1e-9);
	jst_total t = {.size = sizeof t};
	jst_measurement_total(ms, JST_TOTAL_GPU, &t);
	assert_float_equal(t.energy_j, 10.0, 1e-9); /* counted once, from the counter */
	assert_int_equal(t.parts, 1);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void unavailable_backends_say_why(void **st)
{
	(void)st;
	fake_a.probe_rc = -EACCES;
	fake_a.reason = "energy_uj is root-only: run as root";
	jst_meter *m = open_meter(0, 0);
	jst_backend_info bi = {.size = sizeof bi};
	assert_int_equal(jst_meter_backend_count(m), 2);
	jst_meter_backend(m, 0, &bi);
	assert_false(bi.available);
	assert_string_equal(bi.reason, "energy_uj is root-only: run as root");
	jst_meter_backend(m, 1, &bi);
	assert_false(bi.available);
	assert_string_equal(bi.reason, "no devices found");
	assert_int_equal(jst_meter_domain_count(m), 0);
	assert_int_equal(tw_begin(m, "w"), -ENODEV);
	jst_meter_close(m);

	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = "fake-a,no-such";
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), -EINVAL);
	cfg.backends = "fake-b";
	fake_a.probe_rc = 0;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-7", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), 0);
	jst_meter_backend(m, 0, &bi);
	assert_false(bi.available);
	assert_non_null(strstr(bi.reason, "not selected"));
	jst_meter_close(m);
}

/* A probe refusing an explicit request (-ENXIO) fails the whole open, and
 * jst_strerror shows the backend's reason; another failure only leaves the
 * backend out. */
static void explicit_request_refused_fails_the_open(void **st)
{
	(void)st;
	fake_add(&fake_b, "package-0", JST_KIND_PACKAGE, "cpu:package-0", JST_METHOD_COUNTER, 0.05,
	         1e-6, 0);
	fake_a.probe_rc = -ENXIO;
	fake_a.reason = "GPU selection '9' cannot be measured: GPU 9 not found: NVML sees 4 GPUs";
	jst_meter *m = (jst_meter *)&m;
	assert_int_equal(jst_meter_open_backends(NULL, both, 2, &m), -ENXIO);
	assert_null(m);
	assert_string_equal(jst_strerror(-ENXIO), fake_a.reason);
	/* The next open starts afresh: a stale refusal is never shown. */
	fake_a.probe_rc = -ENODEV;
	assert_int_equal(jst_meter_open_backends(NULL, both, 2, &m), 0);
	assert_int_equal(jst_meter_domain_count(m), 1);
	assert_string_equal(jst_strerror(-ENXIO),
	                    "a device explicitly selected cannot be measured");
	jst_meter_close(m);
}

static void series_and_telemetry(void **st)
{
	(void)st;
	/* Power read as such: the series shows exactly what was read. A counter's
	 * power depends on when the threads ran; its energy is tested above. */
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_POWER, 0.10, 0, 0);
	fake_set_power(&fake_a, i, 150.0);
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 5;
	cfg.series_capacity = 8;
	jst_meter *m;
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), 0);
	/* Twelve sampler readings, more than the ring holds. */
	wait_telemetry_reads(&fake_a, 0, 12);
	jst_sample s[16] = {{.size = sizeof s[0]}};
	int n = jst_meter_series(m, 0, s, 16);
	assert_int_equal(n, 8); /* bounded by the capacity */
	for (int k = 1; k < n; k++)
		assert_true(s[k].t_ns > s[k - 1].t_ns);
	assert_float_equal(s[n - 1].temperature_c, 42.0, 0);
	assert_float_equal(s[n - 1].power_w, 150.0, 0);
	jst_sample now = {.size = sizeof now};
	assert_int_equal(jst_meter_sample_now(m, 0, &now), 0);
	assert_true(now.t_ns >= s[n - 1].t_ns);
	assert_int_equal(jst_meter_series(m, 5, s, 16), -EINVAL);
	jst_meter_close(m);
}

static void window_telemetry(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_a.clock_power_w[i] = 150.0;
	jst_measurement *ms;
	jst_domain_energy d = {.size = sizeof d};

	/* No sampler reading inside (its first is a minute away): no telemetry,
	 * and NaN says so, not 0. */
	jst_meter *m = open_meter(0, 60000);
	assert_int_equal(tw_begin(m, "edge-only"), 0);
	assert_int_equal(tw_end(m, "edge-only", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_int_equal(d.samples, 0);
	assert_true(isnan(d.temperature_max_c));
	assert_true(isnan(d.power_limit_w));
	jst_measurement_free(ms);
	jst_meter_close(m);

	m = open_meter(0, 5);

	/* The readings are waited for, not slept for: only the sampler reads
	 * while the test waits, so the window has at least 3 + 1 samples, one of
	 * them read after the temperature rose, and no more than the sampler's
	 * readings since just before it began. */
	unsigned before = telemetry_reads(&fake_a);
	assert_int_equal(tw_begin(m, "w"), 0);
	wait_telemetry_reads(&fake_a, telemetry_reads(&fake_a), 3);
	pthread_mutex_lock(&fake_a.mu);
	fake_a.temperature_c = 77.0; /* a hotter reading inside the window is its max */
	unsigned at = fake_a.telemetry_reads;
	pthread_mutex_unlock(&fake_a.mu);
	wait_telemetry_reads(&fake_a, at, 1);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	unsigned after = telemetry_reads(&fake_a);
	jst_measurement_domain(ms, 0, &d);
	assert_true(d.samples >= 4);
	assert_true(d.samples <= after - before);
	assert_float_equal(d.temperature_max_c, 77.0, 0);
	/* The fake reports no utilisation, clock or limit. */
	assert_true(isnan(d.utilization_mean_pct));
	assert_true(isnan(d.clock_mean_mhz));
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void wrap_safe_sampler_period(void **st)
{
	(void)st;
	size_t i = fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0",
	                    JST_METHOD_COUNTER, 0.05, 1e-6, 40000000); /* 40 J range */
	fake_a.desc[i].max_power_w = 200; /* wraps every 0.2 s at full power */
	jst_meter *m = open_meter(0, 1000);
	jst_domain_info di = {.size = sizeof di};
	jst_meter_domain(m, 0, &di);
	assert_true(di.sample_period_s <= 0.1);
	jst_meter_close(m);
}

static struct {
	jst_meter *m;
	jst_measurement *ms;
	int rc;
} handoff;

static void *end_elsewhere(void *arg)
{
	(void)arg;
	handoff.rc = tw_end(handoff.m, "cross-thread", &handoff.ms);
	return NULL;
}

static void begin_here_end_there(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	jst_meter *m = open_meter(0, 0);
	assert_int_equal(tw_begin(m, "cross-thread"), 0);
	fake_set_counter(&fake_a, i, 7000);
	handoff.m = m;
	pthread_t th;
	pthread_create(&th, NULL, end_elsewhere, NULL);
	pthread_join(th, NULL);
	assert_int_equal(handoff.rc, 0);
	assert_float_equal(energy_of(handoff.ms, 0), 7.0, 1e-9);
	jst_measurement_free(handoff.ms);
	jst_meter_close(m);
}

static void work(void *arg)
{
	fake_set_counter(&fake_a, 0, *(uint64_t *)arg);
}

static void scoped_and_wrapped_forms(void **st)
{
	(void)st;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	jst_meter *m = open_meter(0, 0);
	jst_measurement *ms = NULL;
	{
		JST_SCOPED_WINDOW(m, "scoped", &ms);
		fake_set_counter(&fake_a, 0, 2500);
	}
	assert_non_null(ms);
	assert_float_equal(energy_of(ms, 0), 2.5, 1e-9);
	jst_measurement_free(ms);

	uint64_t to = 6000;
	assert_int_equal(jst_measure_call(m, "wrapped", work, &to, &ms), 0);
	assert_float_equal(energy_of(ms, 0), 3.5, 1e-9);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void measurement_outlives_meter(void **st)
{
	(void)st;
	fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0", JST_METHOD_COUNTER, 0.05,
	         1e-6, 0);
	jst_meter *m = open_meter(0, 0);
	jst_measurement *ms;
	tw_begin(m, "w");
	tw_begin(m, "left-open");
	tw_end(m, "w", &ms);
	jst_meter_close(m);
	jst_domain_energy d = {.size = sizeof d};
	assert_int_equal(jst_measurement_domain(ms, 0, &d), 0);
	assert_string_equal(d.name, "package-0");
	assert_string_equal(d.backend, "fake-a");
	assert_string_equal(d.device, "cpu:package-0");
	jst_measurement_free(ms);
}

static void failed_backend_read_is_bridged_not_fatal(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "node", JST_KIND_NODE, "node:pdu", JST_METHOD_POWER, 0.01, 0, 0);
	fake_set_power(&fake_a, i, 100.0);
	jst_meter *m = open_meter(0, 60000); /* no sampler reading in the test */
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "before"), 0);
	fake_set_read_rc(&fake_a, -EIO);
	/* Both edges of "after" fail: a transient error costs no energy, the
	 * time is bridged at the power last seen, and no power reading fell
	 * inside the window. */
	assert_int_equal(tw_begin(m, "after"), 0);
	assert_int_equal(tw_end(m, "after", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	assert_float_equal(d.energy_j, 100.0 * jst_measurement_duration(ms), 1e-3);
	assert_false(d.partial);
	assert_non_null(strstr(d.note, "failed reading(s) skipped"));
	assert_true(isnan(d.peak_power_w));
	jst_measurement_free(ms);

	fake_set_read_rc(&fake_a, 0);
	assert_int_equal(tw_end(m, "before", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_float_equal(d.peak_power_w, 100.0, 0); /* seen at its edges */
	assert_float_equal(d.energy_j, 100.0 * jst_measurement_duration(ms), 1e-3);
	assert_false(d.partial);
	jst_measurement_free(ms);

	/* Only a vanished device ends the figure. */
	assert_int_equal(tw_begin(m, "gone"), 0);
	fake_set_read_rc(&fake_a, -ENODEV);
	assert_int_equal(tw_end(m, "gone", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_true(d.partial);
	assert_non_null(strstr(d.note, "read failed"));
	jst_measurement_free(ms);
	jst_meter_close(m);
}

/* A counter whose readings fail before any span showed its power: the time
 * since its last good reading cannot be bridged. A window ending in it ends
 * at that reading, partial and saying why (was: 0 J for the whole window,
 * not partial); one ending after the device answers again has the counter's
 * whole rise, as a transient error costs no energy. */
static void failing_counter_with_no_power_ends_partial(void **st)
{
	(void)st;
	size_t i = fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0",
	                    JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_set_counter(&fake_a, i, 1000);
	jst_meter *m = open_meter(0, 60000); /* no sampler reading in the test */
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "whole"), 0);
	assert_int_equal(tw_begin(m, "cut"), 0);
	fake_set_read_rc(&fake_a, -EIO);
	fake_set_counter(&fake_a, i, 3000);
	/* Begun inside the outage: it stands on the last good reading. */
	assert_int_equal(tw_begin(m, "inside"), 0);
	assert_int_equal(tw_end(m, "cut", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	assert_true(d.partial);
	assert_true(jst_measurement_partial(ms));
	assert_float_equal(d.energy_j, 0, 0);
	assert_non_null(strstr(d.note, "no power known to bridge them: figure ends 0.000 s"));
	jst_measurement_free(ms);

	fake_set_read_rc(&fake_a, 0);
	fake_set_counter(&fake_a, i, 3500);
	/* The counter's 2.5 J since that reading are shared by time between the
	 * outage before the window and the window; the part the window may hold
	 * is bounded by the bound over its (short) time, and stated. */
	assert_int_equal(tw_end(m, "inside", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_false(d.partial);
	assert_true(d.bridged);
	assert_true(d.energy_j >= 0 && d.energy_j < 2.5);
	assert_non_null(strstr(d.note, "began while its readings failed with no power known"));
	jst_measurement_free(ms);
	assert_int_equal(tw_end(m, "whole", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_false(d.partial);
	assert_float_equal(d.energy_j, 2.5, 1e-12);
	assert_non_null(strstr(d.note, "failed reading(s) skipped"));
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void garbage_counter_value_adds_no_energy(void **st)
{
	(void)st;
	size_t i = fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0",
	                    JST_METHOD_COUNTER, 0.05, 1e-3, 1000);
	fake_set_counter(&fake_a, i, 900);
	jst_meter *m = open_meter(0, 60000);
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "w"), 0);
	fake_set_counter(&fake_a, i, 1200); /* outside the counter's range */
	jst_meter_sample_now(m, 0, &(jst_sample){.size = sizeof(jst_sample)});
	fake_set_counter(&fake_a, i, 300); /* one wrap past 900: 400 mJ */
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	assert_float_equal(d.energy_j, 0.400, 1e-12);
	assert_false(d.partial);                    /* skipped: the next reading counts */
	assert_non_null(strstr(d.note, "skipped")); /* said, not hidden */
	jst_measurement_free(ms);
	jst_meter_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(nested_and_overlapping_windows, setup),
	    cmocka_unit_test_setup(labels_need_not_be_unique, setup),
	    cmocka_unit_test_setup(rotation_tiles_exactly, setup),
	    cmocka_unit_test_setup(wraps_are_extended, setup),
	    cmocka_unit_test_setup(reset_marks_partial_never_negative, setup),
	    cmocka_unit_test_setup(failing_device_gives_partial, setup),
	    cmocka_unit_test_setup(failing_counter_with_no_power_ends_partial, setup),
	    cmocka_unit_test_setup(power_domains_are_integrated, setup),
	    cmocka_unit_test_setup(constant_power_is_exact, setup),
	    cmocka_unit_test_setup(one_device_two_backends, setup),
	    cmocka_unit_test_setup(unavailable_backends_say_why, setup),
	    cmocka_unit_test_setup(explicit_request_refused_fails_the_open, setup),
	    cmocka_unit_test_setup(series_and_telemetry, setup),
	    cmocka_unit_test_setup(window_telemetry, setup),
	    cmocka_unit_test_setup(wrap_safe_sampler_period, setup),
	    cmocka_unit_test_setup(begin_here_end_there, setup),
	    cmocka_unit_test_setup(scoped_and_wrapped_forms, setup),
	    cmocka_unit_test_setup(measurement_outlives_meter, setup),
	    cmocka_unit_test_setup(failed_backend_read_is_bridged_not_fatal, setup),
	    cmocka_unit_test_setup(garbage_counter_value_adds_no_energy, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
