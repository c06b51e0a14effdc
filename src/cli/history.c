/* The run history in SQLite. WAL, so that readers never wait for a writer and
 * many joulestat run at once each append their run; every write is one
 * IMMEDIATE transaction, so that concurrent writers queue on SQLite's lock
 * (busy timeout) instead of failing half-way. The schema version is PRAGMA
 * user_version, and a file of an older version is migrated step by step in
 * the same kind of transaction when opened (docs/history.md). */
#include "history.h"
#include "history_spool.h"
#include "history_vfs.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct jst_history {
	sqlite3 *db;
	int wal_frames; /* pages in the WAL after the last commit */
};

/* Concurrent runs wait for each other's transaction this long at most. */
enum { BUSY_TIMEOUT_MS = 60000 };
/* Fold the WAL into the file once it holds this many pages (4 KiB); a run
 * adds a few, a run with --series or many -I rows more. */
enum { WAL_FRAMES = 64 };

/* Step n brings the schema from version n to n + 1. */
static const char *const migrations[JST_HISTORY_SCHEMA] = {
    /* 1: runs, each of their windows (repetitions and -I rows), and the
     * energy of each domain and total in each window. */
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " start TEXT NOT NULL, end TEXT NOT NULL, hostname TEXT NOT NULL,"
    " command TEXT NOT NULL, command_line TEXT NOT NULL,"
    " exit_status INTEGER, partial INTEGER NOT NULL, repetitions INTEGER NOT NULL,"
    " total TEXT, energy_j REAL, uncertainty_j REAL, duration_s REAL,"
    " document TEXT NOT NULL);"
    "CREATE INDEX runs_start ON runs(start);"
    "CREATE INDEX runs_host ON runs(hostname, start);"
    "CREATE TABLE windows ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " type TEXT NOT NULL, name TEXT NOT NULL, repetition INTEGER NOT NULL,"
    " begin_ns INTEGER, end_ns INTEGER, duration_s REAL, exit_status INTEGER,"
    " partial INTEGER NOT NULL);"
    "CREATE INDEX windows_run ON windows(run_id, type);"
    "CREATE TABLE energies ("
    " window_id INTEGER NOT NULL REFERENCES windows(id) ON DELETE CASCADE,"
    " is_total INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT, device TEXT, backend TEXT,"
    " method TEXT, is_primary INTEGER, accuracy REAL, energy_j REAL, uncertainty_j REAL,"
    " avg_power_w REAL, partial INTEGER);"
    "CREATE INDEX energies_window ON energies(window_id);",
    /* 2: carbon and cost beside the energy, and the time series (--series). */
    "ALTER TABLE runs ADD COLUMN co2e_g REAL;"
    "ALTER TABLE runs ADD COLUMN co2e_uncertainty_g REAL;"
    "ALTER TABLE runs ADD COLUMN cost REAL;"
    "ALTER TABLE runs ADD COLUMN carbon TEXT;"
    "CREATE TABLE series ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " domain TEXT NOT NULL, kind TEXT, t_ns INTEGER NOT NULL, energy_j REAL, power_w REAL);"
    "CREATE INDEX series_run ON series(run_id, domain);",
    /* 3: no index on the runs' start or host. Every run paid for them (two
     * more pages written, two more objects parsed from the schema by every
     * process that opens the file), and nothing used them: a listing runs
     * down the rows by id, its filters match a substring of the command
     * anyway, and the table holds one row per invocation. */
    "DROP INDEX IF EXISTS runs_start;"
    "DROP INDEX IF EXISTS runs_host;",
    /* 4: every field `run --json` writes of a domain and a total, so that an
     * interval (kept only in these tables) is given back whole: without
     * source and parent a row could not be told from another of its name,
     * nor a short or bridged figure from a sound one. Only the intervals'
     * rows fill them: a repetition's domains are whole in the document. An
     * added column is a change of the schema only: the rows of older runs
     * are not rewritten, and read back NULL (shown in the shape they were
     * recorded in). */
    "ALTER TABLE energies ADD COLUMN source TEXT;"
    "ALTER TABLE energies ADD COLUMN note TEXT;"
    "ALTER TABLE energies ADD COLUMN parent TEXT;"
    "ALTER TABLE energies ADD COLUMN peak_power_w REAL;"
    "ALTER TABLE energies ADD COLUMN samples INTEGER;"
    "ALTER TABLE energies ADD COLUMN short_window INTEGER;"
    "ALTER TABLE energies ADD COLUMN bridged INTEGER;"
    "ALTER TABLE energies ADD COLUMN temperature_max_c REAL;"
    "ALTER TABLE energies ADD COLUMN utilization_mean_pct REAL;"
    "ALTER TABLE energies ADD COLUMN clock_mean_mhz REAL;"
    "ALTER TABLE energies ADD COLUMN power_limit_w REAL;"
    "ALTER TABLE energies ADD COLUMN parts INTEGER;"
    "ALTER TABLE energies ADD COLUMN estimated INTEGER;"
    "ALTER TABLE energies ADD COLUMN counted INTEGER;"
    /* ... and each reading's series by its place in the document's array:
     * a device's methods (--cross-validate) are series of one name. */
    "ALTER TABLE series ADD COLUMN seq INTEGER;",
};

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* An SQLite failure as -errno, its text in err. */
static int db_fail(sqlite3 *db, char *err, size_t len, const char *what)
{
	int code = sqlite3_errcode(db);
	snprintf(err, len, "%s: %s", what, sqlite3_errmsg(db));
	switch (code & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EILSEQ;
	default:
		return -EIO;
	}
}

