/* Generic options: jst_config_set's checks and messages, JOULESTAT_OPTIONS and
 * the keys' own variables, which value wins, and what backends are handed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter_internal.h"

static int clean_env(void **st)
{
	(void)st;
	unsetenv("JOULESTAT_OPTIONS");
	unsetenv("JOULESTAT_NVML_LIBRARY");
	unsetenv("JOULESTAT_SYSFS_ROOT");
	unsetenv("JOULESTAT_PROCFS_ROOT");
	unsetenv("CUDA_VISIBLE_DEVICES");
	return 0;
}

/* What a backend would be handed for key. */
static const char *resolved(const struct jst_resolved_config *rc, const char *key)
{
	struct jst_backend_ctx ctx = {.options = rc->options};
	return jst_backend_option(&ctx, key, "(none)");
}

static void unknown_key_names_every_known_one(void **st)
{
	(void)st;
	jst_config cfg;
	jst_config_init(&cfg);
	/* A key of a backend's family: that backend's keys. */
	assert_int_equal(jst_config_set(&cfg, "nvml.libary", "x"), -EINVAL);
	const char *e = jst_config_error(&cfg);
	assert_string_equal(e, "unknown option 'nvml.libary' (nvml's keys: nvml.library)");
	/* Any other: the core keys, then each backend's keys or family, as many
	 * as fit whole (the message is never cut mid-word), and where to look. */
	assert_int_equal(jst_config_set(&cfg, "no.such", "x"), -EINVAL);
	e = jst_config_error(&cfg);
	assert_non_null(strstr(e, "unknown option 'no.such' (known: "));
	const char *keys[] = {"backends",       "gpus",     "period_ms",
	                      "cross_validate", "estimate", "series_capacity"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		assert_non_null(strstr(e, keys[i]));
	assert_non_null(strstr(e, "ptd.*, "));
	size_t n = strlen(e);
	assert_true(n < JST_CONFIG_ERROR_MAX - 1);
	assert_string_equal(e + n - strlen("docs/api.md lists each)"), "docs/api.md lists each)");
	/* A success clears the message. */
	assert_int_equal(jst_config_set(&cfg, "nvml.library", "/x/libnvidia-ml.so.1"), 0);
	assert_string_equal(jst_config_error(&cfg), "");
}

static void bad_values_name_what_is_accepted(void **st)
{
	(void)st;
	static const struct {
		const char *key, *value, *says;
	} cases[] = {
	    {"period_ms", "-5", "period_ms: want a whole number of milliseconds from 1 to 3600000"},
	    {"period_ms", "0", "not '0'"},
	    {"period_ms", "3600001", "from 1 to 3600000"},
	    {"period_ms", "10ms", "not '10ms'"},
	    {"period_ms", "", "period_ms"},
	    {"series_capacity", "99999999999", "series_capacity: want a whole number"},
	    {"cross_validate", "maybe", "cross_validate: want 0 or 1"},
	    {"estimate", "2", "estimate: want 0 or 1"},
	    {"backends", "nvml,foo",
	     "unknown backend 'foo' (known: ptd, dcgm, nvml, amdsmi, rapl, rapl-perf, rapl-msr, "
	     "daemon, "
	     "hwmon, apple, jetson, redfish, ipmi, estimate)"},
	    {"backends", ",", "backends: want backend names"},
	    {"gpus", "0,,x", "gpus: want GPU indices or UUIDs"},
	    {"nvml.library", "", "nvml.library: want a path or soname of libnvidia-ml"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		jst_config cfg;
		jst_config_init(&cfg);
		assert_int_equal(jst_config_set(&cfg, cases[i].key, cases[i].value), -EINVAL);
		if (!strstr(jst_config_error(&cfg), cases[i].says))
			fail_msg("%s=%s: '%s' lacks '%s'", cases[i].key, cases[i].value,
			         jst_config_error(&cfg), cases[i].says);
		/* Nothing was changed by a refused value. */
		assert_int_equal(cfg.sample_period_ms, 0);
		assert_int_equal(cfg.allow_estimate, 1);
		assert_int_equal(cfg.options_[0], '\0');
	}
	assert_int_equal(jst_config_set(NULL, "period_ms", "5"), -EINVAL);
	jst_config cfg;
	jst_config_init(&cfg);
	assert_int_equal(jst_config_set(&cfg, NULL, "5"), -EINVAL);
	assert_non_null(strstr(jst_config_error(&cfg), "key"));
}

static void core_keys_set_their_fields(void **st)
{
	(void)st;
	jst_config cfg;
	jst_config_init(&cfg);
	assert_int_equal(jst_config_set(&cfg, "period_ms", "250"), 0);
	assert_int_equal(jst_config_set(&cfg, "estimate", "off"), 0);
	assert_int_equal(jst_config_set(&cfg, "cross_validate", "yes"), 0);
	assert_int_equal(jst_config_set(&cfg, "series_capacity", "16"), 0);
	assert_int_equal(cfg.sample_period_ms, 250);
	assert_int_equal(cfg.allow_estimate, 0);
	assert_int_equal(cfg.cross_validate, 1);
	assert_int_equal(cfg.series_capacity, 16);
	/* A string key wins over its field set before; NULL unsets. */
	cfg.backends = "nvml";
	assert_int_equal(jst_config_set(&cfg, "backends", "rapl"), 0);
	struct jst_resolved_config rc;
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(rc.backends, "rapl");
	assert_true(rc.period_s > 0.25 - 1e-12 && rc.period_s < 0.25 + 1e-12);
	assert_int_equal(rc.series_capacity, 16);
	assert_int_equal(rc.allow_estimate, 0);
	assert_int_equal(jst_config_set(&cfg, "backends", NULL), 0);
	assert_int_equal(jst_config_set(&cfg, "period_ms", NULL), 0);
	assert_int_equal(jst_config_set(&cfg, "estimate", NULL), 0);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_int_equal(rc.backends_set, 0);
	assert_true(rc.period_s > 0.1 - 1e-12 && rc.period_s < 0.1 + 1e-12); /* the default */
	assert_int_equal(rc.allow_estimate, 1);
}

/* The struct's fields, set directly, take what their options take: past it,
 * jst_meter_open refuses them by name (they were taken as given: a period of
 * 49 days, or an allocation of 2^40 samples failing as -ENOMEM unexplained). */
static void fields_past_their_range_are_refused(void **st)
{
	(void)st;
	jst_config cfg;
	jst_meter *m = NULL;
	jst_config_init(&cfg);
	cfg.backends = "estimate";
	cfg.sample_period_ms = 4294967295u;
	assert_int_equal(jst_meter_open(&cfg, &m), -EINVAL);
	assert_null(m);
	assert_non_null(strstr(jst_config_error(&cfg), "sample_period_ms"));
	cfg.sample_period_ms = 0;
	cfg.series_capacity = (size_t)1 << 40;
	assert_int_equal(jst_meter_open(&cfg, &m), -EINVAL);
	assert_non_null(strstr(jst_config_error(&cfg), "series_capacity"));
	cfg.series_capacity = 16777216;
	assert_int_equal(jst_meter_open(&cfg, &m), 0);
	jst_meter_close(m);
}

/* The caller's option, else the key's own variable, else JOULESTAT_OPTIONS,
 * else the default. */
static void backend_option_precedence(void **st)
{
	(void)st;
	jst_config cfg;
	jst_config_init(&cfg);
	struct jst_resolved_config rc;
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "nvml.library"), "libnvidia-ml.so.1");
	assert_string_equal(resolved(&rc, "sysfs.root"), "/sys");
	assert_string_equal(resolved(&rc, "procfs.root"), "/proc");

	setenv("JOULESTAT_OPTIONS", "nvml.library=/opts/nv.so,sysfs.root=/opts/sys", 1);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "nvml.library"), "/opts/nv.so");
	assert_string_equal(resolved(&rc, "sysfs.root"), "/opts/sys");

	setenv("JOULESTAT_NVML_LIBRARY", "/var/nv.so", 1);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "nvml.library"), "/var/nv.so");
	assert_string_equal(resolved(&rc, "sysfs.root"), "/opts/sys");

	assert_int_equal(jst_config_set(&cfg, "nvml.library", "/set/nv.so"), 0);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "nvml.library"), "/set/nv.so");
	/* A later set replaces, and the rest of the options stay. */
	assert_int_equal(jst_config_set(&cfg, "procfs.root", "/p"), 0);
	assert_int_equal(jst_config_set(&cfg, "nvml.library", "/again.so"), 0);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "nvml.library"), "/again.so");
	assert_string_equal(resolved(&rc, "procfs.root"), "/p");
	clean_env(NULL);
}

