/* joulestat serve's and top's pure parts: the Prometheus exposition (both
 * formats, escaping, numbers that read back exactly), Accept negotiation, the
 * web-config reader, and top's sorting and totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "top_view.h"
#include "webconfig.h"

static struct jst_prom_domain dom(const char *name, double e, double p, int counted)
{
	return (struct jst_prom_domain){.name = name,
	                                .kind = "gpu",
	                                .device = "gpu:GPU-1",
	                                .method = "counter",
	                                .source = "energy-counter",
	                                .backend = "nvml",
	                                .counted = counted,
	                                .energy_j = e,
	                                .power_w = p,
	                                .accuracy = 0.05,
	                                .temperature_c = NAN,
	                                .utilization_pct = 41,
	                                .clock_mhz = 1410,
	                                .power_limit_w = NAN,
	                                .age_s = 0.05};
}

static char *render(const struct jst_prom_snapshot *s, int format)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(jst_prom_write(f, s, format), 0);
	fclose(f);
	return buf;
}

static void test_text_format(void **st)
{
	(void)st;
	struct jst_prom_domain d[2] = {dom("gpu0", 1234.5678901234567, 300, 1),
	                               dom("we\"ird\\na\nme", 0.1, NAN, 0)};
	struct jst_prom_backend b[1] = {{"nvml", 1}};
	struct jst_prom_snapshot s = {d, 2, b, 1, "9.9.9", 41};
	char *t = render(&s, JST_PROM_TEXT);
	assert_non_null(strstr(t,
	                       "# TYPE joulestat_energy_joules_total counter\n"
	                       "joulestat_energy_joules_total{domain=\"gpu0\",kind=\"gpu\","
	                       "device=\"gpu:GPU-1\",method=\"counter\",source=\"energy-counter\","
	                       "backend=\"nvml\",counted=\"1\"} 1234.5678901234567\n"));
	/* Label values escape backslash, quote and newline. */
	assert_non_null(strstr(t, "domain=\"we\\\"ird\\\\na\\nme\""));
	/* 41 % is 0.41 exactly as written; MHz become Hz. */
	assert_non_null(strstr(t, "counted=\"1\"} 0.41\n"));
	assert_non_null(strstr(t, "counted=\"1\"} 1410000000\n"));
	/* A family nobody reports has no header; a NaN sample is left out. */
	assert_null(strstr(t, "joulestat_temperature_celsius"));
	assert_null(strstr(t, "NaN"));
	assert_int_equal(strstr(t, "joulestat_power_watts{domain=\"we") == NULL, 1);
	assert_non_null(strstr(t, "joulestat_up{backend=\"nvml\"} 1\n"));
	assert_non_null(strstr(t, "joulestat_build_info{version=\"9.9.9\"} 1\n"));
	assert_non_null(strstr(t, "joulestat_scrapes_total 41\n"));
	/* The text format has no families: HELP and TYPE name the sample. */
	assert_non_null(strstr(t, "# HELP joulestat_energy_joules_total Energy"));
	assert_non_null(strstr(t, "# HELP joulestat_scrapes_total Scrapes"));
	assert_non_null(strstr(t, "# TYPE joulestat_scrapes_total counter\n"));
	assert_null(strstr(t, "# TYPE joulestat_energy_joules counter"));
	assert_null(strstr(t, "# EOF"));
	assert_null(strstr(t, "# UNIT"));
	/* Every line is a comment or a sample: name, optional labels, a value. */
	for (char *line = t; *line;) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true(line[0] == '#' || !strncmp(line, "joulestat_", 10));
		line = nl + 1;
	}
	free(t);
}

static void test_openmetrics_format(void **st)
{
	(void)st;
	struct jst_prom_domain d[1] = {dom("gpu0", 1, 2, 1)};
	struct jst_prom_snapshot s = {d, 1, NULL, 0, "1", 0};
	char *t = render(&s, JST_PROM_OPENMETRICS);
	assert_non_null(strstr(t, "# TYPE joulestat_energy_joules counter\n"
	                          "# UNIT joulestat_energy_joules joules\n"));
	assert_non_null(strstr(t, "# UNIT joulestat_clock_hertz hertz\n"));
	/* OpenMetrics names the counter's family, without _total. */
	assert_non_null(strstr(t, "# TYPE joulestat_scrapes counter\njoulestat_scrapes_total 0\n"));
	assert_null(strstr(t, "# TYPE joulestat_energy_joules_total"));
	size_t n = strlen(t);
	assert_true(n > 6 && !strcmp(t + n - 6, "# EOF\n"));
	free(t);
}