int jst_history_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;
	/* The XDG spec: a relative XDG_DATA_HOME is invalid and ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/joulestat/history.db", xdg);
	else if (home && home[0])
		n = snprintf(buf, len, "%s/.local/share/joulestat/history.db", home);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* mkdir -p of path's directory, private to its user as XDG asks. */
static int make_parents(const char *path)
{
	char *dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	for (char *p = dir + 1; slash && *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			int e = errno;
			free(dir);
			return -e;
		}
		*p = '/';
	}
	int rc = slash && dir[0] && mkdir(dir, 0700) && errno != EEXIST ? -errno : 0;
	free(dir);
	return rc;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t len)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err, len, "history");
	return 0;
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Bring the schema to JST_HISTORY_SCHEMA, in one transaction that re-reads
 * the version under the write lock: of many joulestat opening a new file at
 * once, the first migrates it and the others find it done. v: the version
 * read when the file was opened (the common case: up to date, nothing more
 * to read). */
static int migrate(sqlite3 *db, int v, char *err, size_t len)
{
	int rc;
	if (v == JST_HISTORY_SCHEMA)
		return 0;
	/* Read again once WAL is on: another joulestat may have made the file
	 * meanwhile. */
	if (user_version(db, &v))
		return db_fail(db, err, len, "history: cannot read the schema version");
	if (v == JST_HISTORY_SCHEMA)
		return 0;
	if ((rc = exec(db, "BEGIN IMMEDIATE", err, len)))
		return rc;
	if (user_version(db, &v)) {
		rc = db_fail(db, err, len, "history: cannot read the schema version");
	} else if (v > JST_HISTORY_SCHEMA || v < 0) {
		rc = fail(err, len, -EPROTO,
		          "history: schema version %d is newer than this joulestat's (%d): use a "
		          "newer joulestat, or set XDG_DATA_HOME elsewhere",
		          v, JST_HISTORY_SCHEMA);
	}
	for (; !rc && v < JST_HISTORY_SCHEMA; v++)
		rc = exec(db, migrations[v], err, len);
	if (!rc) {
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", JST_HISTORY_SCHEMA);
		rc = exec(db, sql, err, len);
	}
	if (!rc)
		rc = exec(db, "COMMIT", err, len);
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((jst_history *)ctx)->wal_frames = frames;
	return SQLITE_OK;
}

/* Fold a long WAL into the file and truncate it. Only when no other run
 * holds the database (no waiting: busy, it is left to a later run). */
static void fold_wal(jst_history *h)
{
	if (h->wal_frames < WAL_FRAMES)
		return;
	sqlite3_busy_timeout(h->db, 0);
	if (sqlite3_wal_checkpoint_v2(h->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) ==
	    SQLITE_OK)
		h->wal_frames = 0;
	sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
}

/* Switching a file to WAL upgrades the statement's read lock to a write
 * lock, which SQLite refuses at once, without its busy handler (waiting there
 * could deadlock), while another process holds the file: as when several
 * runs make the history at once. The switch is retried, as the busy handler
 * would have waited, for at most BUSY_TIMEOUT_MS. */
static int set_wal(sqlite3 *db, char *err, size_t errlen)
{
	int rc;
	for (int waited_ms = 0;; waited_ms += 2) {
		rc = exec(db, "PRAGMA journal_mode=WAL", err, errlen);
		if (rc != -EBUSY || waited_ms >= BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_sleep(2);
	}
}

int jst_history_open(const char *path, int create, jst_history **out, char *err, size_t errlen)
{
	*out = NULL;
	struct stat st;
	if (!create && stat(path, &st))
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	int rc;
	if (create && (rc = make_parents(path)))
		return fail(err, errlen, rc, "%s: cannot make its directory: %s", path,
		            strerror(-rc));
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db,
	                    SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
	                        SQLITE_OPEN_NOMUTEX,
	                    jst_history_vfs()) != SQLITE_OK) {
		rc = db ? db_fail(db, err, errlen, path) : -ENOMEM;
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* A run must cost next to nothing (BENCHMARKS.md: history cost). The last
	 * connection to close would checkpoint the WAL into the file and sync
	 * both, and the next would make a new WAL: milliseconds on every run.
	 * Instead the WAL stays on close and no commit is synced
	 * (synchronous=NORMAL); once it holds WAL_FRAMES pages, the run that
	 * finds it so folds it into the file and truncates it (wal_hook below): a
	 * sync once in many runs, and a WAL short enough that the next process
	 * reads it at once. A power cut may lose the last runs, never the file. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	rc = exec(db, "PRAGMA synchronous=NORMAL", err, errlen);
	int v = 0;
	if (!rc && user_version(db, &v))
		rc = db_fail(db, err, errlen, "history: cannot read the schema version");
	/* WAL is a property of the file: set once, when it is made. */
	if (!rc && v == 0)
		rc = set_wal(db, err, errlen);
	if (!rc)
		rc = migrate(db, v, err, errlen);
	if (rc) {
		sqlite3_close(db);
		return rc;
	}
	*out = calloc(1, sizeof **out);
	if (!*out) {
		sqlite3_close(db);
		return -ENOMEM;
	}
	(*out)->db = db;
	/* Replaces SQLite's automatic checkpoint, which would run it on every
	 * commit past its threshold: see fold_wal. */
	sqlite3_wal_hook(db, wal_hook, *out);
	return 0;
}

void jst_history_close(jst_history *h)
{
	if (!h)
		return;
	sqlite3_close(h->db);
	free(h);
}

