/* Sinks: they format measurements and write them; they measure nothing. */
#ifndef JST_SINKS_H
#define JST_SINKS_H

#include <jansson.h>
#include <joulestat.h>
#include <stdio.h>

/* What `joulestat run` produced: one measurement per run of the command and,
 * with --interval, the interval measurements of all runs in order. */
struct jst_report {
	char *const *command;         /* argv of the measured command, NULL-terminated */
	int exit_status;              /* joulestat's own exit status (the command's) */
	jst_measurement *const *runs; /* at least one */
	const int *run_status;        /* exit status of each run, or NULL */
	size_t nruns;
	jst_measurement *const *intervals;
	const size_t *interval_run; /* 1-based run of each interval, or NULL */
	size_t nintervals;
	int with_intervals; /* --interval given: "intervals" is written even if empty */
};

/* Mean, sample standard deviation, min and max of the finite values; n of
 * them, and how many runs were left out (a figure cut short: partial). */
struct jst_stat {
	double mean, stddev, min, max;
	size_t n;
	size_t excluded;
};

void jst_stat_of(const double *x, size_t n, struct jst_stat *out);

/* Statistics of one domain's (index) or one total's figures over runs. The
 * runs come from one meter, so a domain has the same index in each. */
void jst_stat_domain(jst_measurement *const *runs, size_t n, size_t index, int power,
                     struct jst_stat *out);
/* Returns 0 when the total has parts in no run (nothing to report). */
int jst_stat_total(jst_measurement *const *runs, size_t n, jst_total_kind which, int power,
                   struct jst_stat *out);
void jst_stat_duration(jst_measurement *const *runs, size_t n, struct jst_stat *out);

/* ---- text: the table people read ---------------------------------------- */

/* The table of one measurement, or (nruns > 1) of mean ± stddev over runs,
 * with totals, duration and the footnotes that explain every mark. */
/* Write s for a terminal: control characters (C0, DEL, the C1 range as UTF-8)
 * and bytes that are not UTF-8 as \xNN, \n, \t or \r, so that text from
 * the command line or a file cannot move the cursor, retitle the terminal or
 * hide what follows. Valid UTF-8 passes unchanged. */
void jst_sink_text_escaped(FILE *f, const char *s);
void jst_sink_text_report(FILE *f, const struct jst_report *r);
/* One interval row; header once before the first. run: the 1-based run of
 * the command it belongs to (-r); t_s: end of the interval since its run's
 * first interval began. */
void jst_sink_text_interval_header(FILE *f, const jst_measurement *m);
void jst_sink_text_interval_row(FILE *f, const jst_measurement *m, size_t run, double t_s);

/* ---- JSON (docs/output.md) ------------------------------------------------ */

/* A number, or null where it is NaN or infinite. */
json_t *jst_json_number(double v);
/* A string, or null for NULL; each byte that is not UTF-8 becomes U+FFFD. */
json_t *jst_json_string(const char *s);
json_t *jst_sink_json_measurement(const jst_measurement *m);
json_t *jst_sink_json_stat(const struct jst_stat *s);
json_t *jst_sink_json_summary(jst_measurement *const *runs, size_t n);
json_t *jst_sink_json_report(const struct jst_report *r);
/* Dump doc (indented, newline-terminated) and flush; 0 or -errno. */
int jst_sink_json_write(FILE *f, const json_t *doc);

/* ---- CSV (docs/output.md) -------------------------------------------------- */

/* Header, then one row per (window, domain) and per (window, total). */
int jst_sink_csv_report(FILE *f, const struct jst_report *r);

#endif
