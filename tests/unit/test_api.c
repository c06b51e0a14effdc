/* Misuse of the public API is a clear error code, never a crash or undefined
 * behaviour; every code has text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fake_backend.h"
#include "meter_internal.h"
#include "named_windows.h"

static void strerror_takes_any_int(void **st)
{
	(void)st;
	/* -INT_MIN does not exist: negating it is undefined (UBSan stops here). */
	assert_non_null(jst_strerror(INT_MIN));
	assert_non_null(jst_strerror(INT_MAX));
	assert_string_equal(jst_strerror(0), "success");
	assert_string_equal(jst_strerror(-ENOENT), jst_strerror(ENOENT));
	const int codes[] = {EINVAL, ENOENT, EEXIST, ENODEV, ENOMEM,      EACCES,
	                     EIO,    ERANGE, ENOSYS, E2BIG,  ENAMETOOLONG};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *s = jst_strerror(-codes[i]);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "unknown error");
	}
}

static void null_arguments_are_errors(void **st)
{
	(void)st;
	jst_config_init(NULL); /* nothing to fill, nothing to crash on */
	assert_int_equal(jst_meter_open(NULL, NULL), -EINVAL);
	assert_int_equal(jst_meter_open_backends(NULL, NULL, 1, &(jst_meter *){NULL}), -EINVAL);
	jst_meter_close(NULL);
	assert_int_equal(jst_meter_backend_count(NULL), 0);
	assert_int_equal(jst_meter_domain_count(NULL), 0);
	assert_int_equal(jst_meter_backend(NULL, 0, &(jst_backend_info){0}), -EINVAL);
	assert_int_equal(jst_meter_domain(NULL, 0, &(jst_domain_info){0}), -EINVAL);
	assert_int_equal(jst_meter_series(NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(jst_meter_sample_now(NULL, 0, &(jst_sample){0}), -EINVAL);
	jst_window *w = (jst_window *)1;
	assert_int_equal(jst_window_begin(NULL, "w", &w), -EINVAL);
	assert_null(w);
	assert_int_equal(jst_window_end(NULL, NULL), -EINVAL);
	assert_int_equal(jst_window_rotate(NULL, NULL), -EINVAL);
	jst_window_cancel(NULL);
	assert_string_equal(jst_window_label(NULL), "");
	assert_int_equal(jst_measure_call(NULL, "w", NULL, NULL, NULL), -EINVAL);
	jst_scope_end(NULL);
	jst_measurement_free(NULL);
	assert_null(jst_measurement_name(NULL));
	assert_int_equal(jst_measurement_domain_count(NULL), 0);
	assert_int_equal(jst_measurement_total(NULL, JST_TOTAL_ALL, &(jst_total){0}), -EINVAL);
	assert_string_equal(jst_kind_name((jst_kind)-1), "unknown");
	assert_string_equal(jst_method_name(JST_METHOD_COUNT_), "unknown");
	assert_string_equal(jst_total_name(JST_TOTAL_COUNT_), "unknown");
}

static void null_arguments_on_an_open_meter(void **st)
{
	(void)st;
	static const struct jst_backend_ops *const ops[] = {&fake_ops_a};
	fake_reset(&fake_a);
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 60000; /* the sampler stays out of the way */
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, ops, 1, &m), 0);

	jst_window *w;
	assert_int_equal(jst_window_begin(m, "w", NULL), -EINVAL);
	/* A label is optional. */
	assert_int_equal(jst_window_begin(m, NULL, &w), 0);
	assert_string_equal(jst_window_label(w), "");
	jst_window_cancel(w);
	assert_int_equal(jst_meter_backend(m, 0, NULL), -EINVAL);
	assert_int_equal(jst_meter_domain(m, 0, NULL), -EINVAL);
	assert_int_equal(jst_meter_series(m, 0, NULL, 4), -EINVAL);
	assert_int_equal(jst_meter_series(m, 0, NULL, 0), 0);
	assert_int_equal(jst_meter_sample_now(m, 0, NULL), -EINVAL);
	assert_int_equal(jst_meter_sample_now(m, 1, &(jst_sample){0}), -EINVAL);
	assert_int_equal(jst_measure_call(m, "w", NULL, NULL, NULL), -EINVAL);
	assert_int_equal(jst_measure_call(m, NULL, NULL, NULL, NULL), -EINVAL);

	jst_measurement *ms = (jst_measurement *)1;
	jst_scope s = jst_scope_begin(NULL, "w", &ms);
	assert_int_equal(s.status, -EINVAL);
	assert_null(ms);
	jst_scope_end(&s);
	assert_int_equal(s.status, -EINVAL);

	/* A measurement's accessors check their arguments too. */
	assert_int_equal(tw_begin(m, "w"), 0);
	assert_int_equal(tw_end(m, "w", &ms), 0);
	assert_int_equal(jst_measurement_domain(ms, 0, NULL), -EINVAL);
	assert_int_equal(jst_measurement_domain(ms, 1, &(jst_domain_energy){0}), -EINVAL);
	assert_int_equal(jst_measurement_total(ms, (jst_total_kind)-1, &(jst_total){0}), -EINVAL);
	assert_int_equal(jst_measurement_total(ms, JST_TOTAL_ALL, NULL), -EINVAL);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void out_of_memory_at_open_is_an_error(void **st)
{
	(void)st;
	static const struct jst_backend_ops *const ops[] = {&fake_ops_a};
	fake_reset(&fake_a);
	fake_add(&fake_a, "gpu0", JST_KIND_GPU, "gpu:GPU-0", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	fake_add(&fake_a, "gpu1", JST_KIND_GPU, "gpu:GPU-1", JST_METHOD_COUNTER, 0.05, 1e-3, 0);
	jst_config cfg;
	jst_config_init(&cfg);
	/* A ring whose size overflows size_t: its allocation fails half way through
	 * the meter's construction, and everything made so far must be released
	 * (LeakSanitizer checks that under -Db_sanitize=address). */
	cfg.series_capacity = SIZE_MAX / 8;
	jst_meter *m = (jst_meter *)1;
	assert_int_equal(jst_meter_open_backends(&cfg, ops, 1, &m), -ENOMEM);
	assert_null(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(strerror_takes_any_int),
	    cmocka_unit_test(null_arguments_are_errors),
	    cmocka_unit_test(null_arguments_on_an_open_meter),
	    cmocka_unit_test(out_of_memory_at_open_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