static void environment_options(void **st)
{
	(void)st;
	jst_config cfg;
	jst_config_init(&cfg);
	struct jst_resolved_config rc;
	/* "gpus=0,2" keeps its comma: a piece without '=' continues the value. */
	setenv("JOULESTAT_OPTIONS", "gpus=0,2, period_ms=50,estimate=0,cross_validate=1", 1);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(rc.gpus, "0,2");
	assert_int_equal(rc.gpus_set, JST_GPUS_EXPLICIT);
	assert_true(rc.period_s > 0.05 - 1e-12 && rc.period_s < 0.05 + 1e-12);
	assert_int_equal(rc.allow_estimate, 0);
	assert_int_equal(rc.cross_validate, 1);
	setenv("JOULESTAT_OPTIONS", "nvml.library=/odd,dir/nv.so,sysfs.root=/s", 1);
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "nvml.library"), "/odd,dir/nv.so");
	assert_string_equal(resolved(&rc, "sysfs.root"), "/s");
	setenv("JOULESTAT_OPTIONS", "gpus=0,2", 1);
	/* The caller's settings win. */
	cfg.sample_period_ms = 7;
	cfg.gpus = "1";
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(rc.gpus, "1");
	assert_true(rc.period_s > 0.007 - 1e-12 && rc.period_s < 0.007 + 1e-12);

	/* A wrong pair in the environment fails the open, and says where it is. */
	static const struct {
		const char *env, *says;
	} bad[] = {
	    {"period_ms=-1", "JOULESTAT_OPTIONS: period_ms: want a whole number"},
	    {"nosuch=1", "JOULESTAT_OPTIONS: unknown option 'nosuch'"},
	    {"period_ms", "JOULESTAT_OPTIONS: want key=value pairs"},
	    {"backends=nvml,bogus", "unknown backend 'bogus'"},
	    {"gpus=0,,2", "JOULESTAT_OPTIONS: gpus: want GPU indices or UUIDs separated by commas, "
	                  "such as '0,2', not '0,,2'"},
	    {"period_ms=5,", "not '5,'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("JOULESTAT_OPTIONS", bad[i].env, 1);
		jst_config_init(&cfg);
		jst_meter *m = (jst_meter *)&cfg; /* must come back NULL */
		assert_int_equal(jst_meter_open(&cfg, &m), -EINVAL);
		assert_null(m);
		if (!strstr(jst_config_error(&cfg), bad[i].says))
			fail_msg("%s: '%s' lacks '%s'", bad[i].env, jst_config_error(&cfg),
			         bad[i].says);
		assert_int_equal(jst_meter_open(NULL, &m), -EINVAL); /* no config: the code alone */
	}
	clean_env(NULL);
}

