/* The BMC backends' pieces without a BMC: the Redfish documents they parse,
 * the private credentials file, and the hand-over of polled answers to the
 * meter's reads (new, unchanged, failed once, gone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmc_cred.h"
#include "bmc_poll.h"
#include "redfish_json.h"

#define DOC(s) s, strlen(s)

static void members_of_a_collection(void **st)
{
	(void)st;
	char out[2][JST_REDFISH_PATH_MAX], err[128];
	size_t n = 9;
	assert_int_equal(jst_redfish_members(DOC("{\"Members\": [{\"@odata.id\": \"/redfish/v1/"
	                                         "Chassis/1\"}, 7, {\"x\": 1}, {\"@odata.id\": "
	                                         "\"/c/2\"}, {\"@odata.id\": \"/c/3\"}]}"),
	                                     out, 2, &n, err, sizeof err),
	                 0);
	assert_int_equal(n, 3); /* entries with no path are skipped; three exist, two kept */
	assert_string_equal(out[0], "/redfish/v1/Chassis/1");
	assert_string_equal(out[1], "/c/2");
	assert_int_equal(jst_redfish_members(DOC("{\"Members\": 3}"), out, 2, &n, err, sizeof err),
	                 -EINVAL);
	assert_int_equal(jst_redfish_members(DOC("[1, 2]"), out, 2, &n, err, sizeof err), -EINVAL);
	assert_int_equal(jst_redfish_members(DOC("{\"Members\": [{"), out, 2, &n, err, sizeof err),
	                 -EINVAL);
	assert_non_null(strstr(err, "not JSON"));
}

static void chassis_links(void **st)
{
	(void)st;
	struct jst_redfish_chassis c;
	char err[128];
	assert_int_equal(jst_redfish_chassis_parse(
	                     DOC("{\"@odata.id\": \"/redfish/v1/Chassis/2\", \"Id\": \"2\", "
	                         "\"Power\": {\"@odata.id\": \"/redfish/v1/Chassis/2/Power\"}, "
	                         "\"EnvironmentMetrics\": {\"@odata.id\": \"/e\"}, \"Links\": "
	                         "{\"ContainedBy\": {\"@odata.id\": \"/redfish/v1/Chassis/1\"}}}"),
	                     &c, err, sizeof err),
	                 0);
	assert_string_equal(c.id, "2");
	assert_string_equal(c.power, "/redfish/v1/Chassis/2/Power");
	assert_string_equal(c.env, "/e");
	assert_string_equal(c.contained_by, "/redfish/v1/Chassis/1");
	/* A link that is no absolute path is no link. */
	assert_int_equal(jst_redfish_chassis_parse(DOC("{\"Power\": {\"@odata.id\": "
	                                               "\"http://evil/\"}}"),
	                                           &c, err, sizeof err),
	                 0);
	assert_string_equal(c.power, "");
}

static void power_readings(void **st)
{
	(void)st;
	double w, cap, kwh;
	char err[128];
	assert_int_equal(jst_redfish_power_watts(DOC("{\"PowerControl\": [{\"PowerConsumedWatts\": "
	                                             "412.5, \"PowerCapacityWatts\": 1600}]}"),
	                                         &w, &cap, err, sizeof err),
	                 0);
	assert_float_equal(w, 412.5, 0);
	assert_float_equal(cap, 1600, 0);
	/* null, negative, a string, no array: no reading (a chassis with no meter). */
	const char *none[] = {
	    "{\"PowerControl\": [{\"PowerConsumedWatts\": null}]}",
	    "{\"PowerControl\": [{\"PowerConsumedWatts\": -3}]}",
	    "{\"PowerControl\": [{\"PowerConsumedWatts\": \"412\"}]}",
	    "{\"PowerControl\": []}",
	    "{}",
	};
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		assert_int_equal(jst_redfish_power_watts(DOC(none[i]), &w, NULL, err, sizeof err),
		                 -ENODATA);
		assert_true(isnan(w));
	}
	assert_int_equal(jst_redfish_power_watts(DOC("{\"PowerControl\": [{\"PowerConsumedWatts\": "
	                                             "12"),
	                                         &w, NULL, err, sizeof err),
	                 -EINVAL);
	assert_int_equal(jst_redfish_env_metrics(DOC("{\"PowerWatts\": {\"Reading\": 6500}, "
	                                             "\"EnergykWh\": {\"Reading\": 1234.567}}"),
	                                         &w, &kwh, err, sizeof err),
	                 0);
	assert_float_equal(w, 6500, 0);
	assert_float_equal(kwh, 1234.567, 1e-9);
	assert_int_equal(jst_redfish_env_metrics(DOC("{\"EnergykWh\": {\"Reading\": 2}}"), &w, &kwh,
	                                         err, sizeof err),
	                 0);
	assert_true(isnan(w));
	assert_int_equal(
	    jst_redfish_env_metrics(DOC("{\"PowerWatts\": {}}"), &w, &kwh, err, sizeof err),
	    -ENODATA);
}

