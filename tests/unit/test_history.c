/* The run history's database (src/cli/history.c) and the carbon arithmetic
 * and settings (src/cli/carbon.c): schema, migration, records read back to
 * the joule, concurrent writers, filters; CO2e, cost and their sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "carbon.h"
#include "cli.h"
#include "history.h"
#include "history_spool.h"
#include "history_time.h"
#include "history_vfs.h"

static char dir[64], db[128];

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof dir, "/tmp/jst-unit-history-XXXXXX");
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

/* A run document with n repetitions of total energy e[i] (± u each); those
 * whose partial[i] is set are partial. */
static json_t *doc_of(const char *host, const char *cmd, size_t n, const double *e, double u,
                      const int *partial)
{
	json_t *runs = json_array();
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof name, "run-%zu", i + 1);
		json_t *d = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:f, s:f, s:f, s:b}", "name", "package-0",
		    "kind", "package", "device", "cpu:package-0", "backend", "rapl", "method",
		    "counter", "primary", 1, "accuracy", 0.05, "energy_j", e[i], "uncertainty_j", u,
		    "avg_power_w", e[i] / 2, "partial", partial && partial[i]);
		json_t *m = json_pack(
		    "{s:s, s:I, s:I, s:f, s:b, s:[o], s:{s:{s:f, s:f, s:f, s:f, s:i, s:b, s:b}}, "
		    "s:i}",
		    "name", name, "begin_ns", (json_int_t)1000 + (json_int_t)i, "end_ns",
		    (json_int_t)2000000000 + (json_int_t)i, "duration_s", 2.0, "partial",
		    partial && partial[i], "domains", d, "totals", "total", "energy_j", e[i],
		    "uncertainty_j", u, "avg_power_w", e[i] / 2, "accuracy", 0.05, "parts", 1,
		    "estimated", 0, "partial", partial && partial[i], "exit_status", 0);
		json_array_append_new(runs, m);
	}
	return json_pack("{s:s, s:[s], s:i, s:b, s:o, s:{s:i, s:s, s:s, s:s}}", "joulestat",
	                 "0.1.0", "command", cmd, "exit_status", 0, "partial", 0, "runs", runs,
	                 "identity", "schema", 2, "start", "2026-12-01T10:00:00.000Z", "end",
	                 "2026-12-01T10:00:02.000Z", "hostname", host);
}

static int64_t record(const json_t *doc, FILE *iv)
{
	jst_history *h;
	char err[256] = "";
	int64_t id = 0;
	int rc = jst_history_open(db, 1, &h, err, sizeof err);
	if (rc)
		fail_msg("open: %s", err);
	rc = jst_history_record(h, doc, iv, &id, err, sizeof err);
	if (rc)
		fail_msg("record: %s", err);
	jst_history_close(h);
	return id;
}

static int pragma(const char *name)
{
	sqlite3 *s;
	sqlite3_stmt *st;
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA %s", name);
	assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_type(st, 0) == SQLITE_INTEGER
	            ? sqlite3_column_int(st, 0)
	            : !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(s);
	return v;
}

static void missing_file_is_not_made_by_readers(void **st)
{
	(void)st;
	jst_history *h = NULL;
	char err[256];
	assert_int_equal(jst_history_open(db, 0, &h, err, sizeof err), -ENOENT);
	assert_null(h);
	assert_int_equal(access(db, F_OK), -1);
}

static int count_runs(void *ctx, const struct jst_history_run *r)
{
	(void)r;
	(*(size_t *)ctx)++;
	return 0;
}

/* A string as the spool holds it (history_spool.h). */
static void spool_str(FILE *f, const char *s)
{
	uint16_t n = s ? (uint16_t)strlen(s) : (uint16_t)JST_SPOOL_NULL;
	assert_int_equal(fwrite(&n, sizeof n, 1, f), 1);
	if (s)
		assert_int_equal(fwrite(s, 1, n, f), n);
}