/* ---- recording ------------------------------------------------------------ */

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void bind_num(sqlite3_stmt *st, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* The text stays put until the statement is reset (step_done) or finalised. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The total a run's figure is: the components' "total", else "system". */
static const json_t *run_total(const json_t *m, const char **name)
{
	const json_t *totals = json_object_get(m, "totals");
	const json_t *t = json_object_get(totals, "total");
	*name = "total";
	if (!t) {
		t = json_object_get(totals, "system");
		*name = t ? "system" : NULL;
	}
	return t;
}

/* energy: a repetition's energies, in the columns of schema 1 (the document
 * keeps their other fields, and a run without -I should not pay for more);
 * detail: an interval's, in every column. */
struct stmts {
	sqlite3_stmt *window, *energy, *detail, *sample;
};

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A window's row and an energy's, whether they come from the document (the
 * repetitions) or from the spool (the intervals). */
struct window_row {
	const char *type, *name;
	sqlite3_int64 repetition, begin_ns, end_ns, exit_status;
	int has_status, partial;
	double duration_s;
};

/* A domain's count is its samples, a total's its parts; a total has no
 * strings but its name, nor peak or telemetry. */
struct energy_row {
	const char *name, *kind, *device, *backend, *method, *source, *note, *parent;
	int is_total, primary, counted, partial, short_window, bridged, estimated;
	sqlite3_int64 count;
	double accuracy, energy_j, uncertainty_j, avg_power_w, peak_power_w;
	double temperature_max_c, utilization_mean_pct, clock_mean_mhz, power_limit_w;
};

static int put_window(sqlite3 *db, struct stmts *s, sqlite3_int64 run_id,
                      const struct window_row *w, sqlite3_int64 *wid)
{
	sqlite3_stmt *st = s->window;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, w->type);
	bind_text(st, 3, w->name ? w->name : "");
	sqlite3_bind_int64(st, 4, w->repetition);
	sqlite3_bind_int64(st, 5, w->begin_ns);
	sqlite3_bind_int64(st, 6, w->end_ns);
	bind_num(st, 7, w->duration_s);
	if (w->has_status)
		sqlite3_bind_int64(st, 8, w->exit_status);
	else
		sqlite3_bind_null(st, 8);
	sqlite3_bind_int(st, 9, w->partial);
	if (step_done(st))
		return -1;
	*wid = sqlite3_last_insert_rowid(db);
	return 0;
}

/* Into s->energy, or with detail into s->detail with every field of e. */
static int put_energy(struct stmts *s, int detail, sqlite3_int64 wid, const struct energy_row *e)
{
	sqlite3_stmt *st = detail ? s->detail : s->energy;
	sqlite3_bind_int64(st, 1, wid);
	sqlite3_bind_int(st, 2, e->is_total);
	bind_text(st, 3, e->name);
	if (!e->is_total) {
		bind_text(st, 4, e->kind);
		bind_text(st, 5, e->device);
		bind_text(st, 6, e->backend);
		bind_text(st, 7, e->method);
		sqlite3_bind_int(st, 8, e->primary);
	}
	bind_num(st, 9, e->accuracy);
	bind_num(st, 10, e->energy_j);
	bind_num(st, 11, e->uncertainty_j);
	bind_num(st, 12, e->avg_power_w);
	sqlite3_bind_int(st, 13, e->partial);
	if (!detail) {
		/* The repetition's other fields are in the document. */
	} else if (e->is_total) {
		sqlite3_bind_int64(st, 25, e->count);
		sqlite3_bind_int(st, 26, e->estimated);
	} else {
		bind_text(st, 14, e->source);
		bind_text(st, 15, e->note);
		bind_text(st, 16, e->parent);
		bind_num(st, 17, e->peak_power_w);
		sqlite3_bind_int64(st, 18, e->count);
		sqlite3_bind_int(st, 19, e->short_window);
		sqlite3_bind_int(st, 20, e->bridged);
		bind_num(st, 21, e->temperature_max_c);
		bind_num(st, 22, e->utilization_mean_pct);
		bind_num(st, 23, e->clock_mean_mhz);
		bind_num(st, 24, e->power_limit_w);
		sqlite3_bind_int(st, 27, e->counted);
	}
	return step_done(st);
}

static struct energy_row energy_of(int is_total, const char *name, const json_t *e)
{
	return (struct energy_row){
	    .name = name,
	    .kind = is_total ? NULL : str(e, "kind"),
	    .device = is_total ? NULL : str(e, "device"),
	    .backend = is_total ? NULL : str(e, "backend"),
	    .method = is_total ? NULL : str(e, "method"),
	    .is_total = is_total,
	    .primary = json_is_true(json_object_get(e, "primary")),
	    .partial = json_is_true(json_object_get(e, "partial")),
	    .accuracy = num(e, "accuracy"),
	    .energy_j = num(e, "energy_j"),
	    .uncertainty_j = num(e, "uncertainty_j"),
	    .avg_power_w = num(e, "avg_power_w"),
	};
}

/* One repetition and its domains' and totals' energy, from the document. */
static int insert_window(sqlite3 *db, struct stmts *s, sqlite3_int64 run_id, size_t repetition,
                         const json_t *m)
{
	const json_t *status = json_object_get(m, "exit_status");
	struct window_row w = {
	    .type = "run",
	    .name = str(m, "name"),
	    .repetition = (sqlite3_int64)repetition,
	    .begin_ns = (sqlite3_int64)json_integer_value(json_object_get(m, "begin_ns")),
	    .end_ns = (sqlite3_int64)json_integer_value(json_object_get(m, "end_ns")),
	    .exit_status = (sqlite3_int64)json_integer_value(status),
	    .has_status = json_is_integer(status),
	    .partial = json_is_true(json_object_get(m, "partial")),
	    .duration_s = num(m, "duration_s"),
	};
	sqlite3_int64 wid;
	if (put_window(db, s, run_id, &w, &wid))
		return -1;
	size_t i;
	const json_t *d;
	json_array_foreach(json_object_get(m, "domains"), i, d)
	{
		struct energy_row e = energy_of(0, str(d, "name"), d);
		if (put_energy(s, 0, wid, &e))
			return -1;
	}
	const char *key;
	const json_t *t;
	json_object_foreach((json_t *)json_object_get(m, "totals"), key, t)
	{
		struct energy_row e = energy_of(1, key, t);
		if (put_energy(s, 0, wid, &e))
			return -1;
	}
	return 0;
}

