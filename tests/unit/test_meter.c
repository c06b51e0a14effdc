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
#include "named_windows.h"
#include "meter_internal.h"

static const struct jst_backend_ops *const both[] = {&fake_ops_a, &fake_ops_b};

static void nap_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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

static void names_are_checked(void **st)
{
	(void)st;
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-1", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	jst_meter *m = open_meter(0, 0);
	jst_measurement *ms = (jst_measurement *)1;
	assert_int_equal(tw_begin(m, "w"), 0);
	assert_int_equal(tw_begin(m, "w"), -EEXIST);
	assert_int_equal(tw_end(m, "nope", &ms), -ENOENT);
	assert_null(ms);
	assert_int_equal(tw_begin(m, ""), -EINVAL);
	assert_int_equal(tw_cancel(m, "w"), 0);
	assert_int_equal(tw_cancel(m, "w"), -ENOENT);
	assert_int_equal(tw_end(m, "w", NULL), -ENOENT);
	/* The name is free again once ended. */
	assert_int_equal(tw_begin(m, "w"), 0);
	assert_int_equal(tw_end(m, "w", NULL), 0);
	assert_string_equal(jst_strerror(-EEXIST), "a window by that name is already open");
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
	assert_float_equal(d.energy_j, 3.0, 1e-9); /* 2 J before, 1 J after the reset */
	assert_true(d.partial);
	assert_non_null(strstr(d.note, "backwards"));
	assert_true(jst_measurement_partial(ms));
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

static double now_s(void)
{
	return (double)jst_now_ns() * 1e-9;
}

static void power_domains_are_integrated(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_POWER, 0.10, 0, 0);
	jst_sample s = {.size = sizeof s};
	fake_set_power(&fake_a, i, 100.0);
	jst_meter *m = open_meter(0, 10);
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "w"), 0);
	nap_ms(100);
	/* Readings just before and after each step keep the trapezoid's ramps
	 * short, so the truth is known from the test's own clock. */
	jst_meter_sample_now(m, 0, &s);
	double a_out = now_s();
	fake_set_power(&fake_a, i, 300.0);
	double a_in = now_s();
	jst_meter_sample_now(m, 0, &s);
	nap_ms(60);
	jst_meter_sample_now(m, 0, &s);
	double b_in = now_s();
	fake_set_power(&fake_a, i, 100.0);
	double b_out = now_s();
	jst_meter_sample_now(m, 0, &s);
	nap_ms(50);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	double base = 100 * jst_measurement_duration(ms);
	double extra = d.energy_j - base;
	/* 2 ms of slack either way: a reading's instant is the middle of its
	 * read, and a preempted thread (sanitizers, a busy machine) can put a
	 * little time between that instant and the test's own clock. A method
	 * that missed the 60 ms plateau would be off by 12 J, not 0.4 J. */
	double slack = 200 * 0.002;
	assert_true(extra >= 200 * (b_in - a_in) - slack);
	assert_true(extra <= 200 * (b_out - a_out) + slack);
	assert_float_equal(d.peak_power_w, 300.0, 1e-9);
	assert_true(d.samples >= 3);
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
	assert_int_equal(tw_begin(m, "w"), 0);
	fake_set_counter(&fake_a, 0, 10000);
	nap_ms(30);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy d0 = {.size = sizeof d0}, d1 = {.size = sizeof d1};
	jst_measurement_domain(ms, 0, &d0);
	jst_measurement_domain(ms, 1, &d1);
	assert_true(d0.primary);
	assert_false(d1.primary);
	/* Two backends are read one after the other: the window's edges are the mean
	 * of their instants, microseconds from the power backend's own. */
	assert_float_equal(d1.energy_j, 200 * jst_measurement_duration(ms), 0.01);
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

static void series_and_telemetry(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_a.clock_power_w[i] = 150.0;
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 5;
	cfg.series_capacity = 8;
	jst_meter *m;
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), 0);
	nap_ms(150);
	jst_sample s[16] = {{.size = sizeof s[0]}};
	int n = jst_meter_series(m, 0, s, 16);
	assert_int_equal(n, 8); /* bounded by the capacity */
	for (int k = 1; k < n; k++)
		assert_true(s[k].t_ns > s[k - 1].t_ns);
	assert_float_equal(s[n - 1].temperature_c, 42.0, 0);
	assert_true(fabs(s[n - 1].power_w - 150.0) < 15.0);
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

	assert_int_equal(tw_begin(m, "w"), 0);
	nap_ms(60);
	pthread_mutex_lock(&fake_a.mu);
	fake_a.temperature_c = 77.0; /* a hotter reading inside the window is its max */
	pthread_mutex_unlock(&fake_a.mu);
	nap_ms(40);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_true(d.samples >= 3);
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

static void failed_backend_read_leaves_no_stale_power(void **st)
{
	(void)st;
	size_t i =
	    fake_add(&fake_a, "node", JST_KIND_NODE, "node:pdu", JST_METHOD_POWER, 0.01, 0, 0);
	fake_set_power(&fake_a, i, 100.0);
	jst_meter *m = open_meter(0, 60000); /* no sampler reading in the test */
	jst_measurement *ms;
	assert_int_equal(tw_begin(m, "before"), 0);
	fake_set_read_rc(&fake_a, -EIO);
	/* The edge read of "after" is the one that fails: the 100 W seen before it
	 * is not a reading inside "after". */
	assert_int_equal(tw_begin(m, "after"), 0);
	assert_int_equal(tw_end(m, "after", &ms), 0);
	jst_domain_energy d = {.size = sizeof d};
	jst_measurement_domain(ms, 0, &d);
	assert_float_equal(d.energy_j, 0.0, 0);
	assert_true(d.partial);
	assert_non_null(strstr(d.note, "before the window began"));
	assert_true(isnan(d.peak_power_w));
	jst_measurement_free(ms);

	assert_int_equal(tw_end(m, "before", &ms), 0);
	jst_measurement_domain(ms, 0, &d);
	assert_float_equal(d.peak_power_w, 100.0, 0); /* seen at its begin edge */
	assert_true(d.partial);
	assert_non_null(strstr(d.note, "read failed"));
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
	assert_true(d.partial); /* the garbage reading is said, not hidden */
	jst_measurement_free(ms);
	jst_meter_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(nested_and_overlapping_windows, setup),
	    cmocka_unit_test_setup(names_are_checked, setup),
	    cmocka_unit_test_setup(wraps_are_extended, setup),
	    cmocka_unit_test_setup(reset_marks_partial_never_negative, setup),
	    cmocka_unit_test_setup(failing_device_gives_partial, setup),
	    cmocka_unit_test_setup(power_domains_are_integrated, setup),
	    cmocka_unit_test_setup(constant_power_is_exact, setup),
	    cmocka_unit_test_setup(one_device_two_backends, setup),
	    cmocka_unit_test_setup(unavailable_backends_say_why, setup),
	    cmocka_unit_test_setup(series_and_telemetry, setup),
	    cmocka_unit_test_setup(window_telemetry, setup),
	    cmocka_unit_test_setup(wrap_safe_sampler_period, setup),
	    cmocka_unit_test_setup(begin_here_end_there, setup),
	    cmocka_unit_test_setup(scoped_and_wrapped_forms, setup),
	    cmocka_unit_test_setup(measurement_outlives_meter, setup),
	    cmocka_unit_test_setup(failed_backend_read_leaves_no_stale_power, setup),
	    cmocka_unit_test_setup(garbage_counter_value_adds_no_energy, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
