/* The public structs' size field (the library writes no more than the caller's
 * size and refuses one below the first version) and a meter used after fork
 * (-ECHILD at once, never a hang on the parent's locks), on a fake backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_backend.h"
#include "meter_internal.h"

static const struct jst_backend_ops *const one[] = {&fake_ops_a};

static jst_meter *open_meter(void)
{
	fake_reset(&fake_a);
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_set_counter(&fake_a, 0, 1000);
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 60000; /* only the test's own reads */
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, one, 1, &m), 0);
	return m;
}

/* A measurement of 2.5 J on gpu0. */
static jst_measurement *measure(jst_meter *m)
{
	jst_window *w;
	jst_measurement *ms;
	assert_int_equal(jst_window_begin(m, "x", &w), 0);
	fake_set_counter(&fake_a, 0, 3500);
	assert_int_equal(jst_window_end(w, &ms), 0);
	return ms;
}

static void size_zero_or_short_is_einval(void **st)
{
	(void)st;
	jst_meter *m = open_meter();
	jst_measurement *ms = measure(m);
	jst_total t = {0};
	assert_int_equal(jst_measurement_total(ms, JST_TOTAL_ALL, &t), -EINVAL);
	t.size = offsetof(jst_total, partial); /* one field short of the first version */
	assert_int_equal(jst_measurement_total(ms, JST_TOTAL_ALL, &t), -EINVAL);
	jst_domain_energy d = {.size = 1};
	assert_int_equal(jst_measurement_domain(ms, 0, &d), -EINVAL);
	jst_backend_info b = {.size = sizeof(size_t)};
	assert_int_equal(jst_meter_backend(m, 0, &b), -EINVAL);
	jst_domain_info di = {0};
	assert_int_equal(jst_meter_domain(m, 0, &di), -EINVAL);
	jst_sample s = {0};
	assert_int_equal(jst_meter_sample_now(m, 0, &s), -EINVAL);
	assert_int_equal(jst_meter_series(m, 0, &s, 1), -EINVAL);

	t.size = sizeof t;
	assert_int_equal(jst_measurement_total(ms, JST_TOTAL_ALL, &t), 0);
	assert_true(t.energy_j > 2.5 - 1e-9 && t.energy_j < 2.5 + 1e-9);
	assert_int_equal(t.size, sizeof t); /* the caller's, untouched */
	jst_measurement_free(ms);
	jst_meter_close(m);
}

/* A caller built against a later header passes a bigger struct: the library
 * fills its own fields and writes nothing past them. */
static void bigger_struct_gets_own_fields_only(void **st)
{
	(void)st;
	jst_meter *m = open_meter();
	jst_measurement *ms = measure(m);
	struct {
		jst_domain_energy d;
		unsigned char later[64];
	} big;
	memset(&big, 0xa5, sizeof big);
	big.d.size = sizeof big;
	assert_int_equal(jst_measurement_domain(ms, 0, &big.d), 0);
	assert_string_equal(big.d.name, "gpu0");
	assert_true(big.d.energy_j > 2.5 - 1e-9 && big.d.energy_j < 2.5 + 1e-9);
	for (size_t i = 0; i < sizeof big.later; i++)
		assert_int_equal(big.later[i], 0xa5);

	struct {
		jst_backend_info b;
		unsigned char later[16];
	} bb;
	memset(&bb, 0xa5, sizeof bb);
	bb.b.size = sizeof bb;
	assert_int_equal(jst_meter_backend(m, 0, &bb.b), 0);
	assert_string_equal(bb.b.name, "fake-a");
	for (size_t i = 0; i < sizeof bb.later; i++)
		assert_int_equal(bb.later[i], 0xa5);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

/* The series is an array at the caller's stride, given by buf[0].size: the
 * same samples as at the library's own stride, moved apart. */
static void series_at_a_bigger_stride(void **st)
{
	(void)st;
	fake_reset(&fake_a);
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_a.clock_power_w[0] = 100; /* the counter follows the clock at 100 W */
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 2;
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, one, 1, &m), 0);
	struct wide {
		jst_sample s;
		double later;
	} buf[4];
	jst_sample own[3] = {{.size = sizeof own[0]}};
	/* Both copies hold the newest three readings: the same three when their
	 * newest is the same one (the sampler may read between the two calls). */
	for (;;) {
		memset(buf, 0xa5, sizeof buf);
		buf[0].s.size = sizeof buf[0];
		int n = jst_meter_series(m, 0, &buf[0].s, 3);
		if (n == 3 && jst_meter_series(m, 0, own, 3) == 3 && own[2].t_ns == buf[2].s.t_ns)
			break;
		assert_true(n >= 0 && n <= 3);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(buf[i].s.size, sizeof buf[0]);
		assert_memory_equal((char *)&buf[i].s + sizeof(size_t),
		                    (char *)&own[i] + sizeof(size_t),
		                    sizeof own[i] - sizeof(size_t));
		assert_true(buf[i].later == 0); /* past the library's struct: zeroed */
		if (i)
			assert_true(buf[i].s.t_ns > buf[i - 1].s.t_ns);
	}
	unsigned char untouched[sizeof buf[3]];
	memset(untouched, 0xa5, sizeof untouched);
	assert_memory_equal(&buf[3], untouched, sizeof untouched); /* beyond cap */
	jst_meter_close(m);
}

/* In a forked child every reading call says -ECHILD at once; close forgets the
 * copy. Run while the parent holds an open window, as a real program would. */
static void forked_child_gets_echild(void **st)
{
	(void)st;
	jst_meter *m = open_meter();
	jst_window *w;
	assert_int_equal(jst_window_begin(m, "parent", &w), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		jst_window *cw = NULL;
		jst_measurement *ms = NULL;
		jst_sample s = {.size = sizeof s};
		bad |= jst_window_begin(m, "child", &cw) != -ECHILD || cw != NULL;
		bad |= (jst_window_rotate(w, &ms) != -ECHILD || ms != NULL) << 1;
		bad |= (jst_window_end(w, &ms) != -ECHILD || ms != NULL) << 2;
		bad |= (jst_meter_sample_now(m, 0, &s) != -ECHILD) << 3;
		bad |= (jst_meter_series(m, 0, &s, 1) != -ECHILD) << 4;
		bad |= (jst_meter_settle(m, 10) != -ECHILD) << 5;
		bad |= (strstr(jst_strerror(-ECHILD), "fork") == NULL) << 6;
		bad |= (jst_window_end_settled(w, 0, &ms) != -ECHILD || ms != NULL) << 7;
		jst_window_cancel(w);
		jst_meter_close(m);
		_exit(bad);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's window and meter are untouched by the child. */
	fake_set_counter(&fake_a, 0, 2000);
	jst_measurement *ms;
	assert_int_equal(jst_window_end(w, &ms), 0);
	jst_total t = {.size = sizeof t};
	assert_int_equal(jst_measurement_total(ms, JST_TOTAL_ALL, &t), 0);
	assert_true(t.energy_j > 1 - 1e-9 && t.energy_j < 1 + 1e-9);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(size_zero_or_short_is_einval),
	    cmocka_unit_test(bigger_struct_gets_own_fields_only),
	    cmocka_unit_test(series_at_a_bigger_stride),
	    cmocka_unit_test(forked_child_gets_echild),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