static int insert_series(struct stmts *s, sqlite3_int64 run_id, const json_t *series)
{
	size_t i, k;
	const json_t *one;
	json_array_foreach(series, i, one)
	{
		const json_t *t = json_object_get(one, "t_ns"),
		             *e = json_object_get(one, "energy_j"),
		             *p = json_object_get(one, "power_w");
		for (k = 0; k < json_array_size(t); k++) {
			sqlite3_stmt *st = s->sample;
			sqlite3_bind_int64(st, 1, run_id);
			bind_text(st, 2, str(one, "domain"));
			bind_text(st, 3, str(one, "kind"));
			sqlite3_bind_int64(st, 4,
			                   (sqlite3_int64)json_integer_value(json_array_get(t, k)));
			const json_t *ev = json_array_get(e, k), *pv = json_array_get(p, k);
			bind_num(st, 5, json_is_number(ev) ? json_number_value(ev) : NAN);
			bind_num(st, 6, json_is_number(pv) ? json_number_value(pv) : NAN);
			sqlite3_bind_int64(st, 7, (sqlite3_int64)i);
			if (step_done(st))
				return -1;
		}
	}
	return 0;
}

/* A string of the spool into buf (JST_SPOOL_NULL + 1 bytes); *out NULL for
 * a NULL one. */