/* A backend name set as a field (not through jst_config_set) is checked at open. */
static void open_checks_the_fields_too(void **st)
{
	(void)st;
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = "rapl,nope";
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open(&cfg, &m), -EINVAL);
	assert_non_null(
	    strstr(jst_config_error(&cfg),
	           "backends: unknown backend 'nope' (known: ptd, dcgm, nvml, amdsmi, rapl, "
	           "rapl-perf, rapl-msr, daemon, hwmon, apple, jetson, redfish, ipmi, estimate)"));
	cfg.backends = NULL;
	cfg.gpus = "0,,";
	assert_int_equal(jst_meter_open(&cfg, &m), -EINVAL);
	assert_non_null(strstr(jst_config_error(&cfg), "gpus: want GPU indices"));
}

static void options_that_do_not_fit_are_enospc(void **st)
{
	(void)st;
	jst_config cfg;
	jst_config_init(&cfg);
	char path[400]; /* 399 characters */
	memset(path, 'a', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	/* Three long paths fit (1236 of 2048 bytes); the same keys set again
	 * replace, never grow. */
	for (int round = 0; round < 10; round++) {
		assert_int_equal(jst_config_set(&cfg, "nvml.library", path), 0);
		assert_int_equal(jst_config_set(&cfg, "sysfs.root", path), 0);
		assert_int_equal(jst_config_set(&cfg, "procfs.root", path), 0);
	}
	char longer[600];
	memset(longer, 'b', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_int_equal(jst_config_set(&cfg, "nvml.library", longer), -EINVAL); /* > 511 */
	assert_non_null(strstr(jst_config_error(&cfg), "of 1 to 511 characters"));
	/* A GPU list of 807 characters is a valid selection, but 811 bytes are left. */
	char gpus[808];
	size_t n = 0;
	while (n + 2 < sizeof gpus)
		n += (size_t)snprintf(gpus + n, sizeof gpus - n, "%s1", n ? "," : "");
	assert_int_equal(strlen(gpus), 807);
	assert_int_equal(jst_config_set(&cfg, "gpus", gpus), -ENOSPC);
	assert_non_null(strstr(jst_config_error(&cfg), "gpus: no room left"));
	gpus[801] = '\0'; /* 801 + "gpus=" + NUL = 807 bytes: fits */
	assert_int_equal(jst_config_set(&cfg, "gpus", gpus), 0);
	assert_int_equal(jst_config_set(&cfg, "gpus", "0,1"), 0); /* replacing frees room */
	assert_int_equal(jst_config_set(&cfg, "backends", "nvml,rapl"), 0);
	struct jst_resolved_config rc;
	assert_int_equal(jst_config_resolve(&cfg, &rc), 0);
	assert_string_equal(resolved(&rc, "sysfs.root"), path);
	assert_string_equal(resolved(&rc, "nvml.library"),
	                    path); /* the refused one changed nothing */
	assert_string_equal(rc.gpus, "0,1");
	assert_string_equal(rc.backends, "nvml,rapl");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(unknown_key_names_every_known_one, clean_env),
	    cmocka_unit_test_setup(bad_values_name_what_is_accepted, clean_env),
	    cmocka_unit_test_setup(core_keys_set_their_fields, clean_env),
	    cmocka_unit_test_setup(fields_past_their_range_are_refused, clean_env),
	    cmocka_unit_test_setup(backend_option_precedence, clean_env),
	    cmocka_unit_test_setup(environment_options, clean_env),
	    cmocka_unit_test_setup(open_checks_the_fields_too, clean_env),
	    cmocka_unit_test_setup(options_that_do_not_fit_are_enospc, clean_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