static void test_negotiation(void **st)
{
	(void)st;
	assert_int_equal(jst_prom_negotiate(NULL), JST_PROM_TEXT);
	assert_int_equal(jst_prom_negotiate("*/*"), JST_PROM_TEXT);
	assert_int_equal(jst_prom_negotiate("text/plain;version=0.0.4"), JST_PROM_TEXT);
	assert_int_equal(jst_prom_negotiate("application/openmetrics-text;version=1.0.0,"
	                                    "application/openmetrics-text;version=0.0.1;q=0.75,"
	                                    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
	                 JST_PROM_OPENMETRICS);
	assert_int_equal(jst_prom_negotiate("text/plain, Application/OpenMetrics-Text"),
	                 JST_PROM_OPENMETRICS);
	assert_int_equal(jst_prom_negotiate("application/openmetrics-text; q=0"), JST_PROM_TEXT);
	assert_int_equal(jst_prom_negotiate("application/openmetrics-textual"), JST_PROM_TEXT);
	assert_string_equal(jst_prom_content_type(JST_PROM_TEXT),
	                    "text/plain; version=0.0.4; charset=utf-8");
}

static void test_webconfig(void **st)
{
	(void)st;
	struct jst_webconfig c;
	const char *good =
	    "---\n# a comment\ntls_server_config:\n"
	    "  cert_file: server.crt   # relative to the file\n"
	    "  key_file: \"/etc/k ey.pem\"\n"
	    "  min_version: TLS13\n"
	    "  client_auth_type: NoClientCert\n"
	    "\n"
	    "basic_auth_users:\n"
	    "  alice: $2y$10$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
	    "  'bob o''neil': '$2b$04$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'\n"
	    "http_server_config:\n  http2: false\n";
	if (jst_webconfig_parse(good, "/etc/joulestat", &c))
		fail_msg("%s", c.error);
	assert_string_equal(c.cert_file, "/etc/joulestat/server.crt");
	assert_string_equal(c.key_file, "/etc/k ey.pem");
	assert_string_equal(c.min_version, "TLS13");
	assert_int_equal(c.nusers, 2);
	assert_string_equal(c.users[0].user, "alice");
	assert_string_equal(c.users[0].hash,
	                    "$2y$10$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	assert_string_equal(c.users[1].user, "bob o'neil");
	assert_string_equal(c.users[1].hash,
	                    "$2b$04$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	char prio[128];
	jst_webconfig_priorities(&c, prio, sizeof prio);
	assert_string_equal(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
	jst_webconfig_free(&c);

	assert_int_equal(jst_webconfig_parse("basic_auth_users: {}\n", NULL, &c), 0);
	assert_int_equal(c.nusers, 0);
	jst_webconfig_priorities(&c, prio, sizeof prio);
	assert_string_equal(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3");
	jst_webconfig_free(&c);

	static const struct {
		const char *text, *error;
	} bad[] = {
	    {"tls_server_config:\n  cert_file: a\n", "both cert_file and key_file"},
	    {"tls_server_config:\n  key_file: a\n  cipher_suites: x\n", "line 3: tls_server"
	                                                                "_config.cipher_suites"},
	    {"tls_server_config:\n  min_version: TLS14\n", "line 2: min_version: 'TLS14'"},
	    {"basic_auth_users:\n  a: "
	     "$2b$04$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n  a: "
	     "$2b$04$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
	     "line 3: basic_auth_users: a given"},
	    /* A hash that no password can match is refused, not its user locked out. */
	    {"basic_auth_users:\n  u: $2b$04$short\n", "line 2: basic_auth_users: u's hash"},
	    {"basic_auth_users:\n  u: "
	     "$2b$03$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
	     "not a whole bcrypt hash"},
	    {"basic_auth_users:\n  u: "
	     "$2x$10$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
	     "not a whole bcrypt hash"},
	    {"basic_auth_users:\n  u: "
	     "$2b$10$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWXY!\n",
	     "not a whole bcrypt hash"},
	    /* An empty range of TLS versions. */
	    {"tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n"
	     "  max_version: TLS12\n",
	     "min_version TLS13 is above max_version TLS12"},
	    {"tls_server_config:\n  cert_file: c\n  key_file: k\n  max_version: TLS11\n",
	     "min_version TLS12 (the default) is above max_version TLS11"},
	    {"basic_auth_users:\n  a: secret\n", "must be a bcrypt hash"},
	    {"users:\n", "line 1: unknown key 'users'"},
	    {"  cert_file: x\n", "indented before any section"},
	    {"tls_server_config:\n  cert_file: 'x\n", "not closed"},
	    {"tls_server_config:\n\tcert_file: x\n", "tabs"},
	    {"tls_server_config:\n  a:\n    b: c\n", "line 2: a: no value"},
	    {"tls_server_config: x\n", "expected a mapping"},
	    {"basic_auth_users:\n  - a\n", "only mappings"},
	    {"tls_server_config:\n  cert_file x\n", "expected key: value"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(jst_webconfig_parse(bad[i].text, "/d", &c), -EINVAL);
		if (!strstr(c.error, bad[i].error))
			fail_msg("case %zu: '%s' does not say '%s'", i, c.error, bad[i].error);
		assert_null(c.cert_file);
		assert_int_equal(c.nusers, 0);
	}
	assert_true(jst_webconfig_load("/nonexistent/web.yml", &c) < 0);
	assert_non_null(strstr(c.error, "cannot open /nonexistent/web.yml"));
}

static void test_top_view(void **st)
{
	(void)st;
	struct jst_prom_domain d[4] = {dom("gpu1", 50, 100, 1), dom("core-0", 80, NAN, 0),
	                               dom("gpu0", 10, 300, 1), dom("dram-0", 5, 100, 1)};
	d[3].accuracy = 0.25;
	struct jst_prom_snapshot s = {d, 4, NULL, 0, "1", 0};
	size_t o[4];
	jst_top_order(&s, JST_TOP_BY_POWER, o);
	/* Highest first; a tie keeps the meter's order; NaN last. */
	size_t by_power[] = {2, 0, 3, 1};
	assert_memory_equal(o, by_power, sizeof o);
	jst_top_order(&s, JST_TOP_BY_ENERGY, o);
	size_t by_energy[] = {1, 0, 2, 3};
	assert_memory_equal(o, by_energy, sizeof o);
	jst_top_order(&s, JST_TOP_BY_NAME, o);
	size_t by_name[] = {1, 3, 2, 0};
	assert_memory_equal(o, by_name, sizeof o);

	char line[256];
	jst_top_line(&d[1], line, sizeof line);
	assert_non_null(strstr(line, "core-0"));
	assert_non_null(strstr(line, "(not in total)"));
	assert_non_null(strstr(line, " - ")); /* no power: a dash, not nan */
	jst_top_line(&d[2], line, sizeof line);
	assert_non_null(strstr(line, "300.00"));
	assert_non_null(strstr(line, "10.000"));
	assert_non_null(strstr(line, "± 5%"));
	/* The total: counted domains only (50 + 10 + 5 J, 500 W), accuracy
	 * weighted by energy: (60 x 5% + 5 x 25%) / 65 = 6.5%. */
	jst_top_total(&s, line, sizeof line);
	assert_non_null(strstr(line, "3 domains"));
	assert_non_null(strstr(line, "500.00"));
	assert_non_null(strstr(line, "65.000"));
	assert_non_null(strstr(line, "± 7%"));

	/* A lost GPU (its gauges dropped by the live view, its energy held): shown
	 * as lost with no power or telemetry, and its power out of the total. */
	d[0].lost = 1;
	d[0].power_w = d[0].utilization_pct = d[0].clock_mhz = NAN;
	jst_top_line(&d[0], line, sizeof line);
	assert_non_null(strstr(line, "(lost)"));
	assert_null(strstr(line, "100.00"));
	assert_null(strstr(line, "41"));
	assert_non_null(strstr(line, "50.000")); /* its energy until it was lost */
	jst_top_total(&s, line, sizeof line);
	assert_non_null(strstr(line, "400.00"));
	assert_non_null(strstr(line, "65.000"));
}

/* A lost domain in the exposition: no gauge of it (power, temperature,
 * utilisation, clock), its energy counter and sample age kept. */
static void test_lost_domain_exposition(void **st)
{
	(void)st;
	struct jst_prom_domain d[2] = {dom("gpu0", 100, 300, 1), dom("gpu1", 95.5, NAN, 1)};
	d[1].lost = 1;
	d[1].utilization_pct = d[1].clock_mhz = NAN;
	d[1].age_s = 3.5;
	struct jst_prom_snapshot s = {d, 2, NULL, 0, "1", 0};
	char *t = render(&s, JST_PROM_TEXT);
	assert_non_null(strstr(t, "joulestat_energy_joules_total{domain=\"gpu1\""));
	assert_non_null(strstr(t, "joulestat_sample_age_seconds{domain=\"gpu1\""));
	assert_null(strstr(t, "joulestat_power_watts{domain=\"gpu1\""));
	assert_null(strstr(t, "joulestat_utilization_ratio{domain=\"gpu1\""));
	assert_null(strstr(t, "joulestat_clock_hertz{domain=\"gpu1\""));
	assert_non_null(strstr(t, "joulestat_power_watts{domain=\"gpu0\""));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_format), cmocka_unit_test(test_openmetrics_format),
	    cmocka_unit_test(test_negotiation), cmocka_unit_test(test_webconfig),
	    cmocka_unit_test(test_top_view),    cmocka_unit_test(test_lost_domain_exposition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
