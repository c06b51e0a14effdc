/* Sinks: they format measurements and write them; they measure nothing. */
#ifndef JST_SINKS_H
#define JST_SINKS_H

#include "attrib.h"

#include <jansson.h>
#include <joulestat.h>
#include <stdio.h>

/* What `joulestat run` produced: one measurement per run of the command. The
 * intervals (--interval) are not in it: they are written as they end (see the
 * streams below), so that a long run need not keep them. */
struct jst_report {
	char *const *command;         /* argv of the measured command, NULL-terminated */
	int exit_status;              /* joulestat's own exit status (the command's) */
	jst_measurement *const *runs; /* at least one */
	const int *run_status;        /* exit status of each run, or NULL */
	size_t nruns;
	/* Members appended to the JSON document after "summary", in their order
	 * ("series", "identity", "carbon"); NULL: none. */
	const json_t *extra;
	/* Per run: what --attribute, --pid, --cgroup found (src/attrib), or NULL. */
	struct jst_attribution *const *attribution;
	/* Per run: what the figures cover beyond the command ("" or NULL: nothing
	 * to say), e.g. that the estimate covers every process; or NULL. */
	const char *const *run_note;
	/* Per run: nonzero where a signal cut the run short (passed on to the
	 * command, which it stopped): left out of the statistics; or NULL. */
	const unsigned char *run_cut;
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
 * runs come from one meter, so a domain has the same index in each. cut (or
 * NULL): the runs a signal cut short, left out like partial ones. */
void jst_stat_domain(jst_measurement *const *runs, size_t n, const unsigned char *cut, size_t index,
                     int power, struct jst_stat *out);
/* Returns 0 when the total has parts in no run (nothing to report). */
int jst_stat_total(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                   jst_total_kind which, int power, struct jst_stat *out);
void jst_stat_duration(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                       struct jst_stat *out);
/* The relative uncertainty of the mean energy over the runs the statistics
 * keep (sum of uncertainty_j / sum of energy_j; all runs if none is kept);
 * NaN when there is no energy. */
double jst_stat_domain_accuracy(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                                size_t index);
double jst_stat_total_accuracy(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                               jst_total_kind which);

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
/* cut (or NULL): the runs a signal cut short, left out of the statistics. */
json_t *jst_sink_json_summary(jst_measurement *const *runs, size_t n, const unsigned char *cut);
/* Dump doc (indented, newline-terminated) and flush; 0 or -errno. */
int jst_sink_json_write(FILE *f, const json_t *doc);

/* The `joulestat run` document, written in pieces so that no interval has to
 * be kept until the end: the head (version, command, the opening of
 * "intervals"), each interval as it ends, then the rest once the runs are
 * over. The bytes are those json_dumpf would write for the whole document. */
struct jst_json_stream {
	FILE *f;
	char *const *command;
	int intervals; /* "intervals" is written */
	int head;      /* the head is written */
	size_t n;      /* intervals written */
	int err;       /* first write error (-errno): nothing more is written */
};
/* Nothing is written yet. intervals: --interval was given, so "intervals" is
 * written (even if empty). command: kept, not copied. */
void jst_sink_json_stream_begin(struct jst_json_stream *s, FILE *f, char *const *command,
                                int intervals);
/* One interval of run (1-based). A failure is kept for jst_sink_json_stream_end. */
void jst_sink_json_stream_interval(struct jst_json_stream *s, const jst_measurement *m, size_t run);
/* Close "intervals", write exit_status, partial, runs and summary, and flush:
 * 0, or the first write error (-errno). */
int jst_sink_json_stream_end(struct jst_json_stream *s, const struct jst_report *r);

/* ---- CSV (docs/output.md) -------------------------------------------------- */

/* What every row also carries: the host, and the carbon and cost of the
 * row's energy (a factor NaN: those columns are empty). */
struct jst_csv_extra {
	const char *hostname;
	double co2e_g_per_j; /* PUE x intensity, in g per J */
	double cost_per_j;   /* PUE x price, per J */
};

/* The header line. Each function returns 0, or -errno once a write failed. */
int jst_sink_csv_header(FILE *f);
/* One row per (window, domain) and per (window, total) of one window: run is
 * 1-based, status the run's exit status (NULL for an interval); x NULL: the
 * extra columns empty. */
int jst_sink_csv_window(FILE *f, const jst_measurement *m, size_t run, const int *status,
                        const struct jst_csv_extra *x);

/* ---- attribution (attrib.c, csv.c) ------------------------------------------ */

/* The attribution section of each run that has one, below the table. */
void jst_sink_text_attribution(FILE *f, const struct jst_report *r);
/* A run's "attribution" object. */
json_t *jst_sink_json_attribution(const struct jst_attribution *a);
/* Its rows: "idle" per domain, "attributed" and "attributed-idle" per
 * (target, domain), after the window's rows. 0 or -errno. */
int jst_sink_csv_attribution(FILE *f, const jst_measurement *m, size_t run, const int *status,
                             const struct jst_attribution *a);

#endif