static char tmpdir[64];

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void credentials_private_only(void **st)
{
	(void)st;
	struct jst_bmc_cred c;
	char reason[512];
	const char *p = write_file("one", "admin:pa:ss\n", 0600);
	assert_int_equal(jst_bmc_cred_read(p, "redfish.credentials", &c, reason, sizeof reason), 0);
	assert_string_equal(c.user, "admin");
	assert_string_equal(c.password, "pa:ss"); /* a password may hold ':' */
	p = write_file("two", "root\r\nsecret word\n", 0400);
	assert_int_equal(jst_bmc_cred_read(p, "ipmi.credentials", &c, reason, sizeof reason), 0);
	assert_string_equal(c.user, "root");
	assert_string_equal(c.password, "secret word");
	jst_bmc_cred_clear(&c);
	assert_string_equal(c.password, "");

	const mode_t open_modes[] = {0644, 0640, 0604, 0660, 0606};
	for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
		p = write_file("open", "admin:secret\n", open_modes[i]);
		assert_int_equal(
		    jst_bmc_cred_read(p, "redfish.credentials", &c, reason, sizeof reason), -EPERM);
		assert_non_null(strstr(reason, "can be read by others"));
		assert_non_null(strstr(reason, "redfish.credentials"));
		assert_string_equal(c.password, "");
	}
	p = write_file("nocolon", "adminsecret\n", 0600);
	assert_int_equal(jst_bmc_cred_read(p, "k", &c, reason, sizeof reason), -EINVAL);
	p = write_file("nouser", ":secret\n", 0600);
	assert_int_equal(jst_bmc_cred_read(p, "k", &c, reason, sizeof reason), -EINVAL);
	char link[160];
	snprintf(link, sizeof link, "%s/link", tmpdir);
	assert_int_equal(symlink(write_file("target", "a:b\n", 0600), link), 0);
	assert_int_equal(jst_bmc_cred_read(link, "k", &c, reason, sizeof reason), -ELOOP);
	assert_non_null(strstr(reason, "symbolic link"));
	assert_int_equal(jst_bmc_cred_read("/nonexistent/x", "k", &c, reason, sizeof reason),
	                 -ENOENT);
}

/* A scripted BMC: answer k is script[k] watts, or a failure where NaN. */
struct script {
	pthread_mutex_t mu;
	const double *w;
	size_t n, calls;
};

