/* The PTDaemon protocol's parsing (src/backends/ptd_proto.c): readings with
 * their times and optional fields, what is refused and why, times in both
 * forms, uncertainties, addresses and ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ptd_proto.h"

static void reading_with_time(void **st)
{
	(void)st;
	struct jst_ptd_sample s;
	assert_int_equal(jst_ptd_parse_sample("Time,1764626000.250000,Watts,245.5,Volts,230.0,"
	                                      "Amps,1.12,PF,0.95,Mark,joulestat",
	                                      &s),
	                 0);
	assert_true(s.has_time);
	assert_true(fabs(s.time_s - 1764626000.25) < 1e-6);
	assert_true(s.watts == 245.5);
	assert_true(s.volts == 230.0);
	assert_true(s.pf == 0.95);
	assert_string_equal(s.mark, "joulestat");
	assert_true(isnan(s.energy_j));
	assert_true(isnan(s.uncertainty));
}

static void optional_fields(void **st)
{
	(void)st;
	struct jst_ptd_sample s;
	/* Wh becomes joules; a percent is a fraction; unknown quantities pass. */
	assert_int_equal(
	    jst_ptd_parse_sample("Time,1764626000.1,Watts,100,Wh,0.5,Uncertainty,0.2%,Hz,50", &s),
	    0);
	assert_true(fabs(s.energy_j - 1800) < 1e-9);
	assert_true(fabs(s.uncertainty - 0.002) < 1e-12);
	assert_int_equal(jst_ptd_parse_sample("Watts,123.5", &s), 0);
	assert_false(s.has_time);
	assert_true(s.watts == 123.5);
}

static void refused(void **st)
{
	(void)st;
	struct jst_ptd_sample s;
	assert_int_equal(jst_ptd_parse_sample("Error: no sample yet", &s), -EPROTO);
	assert_int_equal(jst_ptd_parse_sample("Watts,-1.00000", &s), -ERANGE);
	const char *bad[] = {
	    "",
	    "Time,",
	    "Time,1764626000.1,Watts",              /* truncated */
	    "Time,1764626000.1,Watts,nan",          /* not a number */
	    "Time,1764626000.1,Watts,inf",          /* not finite */
	    "Time,1764626000.1,Watts,0x10",         /* hex */
	    "Time,1764626000.1,Watts,1e300",        /* beyond any node */
	    "Watts,100,Watts,200",                  /* said twice */
	    "Time,yesterday,Watts,100",             /* not a time */
	    "Time,12.5,Watts,100",                  /* not a clock */
	    "Volts,230",                            /* no watts */
	    "Time,1764626000.1,Watts,10,Mark,\x07", /* unprintable */
	    "Time,1764626000.1,Watts,10,Uncertainty,2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(jst_ptd_parse_sample(bad[i], &s), -EBADMSG);
}

static void times(void **st)
{
	(void)st;
	double t;
	assert_int_equal(jst_ptd_parse_time("1764626000.5", &t), 0);
	assert_true(t == 1764626000.5);
	/* PTDaemon's log form, UTC: 2026-12-01 22:13:34.125 */
	assert_int_equal(jst_ptd_parse_time("12-01-2026 22:13:34.125", &t), 0);
	assert_true(fabs(t - 1796163214.125) < 1e-6);
	assert_int_equal(jst_ptd_parse_time("13-01-2026 22:13:34", &t), -EBADMSG);
	assert_int_equal(jst_ptd_parse_time("12-01-2026 22:13:34.", &t), -EBADMSG);
	assert_int_equal(jst_ptd_parse_time_reply("Time,1764626000.25", &t), 0);
	assert_true(t == 1764626000.25);
	assert_int_equal(jst_ptd_parse_time_reply("Error: unknown command", &t), -EPROTO);
}

static void uncertainty(void **st)
{
	(void)st;
	double u;
	assert_int_equal(jst_ptd_parse_uncertainty("Uncertainty,0.0023", &u), 0);
	assert_true(u == 0.0023);
	assert_int_equal(jst_ptd_parse_uncertainty("Uncertainty,1.5%", &u), 0);
	assert_true(fabs(u - 0.015) < 1e-12);
	assert_int_equal(jst_ptd_parse_uncertainty("Error: not available", &u), -EPROTO);
	assert_int_equal(jst_ptd_parse_uncertainty("Uncertainty,0", &u), -EBADMSG);
	assert_int_equal(jst_ptd_parse_uncertainty("Uncertainty,150%", &u), -EBADMSG);
}

static void addresses(void **st)
{
	(void)st;
	char host[80], err[160];
	unsigned port;
	assert_int_equal(
	    jst_ptd_parse_address("10.0.0.5:8889", host, sizeof host, &port, err, sizeof err), 0);
	assert_string_equal(host, "10.0.0.5");
	assert_int_equal(port, 8889);
	assert_int_equal(
	    jst_ptd_parse_address("ptd-host", host, sizeof host, &port, err, sizeof err), 0);
	assert_int_equal(port, 8888);
	assert_int_equal(
	    jst_ptd_parse_address("[::1]:9000", host, sizeof host, &port, err, sizeof err), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9000);
	assert_int_equal(
	    jst_ptd_parse_address("::1:8888", host, sizeof host, &port, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "brackets"));
	const char *bad[] = {"host:0",  "host:65536", "host:", ":80",
	                     "host:8x", "[::1",       "a b:1", "[::1]x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(
		    jst_ptd_parse_address(bad[i], host, sizeof host, &port, err, sizeof err),
		    -EINVAL);
}

static void ranges(void **st)
{
	(void)st;
	double v, a;
	assert_int_equal(jst_ptd_parse_ranges("auto", &v, &a), 0);
	assert_true(v == 0 && a == 0);
	assert_int_equal(jst_ptd_parse_ranges("300,20", &v, &a), 0);
	assert_true(v == 300 && a == 20);
	assert_int_equal(jst_ptd_parse_ranges("300", &v, &a), -EINVAL);
	assert_int_equal(jst_ptd_parse_ranges("-1,20", &v, &a), -EINVAL);
	assert_int_equal(jst_ptd_parse_ranges("300,nan", &v, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reading_with_time),
	    cmocka_unit_test(optional_fields),
	    cmocka_unit_test(refused),
	    cmocka_unit_test(times),
	    cmocka_unit_test(uncertainty),
	    cmocka_unit_test(addresses),
	    cmocka_unit_test(ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