static void records_read_back_to_the_joule(void **st)
{
	(void)st;
	double e[] = {10.0, 12.0, 14.0, 100.0};
	int partial[] = {0, 0, 0, 1};
	json_t *doc = doc_of("node1", "sleep", 4, e, 0.5, partial);
	FILE *iv = tmpfile();
	assert_non_null(iv);
	/* One interval of repetition 1 as the run spools it: a domain and the
	 * total, their numbers as they were in memory. */
	struct jst_spool_head head = {.magic = JST_SPOOL_MAGIC,
	                              .entries = 2,
	                              .run = 1,
	                              .begin_ns = 5,
	                              .end_ns = 6,
	                              .duration_s = 1e-9};
	struct jst_spool_entry dom = {.accuracy = 0.05,
	                              .energy_j = 1.25,
	                              .uncertainty_j = 0.1,
	                              .avg_power_w = NAN,
	                              .peak_power_w = 301.5,
	                              .temperature_max_c = 71,
	                              .utilization_mean_pct = NAN,
	                              .clock_mean_mhz = 1410,
	                              .power_limit_w = 700,
	                              .count = 3,
	                              .primary = 1,
	                              .short_window = 1,
	                              .bridged = 1};
	struct jst_spool_entry tot = {.accuracy = NAN,
	                              .energy_j = 1.25 + 1e-12,
	                              .uncertainty_j = 0.1,
	                              .avg_power_w = 1.25e9,
	                              .count = 2,
	                              .is_total = 1,
	                              .estimated = 1};
	assert_int_equal(fwrite(&head, sizeof head, 1, iv), 1);
	spool_str(iv, "interval-1");
	assert_int_equal(fwrite(&dom, sizeof dom, 1, iv), 1);
	const char *strs[JST_SPOOL_STRINGS] = {"core-0",          "core",
	                                       "cpu:package-0",   "rapl",
	                                       "counter",         "rapl:intel-rapl:0:0",
	                                       "bridged a reset", "package-0"};
	for (int k = 0; k < JST_SPOOL_STRINGS; k++)
		spool_str(iv, strs[k]);
	assert_int_equal(fwrite(&tot, sizeof tot, 1, iv), 1);
	spool_str(iv, "total");
	for (int k = JST_SPOOL_NAME + 1; k < JST_SPOOL_STRINGS; k++)
		spool_str(iv, NULL);
	int64_t id = record(doc, iv);
	fclose(iv);
	assert_int_equal(id, 1);
	assert_int_equal(pragma("user_version"), JST_HISTORY_SCHEMA);
	assert_int_equal(pragma("journal_mode"), 1);

	jst_history *h;
	char err[256];
	assert_int_equal(jst_history_open(db, 0, &h, err, sizeof err), 0);
	double *ev, *uv;
	size_t n;
	/* The partial repetition says nothing of what the command spends. */
	assert_int_equal(jst_history_repetitions(h, id, &ev, &uv, &n, err, sizeof err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_true(ev[i] == e[i]);
		assert_true(uv[i] == 0.5);
	}
	free(ev);
	free(uv);
	assert_int_equal(jst_history_repetitions(h, 7, &ev, &uv, &n, err, sizeof err), -ENOENT);

	json_t *back;
	assert_int_equal(jst_history_document(h, id, &back, err, sizeof err), 0);
	assert_int_equal(json_integer_value(json_object_get(back, "id")), id);
	assert_true(json_equal(json_object_get(back, "runs"), json_object_get(doc, "runs")));
	assert_true(
	    json_equal(json_object_get(back, "identity"), json_object_get(doc, "identity")));
	json_t *ivs = json_object_get(back, "intervals");
	assert_int_equal(json_array_size(ivs), 1);
	json_t *iv0 = json_array_get(ivs, 0);
	assert_string_equal(json_string_value(json_object_get(iv0, "name")), "interval-1");
	assert_int_equal(json_integer_value(json_object_get(iv0, "run")), 1);
	assert_int_equal(json_integer_value(json_object_get(iv0, "end_ns")), 6);
	json_t *d0 = json_array_get(json_object_get(iv0, "domains"), 0);
	assert_true(json_real_value(json_object_get(d0, "energy_j")) == 1.25);
	assert_string_equal(json_string_value(json_object_get(d0, "device")), "cpu:package-0");
	assert_string_equal(json_string_value(json_object_get(d0, "method")), "counter");
	assert_true(json_is_true(json_object_get(d0, "primary")));
	assert_true(json_is_null(json_object_get(d0, "avg_power_w"))); /* NaN: none */
	/* Every field `run --json` writes of a domain comes back. */
	assert_string_equal(json_string_value(json_object_get(d0, "source")),
	                    "rapl:intel-rapl:0:0");
	assert_string_equal(json_string_value(json_object_get(d0, "note")), "bridged a reset");
	assert_string_equal(json_string_value(json_object_get(d0, "parent")), "package-0");
	assert_true(json_is_true(json_object_get(d0, "short_window")));
	assert_true(json_is_true(json_object_get(d0, "bridged")));
	assert_true(json_is_false(json_object_get(d0, "partial")));
	assert_int_equal(json_integer_value(json_object_get(d0, "samples")), 3);
	assert_true(json_real_value(json_object_get(d0, "peak_power_w")) == 301.5);
	assert_true(json_real_value(json_object_get(d0, "temperature_max_c")) == 71);
	assert_true(json_is_null(json_object_get(d0, "utilization_mean_pct")));
	assert_true(json_real_value(json_object_get(d0, "clock_mean_mhz")) == 1410);
	assert_true(json_real_value(json_object_get(d0, "power_limit_w")) == 700);
	/* Inside its package: shown, not in the total. */
	assert_true(json_is_false(json_object_get(d0, "counted")));
	assert_int_equal(json_object_size(d0), 23);
	/* Exact: the spool keeps the bits, no decimal round trip. */
	json_t *t0 = json_object_get(json_object_get(iv0, "totals"), "total");
	assert_true(json_real_value(json_object_get(t0, "energy_j")) == 1.25 + 1e-12);
	assert_true(json_real_value(json_object_get(t0, "avg_power_w")) == 1.25e9);
	assert_int_equal(json_integer_value(json_object_get(t0, "parts")), 2);
	assert_true(json_is_true(json_object_get(t0, "estimated")));
	assert_true(json_is_null(json_object_get(t0, "accuracy")));
	assert_int_equal(json_object_size(t0), 7);
	json_decref(back);
	assert_int_equal(jst_history_document(h, 2, &back, err, sizeof err), -ENOENT);
	jst_history_close(h);
	json_decref(doc);
}

/* A spool cut short (a full disk while the run went on) is said, and the run
 * is not recorded half: the transaction is rolled back. */
static void cut_spool_records_nothing(void **st)
{
	(void)st;
	double e[] = {1.0};
	json_t *doc = doc_of("node1", "true", 1, e, 0.1, NULL);
	record(doc, NULL);
	FILE *iv = tmpfile();
	assert_non_null(iv);
	struct jst_spool_head head = {.magic = JST_SPOOL_MAGIC, .entries = 3, .run = 1};
	assert_int_equal(fwrite(&head, sizeof head, 1, iv), 1);
	spool_str(iv, "interval-1");
	struct jst_spool_entry dom = {.energy_j = 1};
	assert_int_equal(fwrite(&dom, sizeof dom, 1, iv), 1);
	spool_str(iv, "package-0"); /* and the rest is missing */
	jst_history *h;
	char err[256] = "";
	int64_t id = 0;
	assert_int_equal(jst_history_open(db, 1, &h, err, sizeof err), 0);
	assert_int_equal(jst_history_record(h, doc, iv, &id, err, sizeof err), -EIO);
	assert_non_null(strstr(err, "intervals"));
	/* Nor is a spool that is not one. */
	rewind(iv);
	assert_int_equal(fputs("{\"name\": \"interval-1\"}\n", iv) >= 0, 1);
	assert_int_equal(jst_history_record(h, doc, iv, &id, err, sizeof err), -EIO);
	struct jst_history_filter f = {0};
	size_t n = 0;
	assert_int_equal(jst_history_each(h, &f, count_runs, &n, err, sizeof err), 0);
	assert_int_equal(n, 1);
	jst_history_close(h);
	fclose(iv);
	json_decref(doc);
}

struct seen {
	int64_t ids[64];
	double e[64];
	size_t n;
};

static int collect(void *ctx, const struct jst_history_run *r)
{
	struct seen *s = ctx;
	s->ids[s->n] = r->id;
	s->e[s->n++] = r->energy_j;
	return 0;
}

static void filters(void **st)
{
	(void)st;
	double e1[] = {1}, e2[] = {2, 3}, e3[] = {4};
	json_t *a = doc_of("alpha", "make", 1, e1, 0.1, NULL),
	       *b = doc_of("beta", "python3", 2, e2, 0.1, NULL),
	       *c = doc_of("alpha", "make", 1, e3, 0.1, NULL);
	record(a, NULL);
	record(b, NULL);
	record(c, NULL);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	jst_history *h;
	char err[256];
	assert_int_equal(jst_history_open(db, 0, &h, err, sizeof err), 0);
	struct seen s = {0};
	struct jst_history_filter f = {.command = "ake"};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], 1);
	assert_int_equal(s.ids[1], 3);
	s = (struct seen){0};
	f = (struct jst_history_filter){.host = "beta"};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.e[0] == 5.0); /* both repetitions together */
	s = (struct seen){0};
	f = (struct jst_history_filter){.limit = 2};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], 2); /* the newest two, oldest first */
	s = (struct seen){0};
	f = (struct jst_history_filter){.since = "2026-12-02T00:00:00.000Z"};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 0);
	/* The bounds are of the starts' form: a start in the bound's second,
	 * past its first millisecond, is at or after it and not before it. */
	s = (struct seen){0};
	f = (struct jst_history_filter){.since = "2026-12-01T10:00:00.000Z"};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 3);
	s = (struct seen){0};
	f = (struct jst_history_filter){.until = "2026-12-01T10:00:00.001Z"};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 3);
	s = (struct seen){0};
	f = (struct jst_history_filter){.until = "2026-12-01T10:00:00.000Z"};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 0);
	jst_history_close(h);
}

