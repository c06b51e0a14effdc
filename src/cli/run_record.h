/* What `joulestat run` adds around its measurement: identity, the series,
 * carbon and cost, and the record in the run history. */
#ifndef JST_RUN_RECORD_H
#define JST_RUN_RECORD_H

#include "carbon.h"
#include "sinks.h"

#include <jansson.h>
#include <joulestat.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct jst_run_record {
	int series;  /* --series */
	int history; /* record in the history (not --no-history) */
	struct jst_carbon carbon;
	json_t *options;            /* identity.options: what the command line set */
	struct timespec start, end; /* wall clock around the runs */
	char hostname[256];
	FILE *spool;   /* the intervals for the history (history_spool.h) */
	int spool_err; /* the spool failed: the intervals are not recorded */
	int64_t id;    /* the history's id of this run once recorded, else 0 */
	char db[1024]; /* the history's path */
};

/* Before the runs: host, wall-clock start. */
void jst_run_record_begin(struct jst_run_record *rr);
/* An interval as it ends (called from the interval thread). */
void jst_run_record_interval(struct jst_run_record *rr, const jst_measurement *m, size_t run);
/* The CSV's extra columns. */
void jst_run_record_csv(const struct jst_run_record *rr, struct jst_csv_extra *x);
/* After the runs: the members the JSON gets after "summary" ("series",
 * "identity", "carbon"), in that order. New reference. */
json_t *jst_run_record_extra(struct jst_run_record *rr, jst_meter *m, const struct jst_report *r);
/* The lines after the table: carbon and cost, and the history's id. */
void jst_run_record_text(FILE *f, const struct jst_run_record *rr, const json_t *extra);
/* Record the run in the history (when asked); a failure is warned about, and
 * changes nothing else. */
void jst_run_record_history(struct jst_run_record *rr, const struct jst_report *r,
                            const json_t *extra);
void jst_run_record_end(struct jst_run_record *rr);

#endif