static int spool_str(FILE *f, char *buf, const char **out)
{
	uint16_t n;
	if (fread(&n, sizeof n, 1, f) != 1)
		return -1;
	*out = NULL;
	if (n == JST_SPOOL_NULL)
		return 0;
	if (n && fread(buf, 1, n, f) != n)
		return -1;
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* The spooled intervals (history_spool.h). -1 for a database error, -2 for
 * an unreadable spool. */
static int insert_intervals(sqlite3 *db, struct stmts *s, sqlite3_int64 run_id, FILE *f)
{
	if (!f)
		return 0;
	rewind(f);
	/* The window's name and an entry's strings; only the pages a name
	 * reaches are ever touched. */
	char(*buf)[JST_SPOOL_NULL + 1] = malloc((1 + JST_SPOOL_STRINGS) * sizeof *buf);
	if (!buf)
		return -2;
	struct jst_spool_head h;
	int rc = 0;
	while (!rc && fread(&h, sizeof h, 1, f) == 1) {
		struct window_row w = {
		    .type = "interval",
		    .repetition = (sqlite3_int64)h.run,
		    .begin_ns = h.begin_ns,
		    .end_ns = h.end_ns,
		    .partial = !!h.partial,
		    .duration_s = h.duration_s,
		};
		sqlite3_int64 wid;
		if (h.magic != JST_SPOOL_MAGIC || spool_str(f, buf[0], &w.name)) {
			rc = -2;
			break;
		}
		if (put_window(db, s, run_id, &w, &wid)) {
			rc = -1;
			break;
		}
		for (uint32_t i = 0; !rc && i < h.entries; i++) {
			struct jst_spool_entry se;
			const char *sv[JST_SPOOL_STRINGS];
			int bad = fread(&se, sizeof se, 1, f) != 1;
			for (int k = 0; !bad && k < JST_SPOOL_STRINGS; k++)
				bad = spool_str(f, buf[1 + k], &sv[k]);
			if (bad) {
				rc = -2;
				break;
			}
			struct energy_row e = {
			    .name = sv[JST_SPOOL_NAME],
			    .kind = sv[JST_SPOOL_KIND],
			    .device = sv[JST_SPOOL_DEVICE],
			    .backend = sv[JST_SPOOL_BACKEND],
			    .method = sv[JST_SPOOL_METHOD],
			    .source = sv[JST_SPOOL_SOURCE],
			    .note = sv[JST_SPOOL_NOTE],
			    .parent = sv[JST_SPOOL_PARENT],
			    .is_total = se.is_total,
			    .primary = se.primary,
			    .counted = se.counted,
			    .partial = se.partial,
			    .short_window = se.short_window,
			    .bridged = se.bridged,
			    .estimated = se.estimated,
			    .count = (sqlite3_int64)se.count,
			    .accuracy = se.accuracy,
			    .energy_j = se.energy_j,
			    .uncertainty_j = se.uncertainty_j,
			    .avg_power_w = se.avg_power_w,
			    .peak_power_w = se.peak_power_w,
			    .temperature_max_c = se.temperature_max_c,
			    .utilization_mean_pct = se.utilization_mean_pct,
			    .clock_mean_mhz = se.clock_mean_mhz,
			    .power_limit_w = se.power_limit_w,
			};
			if (put_energy(s, 1, wid, &e))
				rc = -1;
		}
	}
	if (!rc && ferror(f))
		rc = -2;
	free(buf);
	return rc;
}

/* The command as one line, for listing and filtering. */
static char *command_line(const json_t *cmd)
{
	size_t len = 1, i, used = 0;
	const json_t *a;
	json_array_foreach(cmd, i, a)
	{
		len += strlen(json_string_value(a) ? json_string_value(a) : "") + 1;
	}
	char *s = calloc(1, len);
	json_array_foreach(cmd, i, a)
	{
		if (!s)
			break;
		used += (size_t)snprintf(s + used, len - used, "%s%s", i ? " " : "",
		                         json_string_value(a) ? json_string_value(a) : "");
	}
	return s;
}

static int insert_run(jst_history *h, const json_t *doc, sqlite3_int64 *id)
{
	const json_t *ident = json_object_get(doc, "identity"),
	             *runs = json_object_get(doc, "runs");
	const json_t *carbon = json_object_get(doc, "carbon");
	double e = 0, u = 0, dur = 0;
	const char *total = NULL;
	size_t i;
	const json_t *m;
	json_array_foreach(runs, i, m)
	{
		const char *name;
		const json_t *t = run_total(m, &name);
		if (t) {
			e += num(t, "energy_j");
			u += num(t, "uncertainty_j");
			total = name;
		}
		dur += num(m, "duration_s");
	}
	char *cmdline = command_line(json_object_get(doc, "command"));
	char *cmd = json_dumps(json_object_get(doc, "command"), JSON_COMPACT);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
	char *carbon_text =
	    carbon ? json_dumps(carbon, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (cmdline && cmd && text &&
	    sqlite3_prepare_v2(h->db,
	                       "INSERT INTO runs (start, end, hostname, command, command_line, "
	                       "exit_status, partial, repetitions, total, energy_j, uncertainty_j, "
	                       "duration_s, document, co2e_g, co2e_uncertainty_g, cost, carbon) "
	                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &st, NULL) == SQLITE_OK) {
		bind_text(st, 1, str(ident, "start"));
		bind_text(st, 2, str(ident, "end"));
		bind_text(st, 3, str(ident, "hostname") ? str(ident, "hostname") : "");
		bind_text(st, 4, cmd);
		bind_text(st, 5, cmdline);
		sqlite3_bind_int64(
		    st, 6, (sqlite3_int64)json_integer_value(json_object_get(doc, "exit_status")));
		sqlite3_bind_int(st, 7, json_is_true(json_object_get(doc, "partial")));
		sqlite3_bind_int64(st, 8, (sqlite3_int64)json_array_size(runs));
		bind_text(st, 9, total);
		bind_num(st, 10, total ? e : NAN);
		bind_num(st, 11, total ? u : NAN);
		bind_num(st, 12, dur);
		bind_text(st, 13, text);
		bind_num(st, 14, num(carbon, "co2e_g"));
		bind_num(st, 15, num(carbon, "co2e_uncertainty_g"));
		bind_num(st, 16, num(carbon, "cost"));
		bind_text(st, 17, carbon_text);
		if (sqlite3_step(st) == SQLITE_DONE) {
			rc = 0;
			*id = sqlite3_last_insert_rowid(h->db);
		}
	}
	sqlite3_finalize(st);
	free(cmdline);
	free(cmd);
	free(text);
	free(carbon_text);
	return rc;
}

int jst_history_record(jst_history *h, const json_t *doc, FILE *intervals, int64_t *id, char *err,
                       size_t errlen)
{
	/* The series has its own table: the document keeps it out, or every
	 * listing would read it. Without one, the document is recorded as it
	 * is. */
	const json_t *series = json_object_get(doc, "series");
	json_t *copy = NULL;
	if (series) {
		if (!(copy = json_copy((json_t *)doc)))
			return -ENOMEM;
		json_object_del(copy, "series");
	}
	int rc = exec(h->db, "BEGIN IMMEDIATE", err, errlen);
	if (rc) {
		json_decref(copy);
		return rc;
	}
	struct stmts s = {0};
	sqlite3_int64 run_id = 0;
	/* Each statement is prepared once for the whole run. */
	int bad =
	    insert_run(h, copy ? copy : doc, &run_id) ||
	    sqlite3_prepare_v2(
	        h->db,
	        "INSERT INTO windows (run_id, type, name, repetition, begin_ns, "
	        "end_ns, duration_s, exit_status, partial) VALUES (?,?,?,?,?,?,?,?,?)",
	        -1, &s.window, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
	                       "INSERT INTO energies (window_id, is_total, name, kind, device, "
	                       "backend, method, is_primary, accuracy, energy_j, uncertainty_j, "
	                       "avg_power_w, partial) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &s.energy, NULL) != SQLITE_OK ||
	    (intervals &&
	     sqlite3_prepare_v2(
	         h->db,
	         "INSERT INTO energies (window_id, is_total, name, kind, device, backend, method, "
	         "is_primary, accuracy, energy_j, uncertainty_j, avg_power_w, partial, source, "
	         "note, parent, peak_power_w, samples, short_window, bridged, temperature_max_c, "
	         "utilization_mean_pct, clock_mean_mhz, power_limit_w, parts, estimated, counted) "
	         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	         -1, &s.detail, NULL) != SQLITE_OK) ||
	    (json_array_size(series) &&
	     sqlite3_prepare_v2(
	         h->db,
	         "INSERT INTO series (run_id, domain, kind, t_ns, energy_j, power_w, seq) "
	         "VALUES (?,?,?,?,?,?,?)",
	         -1, &s.sample, NULL) != SQLITE_OK);
	size_t i;
	const json_t *m;
	json_array_foreach(json_object_get(doc, "runs"), i, m)
	{
		if (!bad)
			bad = insert_window(h->db, &s, run_id, i + 1, m);
	}
	if (!bad && (bad = insert_intervals(h->db, &s, run_id, intervals)) == -2)
		rc = fail(err, errlen, -EIO, "history: the run's intervals could not be read back");
	if (!bad && json_array_size(series))
		bad = insert_series(&s, run_id, series);
	if (bad && !rc)
		rc = db_fail(h->db, err, errlen, "history: cannot record the run");
	sqlite3_finalize(s.window);
	sqlite3_finalize(s.energy);
	sqlite3_finalize(s.detail);
	sqlite3_finalize(s.sample);
	json_decref(copy);
	if (!rc)
		rc = exec(h->db, "COMMIT", err, errlen);
	if (rc) {
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	*id = run_id;
	fold_wal(h);
	return 0;
}

/* ---- reading ---------------------------------------------------------------- */

static double col_num(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

int jst_history_each(jst_history *h, const struct jst_history_filter *f,
                     int (*fn)(void *ctx, const struct jst_history_run *r), void *ctx, char *err,
                     size_t errlen)
{
	/* The newest `limit` are chosen, then listed oldest first. The bounds
	 * are in the starts' own fixed-width UTC form (history_time.h): text
	 * that sorts as the instants do. */
	const char *sql =
	    "SELECT * FROM (SELECT id, start, end, hostname, command_line, exit_status, partial, "
	    "repetitions, energy_j, uncertainty_j, duration_s, co2e_g, co2e_uncertainty_g, cost "
	    "FROM runs WHERE (?1 IS NULL OR instr(command_line, ?1) > 0) "
	    "AND (?2 IS NULL OR hostname = ?2) AND (?3 IS NULL OR start >= ?3) "
	    "AND (?4 IS NULL OR start < ?4) ORDER BY id DESC LIMIT ?5) ORDER BY id";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(h->db, err, errlen, "history");
	bind_text(st, 1, f->command);
	bind_text(st, 2, f->host);
	bind_text(st, 3, f->since);
	bind_text(st, 4, f->until);
	sqlite3_bind_int64(st, 5, f->limit ? (sqlite3_int64)f->limit : -1);
	int rc = 0, s;
	while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
		struct jst_history_run r = {
		    .id = sqlite3_column_int64(st, 0),
		    .start = col_text(st, 1),
		    .end = col_text(st, 2),
		    .hostname = col_text(st, 3),
		    .command_line = col_text(st, 4),
		    .exit_status = sqlite3_column_int(st, 5),
		    .partial = sqlite3_column_int(st, 6),
		    .repetitions = sqlite3_column_int(st, 7),
		    .energy_j = col_num(st, 8),
		    .uncertainty_j = col_num(st, 9),
		    .duration_s = col_num(st, 10),
		    .co2e_g = col_num(st, 11),
		    .co2e_uncertainty_g = col_num(st, 12),
		    .cost = col_num(st, 13),
		};
		rc = fn(ctx, &r);
	}
	if (!rc && s != SQLITE_DONE)
		rc = db_fail(h->db, err, errlen, "history");
	sqlite3_finalize(st);
	return rc;
}

static json_t *json_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* A text column as `run --json` writes a string: NULL is null. A name that
 * is not UTF-8 (kept as the device gave it) has its bytes past ASCII each
 * replaced with U+FFFD, where `run --json` replaces only the bytes that are
 * not part of a UTF-8 sequence. */
static json_t *json_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	const char *t = col_text(st, i);
	json_t *j = json_string(t);
	if (j)
		return j;
	char *buf = malloc(3 * strlen(t) + 1), *o = buf;
	for (const unsigned char *p = (const unsigned char *)t; buf && *p; p++) {
		if (*p < 0x80) {
			*o++ = (char)*p;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
		}
	}
	if (buf)
		*o = '\0';
	j = buf ? json_string(buf) : NULL;
	free(buf);
	return j ? j : json_null();
}

static json_t *json_flag(sqlite3_stmt *st, int i)
{
	return json_boolean(sqlite3_column_int(st, i));
}

/* Columns of intervals_of's query, from E_TOTAL on: an energy's. */
enum {
	E_TOTAL = 7,
	E_NAME,
	E_KIND,
	E_DEVICE,
	E_BACKEND,
	E_METHOD,
	E_PRIMARY,
	E_ACCURACY,
	E_ENERGY,
	E_UNCERTAINTY,
	E_AVG_POWER,
	E_PARTIAL,
	E_SOURCE,
	E_NOTE,
	E_PARENT,
	E_PEAK_POWER,
	E_SAMPLES,
	E_SHORT_WINDOW,
	E_BRIDGED,
	E_TEMPERATURE,
	E_UTILIZATION,
	E_CLOCK,
	E_POWER_LIMIT,
	E_PARTS,
	E_ESTIMATED,
	E_COUNTED,
};

/* A domain as `run --json` writes it (src/sinks/json.c, in its order). */
static json_t *domain_of(sqlite3_stmt *st)
{
	json_t *e = json_object();
	json_object_set_new(e, "name", json_text(st, E_NAME));
	json_object_set_new(e, "kind", json_text(st, E_KIND));
	json_object_set_new(e, "device", json_text(st, E_DEVICE));
	json_object_set_new(e, "backend", json_text(st, E_BACKEND));
	json_object_set_new(e, "method", json_text(st, E_METHOD));
	json_object_set_new(e, "source", json_text(st, E_SOURCE));
	json_object_set_new(e, "accuracy", json_num(col_num(st, E_ACCURACY)));
	json_object_set_new(e, "energy_j", json_num(col_num(st, E_ENERGY)));
	json_object_set_new(e, "uncertainty_j", json_num(col_num(st, E_UNCERTAINTY)));
	json_object_set_new(e, "avg_power_w", json_num(col_num(st, E_AVG_POWER)));
	json_object_set_new(e, "peak_power_w", json_num(col_num(st, E_PEAK_POWER)));
	json_object_set_new(e, "samples", json_integer(sqlite3_column_int64(st, E_SAMPLES)));
	json_object_set_new(e, "primary", json_flag(st, E_PRIMARY));
	json_object_set_new(e, "counted", json_flag(st, E_COUNTED));
	json_object_set_new(e, "partial", json_flag(st, E_PARTIAL));
	json_object_set_new(e, "short_window", json_flag(st, E_SHORT_WINDOW));
	json_object_set_new(e, "bridged", json_flag(st, E_BRIDGED));
	json_object_set_new(e, "note", json_text(st, E_NOTE));
	json_object_set_new(e, "temperature_max_c", json_num(col_num(st, E_TEMPERATURE)));
	json_object_set_new(e, "utilization_mean_pct", json_num(col_num(st, E_UTILIZATION)));
	json_object_set_new(e, "clock_mean_mhz", json_num(col_num(st, E_CLOCK)));
	json_object_set_new(e, "power_limit_w", json_num(col_num(st, E_POWER_LIMIT)));
	json_object_set_new(e, "parent", json_text(st, E_PARENT));
	return e;
}

/* A total as `run --json` writes it. */
static json_t *total_of(sqlite3_stmt *st)
{
	json_t *e = json_object();
	json_object_set_new(e, "energy_j", json_num(col_num(st, E_ENERGY)));
	json_object_set_new(e, "uncertainty_j", json_num(col_num(st, E_UNCERTAINTY)));
	json_object_set_new(e, "avg_power_w", json_num(col_num(st, E_AVG_POWER)));
	json_object_set_new(e, "accuracy", json_num(col_num(st, E_ACCURACY)));
	json_object_set_new(e, "parts", json_integer(sqlite3_column_int64(st, E_PARTS)));
	json_object_set_new(e, "estimated", json_flag(st, E_ESTIMATED));
	json_object_set_new(e, "partial", json_flag(st, E_PARTIAL));
	return e;
}

/* An energy recorded before schema 4, with the fields it had then. */
static json_t *energy_v3(sqlite3_stmt *st, int is_total)
{
	json_t *e = json_object();
	if (!is_total) {
		json_object_set_new(e, "name", json_string(col_text(st, E_NAME)));
		json_object_set_new(e, "kind", json_string(col_text(st, E_KIND)));
		json_object_set_new(e, "device", json_string(col_text(st, E_DEVICE)));
		json_object_set_new(e, "backend", json_string(col_text(st, E_BACKEND)));
		json_object_set_new(e, "method", json_string(col_text(st, E_METHOD)));
		json_object_set_new(e, "primary", json_flag(st, E_PRIMARY));
	}
	json_object_set_new(e, "accuracy", json_num(col_num(st, E_ACCURACY)));
	json_object_set_new(e, "energy_j", json_num(col_num(st, E_ENERGY)));
	json_object_set_new(e, "uncertainty_j", json_num(col_num(st, E_UNCERTAINTY)));
	json_object_set_new(e, "avg_power_w", json_num(col_num(st, E_AVG_POWER)));
	json_object_set_new(e, "partial", json_flag(st, E_PARTIAL));
	return e;
}

/* The intervals of run id rebuilt as `run --json` wrote them, from the
 * windows and energies tables. A row recorded before schema 4 (no samples
 * nor parts) is given back with the fields kept then. */
static json_t *intervals_of(jst_history *h, int64_t id)
{
	const char *sql =
	    "SELECT w.id, w.name, w.repetition, w.begin_ns, w.end_ns, w.duration_s, "
	    "w.partial, e.is_total, e.name, e.kind, e.device, e.backend, e.method, "
	    "e.is_primary, e.accuracy, e.energy_j, e.uncertainty_j, e.avg_power_w, "
	    "e.partial, e.source, e.note, e.parent, e.peak_power_w, e.samples, e.short_window, "
	    "e.bridged, e.temperature_max_c, e.utilization_mean_pct, e.clock_mean_mhz, "
	    "e.power_limit_w, e.parts, e.estimated, e.counted FROM windows w LEFT JOIN energies e "
	    "ON "
	    "e.window_id = w.id WHERE w.run_id = ? AND w.type = 'interval' ORDER BY w.id, e.rowid";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	json_t *all = json_array(), *m = NULL;
	sqlite3_int64 cur = -1;
	while (all && sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != cur) {
			cur = sqlite3_column_int64(st, 0);
			m = json_object();
			json_object_set_new(m, "name", json_string(col_text(st, 1)));
			json_object_set_new(m, "begin_ns",
			                    json_integer(sqlite3_column_int64(st, 3)));
			json_object_set_new(m, "end_ns", json_integer(sqlite3_column_int64(st, 4)));
			json_object_set_new(m, "duration_s", json_num(col_num(st, 5)));
			json_object_set_new(m, "partial", json_flag(st, 6));
			json_object_set_new(m, "domains", json_array());
			json_object_set_new(m, "totals", json_object());
			json_object_set_new(m, "run", json_integer(sqlite3_column_int64(st, 2)));
			json_array_append_new(all, m);
		}
		if (sqlite3_column_type(st, E_TOTAL) == SQLITE_NULL)
			continue;
		int is_total = sqlite3_column_int(st, E_TOTAL);
		int v4 = sqlite3_column_type(st, is_total ? E_PARTS : E_SAMPLES) != SQLITE_NULL;
		json_t *e = !v4 ? energy_v3(st, is_total) : is_total ? total_of(st) : domain_of(st);
		if (is_total)
			json_object_set_new(json_object_get(m, "totals"), col_text(st, E_NAME), e);
		else
			json_array_append_new(json_object_get(m, "domains"), e);
	}
	sqlite3_finalize(st);
	return all;
}

/* The series of run id, as --series writes it. A reading recorded before
 * schema 4 (no seq) belongs to the series of its domain's name. */
static json_t *series_of(jst_history *h, int64_t id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db,
	                       "SELECT domain, kind, t_ns, energy_j, power_w, seq FROM series "
	                       "WHERE run_id = ? ORDER BY rowid",
	                       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	json_t *all = json_array(), *cur = NULL;
	sqlite3_int64 seq = -1;
	while (all && sqlite3_step(st) == SQLITE_ROW) {
		int has_seq = sqlite3_column_type(st, 5) != SQLITE_NULL;
		if (!cur || (has_seq && sqlite3_column_int64(st, 5) != seq) ||
		    (!has_seq && strcmp(json_string_value(json_object_get(cur, "domain")),
		                        col_text(st, 0)) != 0)) {
			seq = sqlite3_column_int64(st, 5);
			cur = json_object();
			json_object_set_new(cur, "domain", json_string(col_text(st, 0)));
			json_object_set_new(cur, "kind", json_string(col_text(st, 1)));
			json_object_set_new(cur, "t_ns", json_array());
			json_object_set_new(cur, "energy_j", json_array());
			json_object_set_new(cur, "power_w", json_array());
			json_array_append_new(all, cur);
		}
		double e = col_num(st, 3), p = col_num(st, 4);
		json_array_append_new(json_object_get(cur, "t_ns"),
		                      json_integer(sqlite3_column_int64(st, 2)));
		json_array_append_new(json_object_get(cur, "energy_j"),
		                      isfinite(e) ? json_real(e) : json_null());
		json_array_append_new(json_object_get(cur, "power_w"),
		                      isfinite(p) ? json_real(p) : json_null());
	}
	sqlite3_finalize(st);
	return all;
}

int jst_history_document(jst_history *h, int64_t id, json_t **doc, char *err, size_t errlen)
{
	*doc = NULL;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, "SELECT document FROM runs WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(h->db, err, errlen, "history");
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE
		         ? fail(err, errlen, -ENOENT, "no run %lld in the history", (long long)id)
		         : db_fail(h->db, err, errlen, "history");
		sqlite3_finalize(st);
		return rc;
	}
	json_error_t je;
	*doc = json_loads(col_text(st, 0), 0, &je);
	sqlite3_finalize(st);
	if (!*doc)
		return fail(err, errlen, -EILSEQ, "run %lld: its document is not JSON: %s",
		            (long long)id, je.text);
	json_t *iv = intervals_of(h, id), *series = series_of(h, id);
	/* "id" first, as a reader looks for it. */
	json_t *out = json_object();
	json_object_set_new(out, "id", json_integer((json_int_t)id));
	json_object_update(out, *doc);
	json_decref(*doc);
	if (iv && json_array_size(iv))
		json_object_set_new(out, "intervals", iv);
	else
		json_decref(iv);
	if (series && json_array_size(series))
		json_object_set_new(out, "series", series);
	else
		json_decref(series);
	*doc = out;
	return 0;
}

int jst_history_repetitions(jst_history *h, int64_t id, double **e, double **u, size_t *n,
                            char *err, size_t errlen)
{
	*e = *u = NULL;
	*n = 0;
	/* Left out as `run -r` leaves them out: a repetition cut short by a lost
	 * device (partial) or by a signal (interrupted, in the document). */
	const char *sql = "SELECT e.energy_j, e.uncertainty_j FROM runs r JOIN windows w ON "
	                  "w.run_id = r.id AND w.type = 'run' JOIN energies e ON e.window_id = "
	                  "w.id AND e.is_total = 1 AND e.name = r.total WHERE r.id = ? AND "
	                  "w.partial = 0 AND e.energy_j IS NOT NULL AND coalesce(json_extract("
	                  "r.document, '$.runs[' || (w.repetition - 1) || '].interrupted'), 0) = 0 "
	                  "ORDER BY w.repetition";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(h->db, err, errlen, "history");
	sqlite3_bind_int64(st, 1, id);
	size_t cap = 0;
	int rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			double *ne = realloc(*e, cap * sizeof **e), *nu = NULL;
			if (ne)
				*e = ne;
			if (ne && (nu = realloc(*u, cap * sizeof **u)))
				*u = nu;
			if (!ne || !nu) {
				rc = -ENOMEM;
				break;
			}
		}
		(*e)[*n] = sqlite3_column_double(st, 0);
		(*u)[*n] = sqlite3_column_double(st, 1);
		(*n)++;
	}
	sqlite3_finalize(st);
	if (!rc && *n == 0) {
		/* No run, or none with a whole figure. */
		sqlite3_stmt *q;
		int exists = 0;
		if (sqlite3_prepare_v2(h->db, "SELECT 1 FROM runs WHERE id = ?", -1, &q, NULL) ==
		    SQLITE_OK) {
			sqlite3_bind_int64(q, 1, id);
			exists = sqlite3_step(q) == SQLITE_ROW;
			sqlite3_finalize(q);
		}
		rc = exists
		         ? fail(err, errlen, -ENODATA,
		                "run %lld has no whole energy figure (every repetition partial)",
		                (long long)id)
		         : fail(err, errlen, -ENOENT, "no run %lld in the history", (long long)id);
	}
	if (rc) {
		free(*e);
		free(*u);
		*e = *u = NULL;
		*n = 0;
	}
	return rc;
}
