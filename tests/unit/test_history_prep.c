/* The run history opened ahead on a thread (src/cli/history_prep.c) and the
 * statements prepared ahead (jst_history_prepare): a record through them is
 * the record made without them, row for row; a failure is the one
 * jst_history_open gives; a preparation never told to go makes nothing; the
 * thread blocks every signal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history.h"
#include "history_prep.h"

static char dir[64], db[128];

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof dir, "/tmp/jst-unit-prep-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof db, "%s/sub/history.db", dir);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A run of two repetitions on two domains, energies e and e + 1. */
static json_t *doc_of(double e)
{
	json_t *runs = json_array();
	for (int i = 0; i < 2; i++) {
		json_t *doms = json_array();
		for (int k = 0; k < 2; k++)
			json_array_append_new(
			    doms, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:f, s:f, s:f}",
			                    "name", k ? "dram-0" : "package-0", "kind",
			                    k ? "dram" : "package", "device", "cpu:package-0",
			                    "backend", "rapl", "method", "counter", "primary", 1,
			                    "accuracy", 0.05, "energy_j", e + i + k,
			                    "uncertainty_j", 0.25, "avg_power_w", (e + i + k) / 2));
		json_array_append_new(
		    runs, json_pack("{s:s, s:I, s:I, s:f, s:b, s:o, s:{s:{s:f, s:f}}, s:i}", "name",
		                    i ? "run-2" : "run-1", "begin_ns", (json_int_t)1000 + i,
		                    "end_ns", (json_int_t)2000000000 + i, "duration_s", 2.0,
		                    "partial", 0, "domains", doms, "totals", "total", "energy_j",
		                    2 * e + 2 * i + 1, "uncertainty_j", 0.5, "exit_status", i));
	}
	return json_pack("{s:s, s:[s], s:i, s:b, s:o, s:{s:s, s:s, s:s}}", "joulestat", "0.1.0",
	                 "command", "make", "exit_status", 1, "partial", 0, "runs", runs,
	                 "identity", "start", "2026-12-01T10:00:00.000Z", "end",
	                 "2026-12-01T10:00:02.000Z", "hostname", "node");
}

/* Every row a run left, its ids left out, as one text. */
static char *rows_of(int64_t id)
{
	sqlite3 *s;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
	const char *sql =
	    "SELECT r.command_line, r.exit_status, r.repetitions, r.total, r.energy_j, "
	    "r.uncertainty_j, r.document, w.type, w.name, w.repetition, w.begin_ns, w.end_ns, "
	    "w.exit_status, e.is_total, e.name, e.kind, e.device, e.backend, e.method, "
	    "e.is_primary, e.accuracy, e.energy_j, e.uncertainty_j, e.avg_power_w "
	    "FROM runs r JOIN windows w ON w.run_id = r.id JOIN energies e ON e.window_id = w.id "
	    "WHERE r.id = ? ORDER BY w.id, e.rowid";
	assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	size_t cap = 1 << 16, len = 0, nrows = 0;
	char *out = calloc(1, cap);
	assert_non_null(out);
	while (sqlite3_step(st) == SQLITE_ROW) {
		nrows++;
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *t = sqlite3_column_text(st, c);
			len += (size_t)snprintf(out + len, cap - len, "%s|",
			                        t ? (const char *)t : "-");
			assert_true(len < cap);
		}
		out[len++] = '\n';
	}
	sqlite3_finalize(st);
	sqlite3_close(s);
	assert_int_equal(nrows, 2 * (2 + 1)); /* per window: two domains, the total */
	return out;
}

static int64_t record_with(jst_history *h, double e)
{
	json_t *doc = doc_of(e);
	int64_t id = 0;
	char err[256] = "";
	int rc = jst_history_record(h, doc, NULL, &id, err, sizeof err);
	if (rc)
		fail_msg("record: %s", err);
	json_decref(doc);
	return id;
}

