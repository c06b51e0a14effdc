/* The run history: every `joulestat run` recorded in an SQLite database,
 * $XDG_DATA_HOME/joulestat/history.db (docs/history.md). */
#ifndef JST_HISTORY_H
#define JST_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The schema this joulestat writes (PRAGMA user_version); older files are
 * migrated when opened, newer ones refused. */
#define JST_HISTORY_SCHEMA 4

typedef struct jst_history jst_history;

/* Where the database lies: $XDG_DATA_HOME/joulestat/history.db, else
 * $HOME/.local/share/joulestat/history.db. 0, or -ENOENT when neither is set. */
int jst_history_path(char *buf, size_t len);

/* Open (create: also make it and its directory) and bring its schema up to
 * date. 0; -ENOENT when it does not exist and create is 0; else -errno with
 * err saying why. */
int jst_history_open(const char *path, int create, jst_history **out, char *err, size_t errlen);
void jst_history_close(jst_history *h);

/* Record one invocation of `joulestat run`: doc is its JSON document (identity,
 * command, runs, summary, series, carbon; no intervals), intervals the
 * spool of interval measurements (history_spool.h; NULL: none). One
 * transaction: the run is there whole or not at all. 0 and *id, or -errno
 * with err. */
int jst_history_record(jst_history *h, const json_t *doc, FILE *intervals, int64_t *id, char *err,
                       size_t errlen);

/* Which runs to list or export. NULL / 0: no filter. */
struct jst_history_filter {
	const char *command; /* substring of the command line */
	const char *host;    /* hostname, exactly */
	/* start >= since, start < until: in the stored form of a start,
	 * YYYY-MM-DDTHH:MM:SS.mmmZ (jst_history_time_bound makes it). */
	const char *since, *until;
	unsigned limit; /* the newest N */
};

/* One row of the runs table. */
struct jst_history_run {
	int64_t id;
	const char *start, *end, *hostname, *command_line;
	int exit_status, partial;
	int repetitions;
	double energy_j, uncertainty_j, duration_s;
	double co2e_g, co2e_uncertainty_g, cost; /* NaN without carbon */
};

/* Call fn for each run the filter takes, oldest first; stops when fn returns
 * non-zero and returns that. -errno on a database error (err says it). */
int jst_history_each(jst_history *h, const struct jst_history_filter *f,
                     int (*fn)(void *ctx, const struct jst_history_run *r), void *ctx, char *err,
                     size_t errlen);

/* The document of run id, as `joulestat run --json` wrote it plus "id" and
 * "intervals" (with -I) from the windows table. 0 and *doc (new reference),
 * -ENOENT when there is no such run, else -errno with err. */
int jst_history_document(jst_history *h, int64_t id, json_t **doc, char *err, size_t errlen);

/* Per repetition of run id: the energy and uncertainty of the total it was
 * recorded under (runs.total), skipping partial repetitions. *n of them into
 * e and u (allocated; free them). 0, -ENOENT, or -errno. */
int jst_history_repetitions(jst_history *h, int64_t id, double **e, double **u, size_t *n,
                            char *err, size_t errlen);

#endif