/* Many runs making the history at once, each switching the new file to WAL:
 * SQLite refuses all but one such switch at once, without waiting (about one
 * open in 300 before it was retried). 20 new files, 8 processes each, let go
 * together through a pipe. */
static void concurrent_creators_all_open(void **st)
{
	(void)st;
	enum { ROUNDS = 20, KIDS = 8 };
	for (int round = 0; round < ROUNDS; round++) {
		char path[160];
		snprintf(path, sizeof path, "%s/sub/made%d.db", dir, round);
		int go[2];
		assert_int_equal(pipe(go), 0);
		for (int k = 0; k < KIDS; k++) {
			pid_t pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				close(go[1]);
				char c;
				if (read(go[0], &c, 1) != 0)
					_exit(2);
				jst_history *h;
				char err[256];
				if (jst_history_open(path, 1, &h, err, sizeof err)) {
					fprintf(stderr, "round %d child %d: %s\n", round, k, err);
					_exit(1);
				}
				jst_history_close(h);
				_exit(0);
			}
		}
		close(go[0]);
		close(go[1]); /* every child reads end-of-file at once */
		for (int k = 0; k < KIDS; k++) {
			int status;
			assert_true(wait(&status) > 0);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
}

static void concurrent_writers_all_recorded(void **st)
{
	(void)st;
	enum { KIDS = 8, EACH = 5 };
	/* The file is made by the children themselves, all at once. */
	for (int k = 0; k < KIDS; k++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			double e[] = {(double)k};
			for (int i = 0; i < EACH; i++) {
				json_t *d = doc_of("node", "job", 1, e, 0.1, NULL);
				jst_history *h;
				char err[256];
				int64_t id;
				if (jst_history_open(db, 1, &h, err, sizeof err) ||
				    jst_history_record(h, d, NULL, &id, err, sizeof err)) {
					fprintf(stderr, "child %d: %s\n", k, err);
					_exit(1);
				}
				jst_history_close(h);
				json_decref(d);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int status;
		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	jst_history *h;
	char err[256];
	assert_int_equal(jst_history_open(db, 0, &h, err, sizeof err), 0);
	struct seen s = {0};
	struct jst_history_filter f = {0};
	assert_int_equal(jst_history_each(h, &f, collect, &s, err, sizeof err), 0);
	assert_int_equal(s.n, KIDS * EACH);
	double sum = 0;
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.ids[i], (int64_t)i + 1);
		sum += s.e[i];
	}
	assert_true(sum == EACH * (KIDS - 1) * KIDS / 2.0);
	jst_history_close(h);
}

/* The history's own VFS (history_vfs.c) is SQLite's unix VFS but for the
 * wal-index mapped in one call: a connection of the default VFS shares the
 * same file, locks and wal-index with it, both ways, while both are open. */
static void own_vfs_shares_the_file(void **st)
{
	(void)st;
	assert_non_null(jst_history_vfs());
	assert_non_null(sqlite3_vfs_find(jst_history_vfs()));
	double e[] = {1};
	json_t *d = doc_of("h", "c", 1, e, 0.1, NULL);
	jst_history *h;
	char err[256] = "";
	int64_t id = 0;
	assert_int_equal(jst_history_open(db, 1, &h, err, sizeof err), 0);
	assert_int_equal(jst_history_record(h, d, NULL, &id, err, sizeof err), 0);
	sqlite3 *s;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open_v2(db, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(s, 10000);
	assert_int_equal(sqlite3_prepare_v2(s, "SELECT count(*) FROM runs", -1, &q, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_reset(q);
	/* A reader's transaction open in the other VFS does not keep this one
	 * from recording (WAL), and sees its snapshot until it ends. */
	assert_int_equal(sqlite3_exec(s, "BEGIN; SELECT count(*) FROM runs", NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(jst_history_record(h, d, NULL, &id, err, sizeof err), 0);
	assert_int_equal(id, 2);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_reset(q);
	assert_int_equal(sqlite3_exec(s, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 2);
	sqlite3_finalize(q);
	/* The other way: its write is seen by this connection's next record. */
	assert_int_equal(sqlite3_exec(s,
	                              "INSERT INTO runs (start, end, hostname, command, "
	                              "command_line, partial, repetitions, document) VALUES "
	                              "('a', 'b', 'x', '[]', '', 0, 1, '{}')",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(jst_history_record(h, d, NULL, &id, err, sizeof err), 0);
	assert_int_equal(id, 4);
	jst_history_close(h);
	sqlite3_close(s);
	/* A process's first connection rebuilds the wal-index in its own VFS. */
	assert_int_equal(jst_history_open(db, 0, &h, err, sizeof err), 0);
	assert_int_equal(jst_history_record(h, d, NULL, &id, err, sizeof err), 0);
	assert_int_equal(id, 5);
	jst_history_close(h);
	assert_int_equal(pragma("journal_mode"), 1);
	json_decref(d);
}

static void newer_schema_refused_untouched(void **st)
{
	(void)st;
	double e[] = {1};
	json_t *d = doc_of("h", "c", 1, e, 0.1, NULL);
	record(d, NULL);
	json_decref(d);
	sqlite3 *s;
	assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
	assert_int_equal(sqlite3_exec(s, "PRAGMA user_version = 9", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	jst_history *h = NULL;
	char err[256] = "";
	assert_int_equal(jst_history_open(db, 1, &h, err, sizeof err), -EPROTO);
	assert_null(h);
	assert_non_null(strstr(err, "newer than this joulestat"));
	assert_int_equal(pragma("user_version"), 9);
}

/* ---- time bounds ------------------------------------------------------------ */

/* Every form docs/history.md gives, and the instant each is, in the stored
 * form of a start; then what is refused, and why. */
static void time_bounds(void **st)
{
	(void)st;
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"2026-12-02", "2026-12-02T00:00:00.000Z"},
	    {"2024-02-29", "2024-02-29T00:00:00.000Z"},
	    {"2026-12-02T17:40Z", "2026-12-02T17:40:00.000Z"},
	    {"2026-12-02T17:40:40Z", "2026-12-02T17:40:40.000Z"},
	    {"2026-12-02T17:40:40.7Z", "2026-12-02T17:40:40.700Z"},
	    {"2026-12-02T17:40:40.726Z", "2026-12-02T17:40:40.726Z"},
	    {"2026-12-02T17:40:40.72600000Z", "2026-12-02T17:40:40.726Z"},
	    /* finer than the starts' milliseconds: the next one */
	    {"2026-12-02T17:40:40.7260001Z", "2026-12-02T17:40:40.727Z"},
	    {"2026-12-02T17:40:40.9999Z", "2026-12-02T17:40:41.000Z"},
	    {"2026-12-31T23:59:59.9991Z", "2027-01-01T00:00:00.000Z"},
	    {"2026-12-02t17:40:40z", "2026-12-02T17:40:40.000Z"},
	    {"2026-12-02T18:40:40.5+01:00", "2026-12-02T17:40:40.500Z"},
	    {"2026-12-02T12:10-05:30", "2026-12-02T17:40:00.000Z"},
	    {"2026-12-03T01:00+08:00", "2026-12-02T17:00:00.000Z"},
	    {"2026-01-01T00:30+01:00", "2025-12-31T23:30:00.000Z"},
	    {"2026-12-02T00:00:00-00:00", "2026-12-02T00:00:00.000Z"},
	    /* a leap second: the first instant after it */
	    {"2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"},
	    {"2000-02-29T12:00Z", "2000-02-29T12:00:00.000Z"},
	    {"9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"},
	    {"0000-01-01", "0000-01-01T00:00:00.000Z"},
	};
	char out[JST_HISTORY_TIME_LEN], why[128];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		memset(out, 'x', sizeof out);
		if (jst_history_time_bound(ok[i].in, out, why, sizeof why) != 0)
			fail_msg("%s refused: %s", ok[i].in, why);
		if (strcmp(out, ok[i].out) != 0)
			fail_msg("%s read as %s, not %s", ok[i].in, out, ok[i].out);
	}
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"", "not a date"},
	    {"yesterday", "not a date"},
	    {"20261202", "not a date"},
	    {"2026-13-01", "no such month"},
	    {"2026-02-29", "no such day"},
	    {"1900-02-29", "no such day"},
	    {"2026-04-31", "no such day"},
	    {"2026-12-02Z", "a time is"},
	    {"2026-12-02T17Z", "a time is"},
	    {"2026-12-02 17:40Z", "a time is"},
	    {"2026-12-02T24:00Z", "no such time"},
	    {"2026-12-02T17:60Z", "no such time"},
	    {"2026-12-02T17:40:61Z", "no such second"},
	    {"2026-12-02T17:40:4Z", "seconds are"},
	    {"2026-12-02T17:40:40.Z", "needs digits"},
	    {"2026-12-02T17:40:40", "needs its zone"},
	    {"2026-12-02T17:40", "needs its zone"},
	    {"2026-12-02T17:40:40+0100", "ends in Z"},
	    {"2026-12-02T17:40:40+24:00", "an offset is"},
	    {"2026-12-02T17:40:40Zjunk", "ends in Z"},
	    {"2026-12-02T17:40:40.5.5Z", "ends in Z"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = '\0';
		if (jst_history_time_bound(bad[i].in, out, why, sizeof why) != -EINVAL)
			fail_msg("'%s' taken", bad[i].in);
		if (!strstr(why, bad[i].why))
			fail_msg("'%s': '%s' does not say '%s'", bad[i].in, why, bad[i].why);
	}
	assert_int_equal(jst_history_time_bound("0000-01-01T00:30+01:00", out, why, sizeof why),
	                 -ERANGE);
	assert_int_equal(jst_history_time_bound("9999-12-31T23:59:59.9999Z", out, why, sizeof why),
	                 -ERANGE);
	assert_int_equal(jst_history_time_bound("9999-12-31T23:30-01:00", out, why, sizeof why),
	                 -ERANGE);
}

/* The carbon and cost options' numbers: decimal only. */
static void decimal_numbers(void **st)
{
	(void)st;
	static const char *const ok[] = {"0",  "16",  "+16",  "-1",     "0.25", ".5",
	                                 "5.", "1e3", "1E-3", "2.5e+2", "007"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!jst_cli_is_decimal(ok[i]))
			fail_msg("'%s' refused", ok[i]);
	static const char *const bad[] = {"",    "0x10",  "0X10", "inf", "nan", "infinity", " 16",
	                                  "16 ", "16g",   "1e",   "1e+", ".",   "+",        "-",
	                                  "1,5", "0x1p4", "1..2", "e3",  "--1", "1e3.",     "١٦"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (jst_cli_is_decimal(bad[i]))
			fail_msg("'%s' taken", bad[i]);
	double v = -1;
	assert_int_equal(jst_cli_parse_number("run", "--pue", "1.25", 1, 10, &v), 0);
	assert_true(v == 1.25);
	assert_int_equal(jst_cli_parse_number("run", "--carbon-intensity", "0x10", 0, 5000, &v),
	                 -1);
	assert_int_equal(jst_cli_parse_number("run", "--price", "nan", 0, 1e6, &v), -1);
	assert_int_equal(jst_cli_parse_number("run", "--pue", "11", 1, 10, &v), -1);
	assert_int_equal(jst_cli_parse_number("run", "--price", "1e999", 0, 1e6, &v), -1);
	assert_true(v == 1.25); /* untouched by a refused one */
	assert_int_equal(jst_cli_parse_seconds("burn", "--seconds", "0x10", &v), -1);
	assert_int_equal(jst_cli_parse_seconds("burn", "--seconds", "2.5", &v), 0);
	assert_true(v == 2.5);
}

/* ---- carbon ---------------------------------------------------------------- */

static void carbon_figures(void **st)
{
	(void)st;
	struct jst_carbon c = {.set = 1, .intensity = 400, .pue = 1.5, .price = 0.2};
	struct jst_carbon_figure f;
	jst_carbon_of(&c, 3.6e6, 1.8e5, &f); /* 1 kWh ± 5% */
	assert_true(fabs(f.co2e_g - 600) < 1e-9);
	assert_true(fabs(f.co2e_uncertainty_g - 30) < 1e-9);
	assert_true(fabs(f.cost - 0.3) < 1e-12);
	assert_true(fabs(f.cost_uncertainty - 0.015) < 1e-12);
	/* Never more certain than the energy: the same relative uncertainty. */
	assert_true(f.co2e_uncertainty_g / f.co2e_g >= 1.8e5 / 3.6e6 - 1e-15);
	c.price = NAN;
	jst_carbon_of(&c, 3.6e6, 1.8e5, &f);
	assert_true(isnan(f.cost));
}

static void carbon_table_is_cited(void **st)
{
	(void)st;
	assert_true(jst_carbon_region_count > 20);
	for (size_t i = 0; i < jst_carbon_region_count; i++) {
		const struct jst_carbon_region *r = &jst_carbon_regions[i];
		assert_true(r->g_per_kwh > 0 && r->g_per_kwh < 1500);
		assert_true(r->year >= 2015 && r->year <= 2030);
		assert_true(r->source && strlen(r->source) > 3);
		assert_true(r->name && *r->name);
		assert_ptr_equal(jst_carbon_region_find(r->code), r); /* codes are unique */
	}
	assert_ptr_equal(jst_carbon_region_find("fr"), jst_carbon_region_find("FR"));
	assert_ptr_equal(jst_carbon_region_find("us-camx"), jst_carbon_region_find("US-CAMX"));
	assert_null(jst_carbon_region_find("XX"));
}

static void carbon_settings_precedence(void **st)
{
	(void)st;
	char conf[160], path[200];
	snprintf(conf, sizeof conf, "%s/config", dir);
	snprintf(path, sizeof path, "%s/joulestat", conf);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "mkdir -p %s", path);
	assert_int_equal(system(cmd), 0);
	size_t plen = strlen(path);
	snprintf(path + plen, sizeof path - plen, "/config");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# site\nregion = SE  # Stockholm\npue=1.3\n", f);
	fclose(f);
	setenv("XDG_CONFIG_HOME", conf, 1);
	unsetenv("JOULESTAT_REGION");
	unsetenv("JOULESTAT_CARBON_INTENSITY");
	unsetenv("JOULESTAT_PUE");
	unsetenv("JOULESTAT_PRICE");
	struct jst_carbon_request none = {.intensity = NAN, .pue = NAN, .price = NAN};
	struct jst_carbon c;
	assert_int_equal(jst_carbon_resolve("run", &none, &c), 0);
	assert_true(c.set);
	assert_string_equal(c.region, "SE");
	assert_true(c.pue == 1.3 && !c.pue_default);
	setenv("JOULESTAT_REGION", "pl", 1);
	assert_int_equal(jst_carbon_resolve("run", &none, &c), 0);
	assert_string_equal(c.region, "PL");
	struct jst_carbon_request req = none;
	req.region = "FR";
	assert_int_equal(jst_carbon_resolve("run", &req, &c), 0);
	assert_string_equal(c.region, "FR");
	req.intensity = 123;
	assert_int_equal(jst_carbon_resolve("run", &req, &c), 0);
	assert_true(c.intensity == 123);
	assert_string_equal(c.region, "");
	assert_string_equal(c.source, "--carbon-intensity");
	unsetenv("JOULESTAT_REGION");
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", dir, 1); /* no ~/.config/joulestat/config there */
	assert_int_equal(jst_carbon_resolve("run", &none, &c), 0);
	assert_false(c.set);
	assert_true(c.pue == 1.0 && c.pue_default);
	req = none;
	req.region = "Atlantis";
	assert_int_equal(jst_carbon_resolve("run", &req, &c), -1);
	setenv("JOULESTAT_PUE", "0.5", 1);
	assert_int_equal(jst_carbon_resolve("run", &none, &c), -1);
	setenv("JOULESTAT_PUE", "0x1", 1);
	assert_int_equal(jst_carbon_resolve("run", &none, &c), -1);
	unsetenv("JOULESTAT_PUE");
}

/* A config file line that is no setting, or of a key joulestat does not
 * know, is refused, whatever else is given: a misspelt key is a setting
 * silently not made. Blank lines and comments are nothing. */
static void carbon_config_unknown_keys(void **st)
{
	(void)st;
	char conf[160], path[200], cmd[256];
	snprintf(conf, sizeof conf, "%s/config", dir);
	snprintf(path, sizeof path, "%s/joulestat", conf);
	snprintf(cmd, sizeof cmd, "mkdir -p %s", path);
	assert_int_equal(system(cmd), 0);
	size_t plen = strlen(path);
	snprintf(path + plen, sizeof path - plen, "/config");
	setenv("XDG_CONFIG_HOME", conf, 1);
	unsetenv("JOULESTAT_REGION");
	unsetenv("JOULESTAT_CARBON_INTENSITY");
	unsetenv("JOULESTAT_PUE");
	unsetenv("JOULESTAT_PRICE");
	static const struct {
		const char *text;
		int rc;
	} files[] = {
	    {"\n# site\n   \n\t# indented comment\nregion = FR\n", 0},
	    {"carbon_intensity=100\npue = 1.1\nprice = 0.2 # EUR\n", 0},
	    {"Region = FR\n", -1},
	    {"region = FR\nPUE = 1.2\n", -1},
	    {"carbon-intensity = 100\n", -1},
	    {"region = FR\nregoin = DE\n", -1},
	    {"region FR\n", -1},
	    {"= FR\n", -1},
	    {"region = FR\ncarbon_intensity = 0x10\n", -1},
	};
	struct jst_carbon_request none = {.intensity = NAN, .pue = NAN, .price = NAN};
	struct jst_carbon c;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(files[i].text, f);
		fclose(f);
		if (jst_carbon_resolve("run", &none, &c) != files[i].rc)
			fail_msg("file '%s' not %s", files[i].text,
			         files[i].rc ? "refused" : "taken");
	}
	/* Refused even when the command line gives every setting. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Region = FR\n", f);
	fclose(f);
	struct jst_carbon_request all = {.intensity = 100, .pue = 1.2, .price = 0.3};
	assert_int_equal(jst_carbon_resolve("run", &all, &c), -1);
	unsetenv("XDG_CONFIG_HOME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(missing_file_is_not_made_by_readers, setup, teardown),
	    cmocka_unit_test_setup_teardown(records_read_back_to_the_joule, setup, teardown),
	    cmocka_unit_test_setup_teardown(cut_spool_records_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_writers_all_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_creators_all_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(newer_schema_refused_untouched, setup, teardown),
	    cmocka_unit_test_setup_teardown(own_vfs_shares_the_file, setup, teardown),
	    cmocka_unit_test(carbon_figures),
	    cmocka_unit_test(carbon_table_is_cited),
	    cmocka_unit_test_setup_teardown(carbon_settings_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(carbon_config_unknown_keys, setup, teardown),
	    cmocka_unit_test(time_bounds),
	    cmocka_unit_test(decimal_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