static void prepared_record_is_the_plain_record(void **st)
{
	(void)st;
	/* Plain: opened and prepared by the record itself. */
	jst_history *h;
	char err[256] = "";
	assert_int_equal(jst_history_open(db, 1, &h, err, sizeof err), 0);
	assert_int_equal(record_with(h, 10.0), 1);
	jst_history_close(h);
	/* Ahead: the thread opens and prepares, two records reuse the statements. */
	struct jst_history_prep p;
	assert_int_equal(jst_history_prep_start(&p, db), 0);
	jst_history_prep_go(&p);
	h = NULL;
	assert_int_equal(jst_history_prep_take(&p, &h, err, sizeof err), 0);
	assert_non_null(h);
	assert_int_equal(record_with(h, 10.0), 2);
	assert_int_equal(record_with(h, 20.0), 3);
	jst_history_close(h);
	char *a = rows_of(1), *b = rows_of(2), *c = rows_of(3);
	assert_string_equal(a, b);
	assert_true(strcmp(a, c) != 0);       /* nothing left bound from the record before */
	assert_non_null(strstr(c, "|21.0|")); /* e + 1 of the second record */
	free(a);
	free(b);
	free(c);
}

/* take tells the thread to go when the caller has not. */
static void take_without_go_opens(void **st)
{
	(void)st;
	struct jst_history_prep p;
	assert_int_equal(jst_history_prep_start(&p, db), 0);
	jst_history *h = NULL;
	char err[256] = "";
	assert_int_equal(jst_history_prep_take(&p, &h, err, sizeof err), 0);
	assert_int_equal(record_with(h, 1.0), 1);
	jst_history_close(h);
}

/* A command that never started: nothing is made, not even the directory. */
static void cancel_before_go_makes_nothing(void **st)
{
	(void)st;
	struct jst_history_prep p;
	assert_int_equal(jst_history_prep_start(&p, db), 0);
	jst_history_prep_cancel(&p);
	struct stat sb;
	char sub[128];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	assert_int_equal(stat(sub, &sb), -1);
	assert_int_equal(errno, ENOENT);
	/* Cancelled after go: what was opened is closed, the file stays good. */
	assert_int_equal(jst_history_prep_start(&p, db), 0);
	jst_history_prep_go(&p);
	jst_history_prep_cancel(&p);
	jst_history *h;
	char err[256] = "";
	assert_int_equal(jst_history_open(db, 0, &h, err, sizeof err), 0);
	jst_history_close(h);
}

/* The thread's failure is jst_history_open's, reason and all. */
static void failures_are_the_open_failures(void **st)
{
	(void)st;
	char file[128], under[160], garbage[160];
	snprintf(file, sizeof file, "%s/file", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(under, sizeof under, "%s/joulestat/history.db", file);
	snprintf(garbage, sizeof garbage, "%s/garbage.db", dir);
	f = fopen(garbage, "w");
	assert_non_null(f);
	for (int i = 0; i < 300; i++)
		fputs("not a database\n", f);
	fclose(f);
	const char *paths[] = {under, garbage};
	for (int i = 0; i < 2; i++) {
		jst_history *h = NULL, *h2 = NULL;
		char want[512] = "", got[512] = "";
		int rc = jst_history_open(paths[i], 1, &h, want, sizeof want);
		assert_true(rc < 0);
		assert_null(h);
		struct jst_history_prep p;
		assert_int_equal(jst_history_prep_start(&p, paths[i]), 0);
		jst_history_prep_go(&p);
		assert_int_equal(jst_history_prep_take(&p, &h2, got, sizeof got), rc);
		assert_null(h2);
		assert_string_equal(got, want);
	}
}

/* The thread blocks every signal: those sent to joulestat reach the thread
 * that forwards them. Read from procfs while it waits to be told to go. */
static void thread_blocks_every_signal(void **st)
{
	(void)st;
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	struct jst_history_prep p;
	assert_int_equal(jst_history_prep_start(&p, db), 0);
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	int blocked = 0, unblocked = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], line[256];
		snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "SigBlk:", 7)) {
				unsigned long long m = strtoull(line + 7, NULL, 16);
				/* The standard signals, 1 to 31, less SIGKILL and SIGSTOP,
				 * which cannot be blocked. */
				unsigned long long want = 0x7fffffffULL & ~(1ULL << (SIGKILL - 1)) &
				                          ~(1ULL << (SIGSTOP - 1));
				if ((m & want) == want)
					blocked++;
				else if (m == 0)
					unblocked++;
			}
		fclose(f);
	}
	closedir(d);
	jst_history_prep_cancel(&p);
	assert_int_equal(blocked, 1);   /* the preparer */
	assert_int_equal(unblocked, 1); /* this thread, its mask as it was */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(prepared_record_is_the_plain_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(take_without_go_opens, setup, teardown),
	    cmocka_unit_test_setup_teardown(cancel_before_go_makes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(failures_are_the_open_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(thread_blocks_every_signal, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