static int scripted(void *arg, struct jst_bmc_value *v, size_t n, char *err, size_t len)
{
	struct script *s = arg;
	pthread_mutex_lock(&s->mu);
	size_t k = s->calls < s->n ? s->calls : s->n - 1;
	s->calls++;
	double w = s->w[k];
	pthread_mutex_unlock(&s->mu);
	if (isnan(w)) {
		snprintf(err, len, "HTTP 503");
		return -EIO;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (struct jst_bmc_value){.power_w = w};
	return 0;
}

/* Wait (bounded) until the poll thread has made `calls` fetches. */
static void await_calls(struct script *s, size_t calls)
{
	for (int i = 0; i < 5000; i++) {
		pthread_mutex_lock(&s->mu);
		size_t c = s->calls;
		pthread_mutex_unlock(&s->mu);
		if (c >= calls)
			return;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	fail_msg("the poll thread made no progress");
}

static int fill(struct jst_bmc_poll *p, const struct jst_domain_desc *d, unsigned flags,
                struct jst_raw *r)
{
	jst_raw_clear(r);
	jst_bmc_poll_fill(p, d, r, 1, flags, "bmc test");
	return r->status;
}

static void polled_answers_handed_over(void **st)
{
	(void)st;
	/* Probe's 100 W, then 200, 200, a failure, 300, then failures only. */
	const double w[] = {200, 200, NAN, 300, NAN};
	struct script s = {PTHREAD_MUTEX_INITIALIZER, w, sizeof w / sizeof w[0], 0};
	struct jst_domain_desc d = {.name = "node", .method = JST_METHOD_POWER};
	struct jst_bmc_value first = {.power_w = 100};
	/* A long refresh: the test steps the thread by its own fetches. */
	struct jst_bmc_poll *p =
	    jst_bmc_poll_start(1, 0.2, scripted, &s, &first, jst_backend_now_ns());
	assert_non_null(p);
	struct jst_raw r;
	/* An edge's read never takes a new reading: it stands at its own instant. */
	assert_int_equal(fill(p, &d, 0, &r), JST_RAW_UNCHANGED);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), 0);
	/* The probe's value, unless the thread's first fetch (at once) has
	 * already brought the next: a changed value is handed over when it
	 * comes. Either way the 200 W comes once, then nothing new. */
	assert_true(r.power_w == 100 || r.power_w == 200);
	assert_true(r.t_ns > 0 && r.t_ns < jst_backend_now_ns());
	for (int i = 0; i < 5000 && r.power_w != 200; i++) {
		int rc = fill(p, &d, JST_READ_TELEMETRY, &r);
		assert_true(rc == 0 || rc == JST_RAW_UNCHANGED);
		if (rc == JST_RAW_UNCHANGED)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	assert_float_equal(r.power_w, 200, 0);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), JST_RAW_UNCHANGED);
	/* The failures' count (three in a row) ends the domain, with the last error. */
	await_calls(&s, 7); /* 200, 200, fail, 300, fail, fail, fail: gone */
	/* The last failure is recorded just after its fetch returns. */
	int status = 0;
	for (int i = 0; i < 5000 && (status = fill(p, &d, JST_READ_TELEMETRY, &r)) != -ENODEV;
	     i++) {
		assert_true(status == 0 || status == -EIO || status == JST_RAW_UNCHANGED);
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	assert_int_equal(status, -ENODEV);
	/* Gone is final. */
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), -ENODEV);
	assert_non_null(strstr(r.error, "stopped answering"));
	assert_non_null(strstr(r.error, "HTTP 503"));
	jst_bmc_poll_stop(p);
}

static void one_failure_said_once_then_the_next_answer(void **st)
{
	(void)st;
	const double w[] = {NAN, 250};
	struct script s = {PTHREAD_MUTEX_INITIALIZER, w, sizeof w / sizeof w[0], 0};
	struct jst_domain_desc d = {.name = "node", .method = JST_METHOD_POWER};
	struct jst_bmc_value first = {.power_w = 100};
	struct jst_bmc_poll *p =
	    jst_bmc_poll_start(1, 0.05, scripted, &s, &first, jst_backend_now_ns());
	assert_non_null(p);
	struct jst_raw r;
	await_calls(&s, 4);
	/* The failure is counted once, with its reason, and the answers that
	 * followed it are taken after it: the probe's 100 W may come first. */
	int fails = 0, got = 0;
	for (int i = 0; i < 4 && !got; i++) {
		int status = fill(p, &d, JST_READ_TELEMETRY, &r);
		if (status == -EIO) {
			fails++;
			assert_non_null(strstr(r.error, "HTTP 503"));
		} else {
			assert_int_equal(status, 0);
			got = r.power_w == 250;
		}
	}
	assert_int_equal(fails, 1);
	assert_true(got);
	jst_bmc_poll_stop(p);
}

static int64_t first_fetch_ns;

static int timed(void *arg, struct jst_bmc_value *v, size_t n, char *err, size_t len)
{
	(void)arg, (void)err, (void)len;
	if (!__atomic_load_n(&first_fetch_ns, __ATOMIC_ACQUIRE))
		__atomic_store_n(&first_fetch_ns, jst_backend_now_ns(), __ATOMIC_RELEASE);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct jst_bmc_value){.power_w = 100};
	return 0;
}

/* The probe's fetch is the first poll: the thread's first is an interval
 * (half the refresh) after it, not at once, while the caller is still
 * setting up (joulestatd drops its privileges then, signalling every
 * thread, and FreeIPMI fails a request so interrupted). */
static void first_poll_an_interval_after_the_probe(void **st)
{
	(void)st;
	struct jst_bmc_value first = {.power_w = 100};
	first_fetch_ns = 0;
	int64_t t0 = jst_backend_now_ns();
	struct jst_bmc_poll *p = jst_bmc_poll_start(1, 0.1, timed, NULL, &first, t0);
	assert_non_null(p);
	for (int i = 0; i < 5000 && !__atomic_load_n(&first_fetch_ns, __ATOMIC_ACQUIRE); i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	jst_bmc_poll_stop(p);
	assert_true(first_fetch_ns > 0);
	assert_true(first_fetch_ns - t0 >= 50000000LL);
}

static int64_t stepped_clock;

static int64_t stepped_now(void)
{
	return stepped_clock;
}

/* A poll that fails before the reads took the answer made before it (the
 * probe's, here): that answer is read first, then the failure, once. Else a
 * consumer's first reads (joulestatd's, where a poll fails as it drops its
 * privileges) have no value at all while the probe's waits. An answer made
 * after a failure is read after it. */
static void failure_said_after_the_answer_before_it(void **st)
{
	(void)st;
	const double w[] = {NAN, 250, NAN, 300};
	struct script s = {PTHREAD_MUTEX_INITIALIZER, w, sizeof w / sizeof w[0], 0};
	struct jst_domain_desc d = {.name = "node", .method = JST_METHOD_POWER};
	struct jst_bmc_value first = {.power_w = 100};
	stepped_clock = 1000000000LL;
	struct jst_bmc_poll *p =
	    jst_bmc_poll_start_stepped(1, 1.0, scripted, &s, &first, stepped_clock, stepped_now);
	assert_non_null(p);
	struct jst_raw r;
	stepped_clock += 500000000LL;
	assert_int_equal(jst_bmc_poll_step(p), 0); /* fails */
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), 0);
	assert_float_equal(r.power_w, 100, 0);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), -EIO);
	assert_non_null(strstr(r.error, "HTTP 503"));
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), JST_RAW_UNCHANGED);
	/* 250 comes after the failure: the failure was said, 250 is next. */
	stepped_clock += 500000000LL;
	assert_int_equal(jst_bmc_poll_step(p), 0);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), 0);
	assert_float_equal(r.power_w, 250, 0);
	/* A failure, then 300, neither read yet: in that order. */
	stepped_clock += 500000000LL;
	assert_int_equal(jst_bmc_poll_step(p), 0);
	stepped_clock += 500000000LL;
	assert_int_equal(jst_bmc_poll_step(p), 0);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), -EIO);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), 0);
	assert_float_equal(r.power_w, 300, 0);
	assert_int_equal(fill(p, &d, JST_READ_TELEMETRY, &r), JST_RAW_UNCHANGED);
	jst_bmc_poll_stop(p);
}

static int setup(void **st)
{
	(void)st;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/jst-bmc-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(members_of_a_collection),
	    cmocka_unit_test(chassis_links),
	    cmocka_unit_test(power_readings),
	    cmocka_unit_test(credentials_private_only),
	    cmocka_unit_test(polled_answers_handed_over),
	    cmocka_unit_test(one_failure_said_once_then_the_next_answer),
	    cmocka_unit_test(failure_said_after_the_answer_before_it),
	    cmocka_unit_test(first_poll_an_interval_after_the_probe),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
