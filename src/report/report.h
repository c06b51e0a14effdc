/* joulestat report: a run's JSON (docs/output.md) read into what its plots
 * need, and written as one SVG figure or one self-contained HTML page. */
#ifndef JST_REPORT_H
#define JST_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where the power-over-time panel takes its points from, best first. */
enum jst_report_power_source {
	JST_REPORT_POWER_SERIES,    /* the sampler's readings (`run --series`) */
	JST_REPORT_POWER_INTERVALS, /* each -I row's average power, as steps */
	JST_REPORT_POWER_RUNS,      /* each run's average power, as steps */
};

/* One line of the power panel: a domain's power against time. Values are
 * NaN where there is no reading (a null power), which breaks the line. */
struct jst_report_trace {
	const char *domain, *kind, *method, *source, *device;
	size_t n;
	int64_t *t_ns; /* instants; for steps, each step's start then its end */
	double *power_w;
	int steps;           /* points pair up as [start, end) of one average */
	size_t device_index; /* its colour: one per physical device */
	size_t rank;         /* its dash: 0 (solid) the device's counted figure */
	int primary;
};

/* A bar of the energy panel: a domain (or a total) over the runs. */
struct jst_report_bar {
	const char *name, *kind, *device, *backend, *method, *source, *note;
	int total; /* a total (`total`, `gpu`, …) rather than a domain */
	int primary, partial, estimated;
	/* In the total of all components: 1, 0, or -1 where the document does
	 * not say (written before it had "counted"). */
	int counted;
	double accuracy;
	double mean_j;                    /* mean energy over the runs that have it */
	double uncertainty_j;             /* mean ± J over those runs (the accuracy bar) */
	double min_j, max_j;              /* spread over runs */
	double avg_power_w, peak_power_w; /* NaN when none (mean / max over runs) */
	double runs_j[64];                /* each run's figure (the first 64) */
	size_t nruns;
	size_t device_index;
	size_t group; /* bars of one device share a group (cross-validation) */
	size_t rank;  /* place in its group: 0 the counted figure, then its cross-checks */
	size_t order; /* the order it was found in */
};

/* A shaded time span: an -I interval or a run. */
struct jst_report_band {
	int64_t begin_ns, end_ns;
	const char *name;
	int run;      /* the run (1-based) */
	int interval; /* an interval rather than a run */
};

/* The version of the identity block (docs/output.md) this reader knows. */
#define JST_REPORT_SCHEMA 2

struct jst_report {
	json_t *doc;                         /* holds every string the fields point to */
	const char *joulestat;               /* version that wrote the file */
	json_t *command, *identity, *carbon; /* NULL when absent */
	json_t *series;                      /* the series, while they are read */
	int partial;
	int exit_status; /* -1 when absent */
	enum jst_report_power_source power_source;
	struct jst_report_trace *traces;
	size_t ntraces;
	struct jst_report_bar *bars; /* domains, grouped by device, then totals */
	size_t nbars;
	struct jst_report_band *bands; /* runs, then intervals */
	size_t nbands;
	size_t nruns, nintervals, ndevices;
	size_t runs_left_out; /* partial runs not in the bars (there were whole ones) */
	int64_t t0_ns, t1_ns; /* the time axis: from the first instant to the last */
};

/* Read doc (a `joulestat run --json` object) into *out, which keeps a
 * reference to doc. 0, or -EINVAL with what is wrong in err (naming the key),
 * or -ENOMEM. */
int jst_report_parse(json_t *doc, struct jst_report **out, char *err, size_t errlen);
void jst_report_free(struct jst_report *r);

/* The figure: power over time per domain (bands for runs and intervals,
 * methods of one device overlaid in one colour) above energy per domain and
 * totals with their accuracy bars. A standalone SVG document when standalone,
 * else an <svg> element to inline in HTML. 0 or -EIO. */
int jst_report_write_svg(const struct jst_report *r, FILE *f, int standalone);
/* One self-contained HTML page: the identity, the figure, the tables. 0 or -EIO. */
int jst_report_write_html(const struct jst_report *r, FILE *f);

/* Read a JSON file ("-": stdin). 0, or -errno with the reason in err. */
int jst_report_load_file(const char *path, json_t **doc, char *err, size_t errlen);

/* ---- helpers, shared by the writers (and tested on their own) ---------- */

/* Text as XML/HTML character data or an attribute value: & < > " ' escaped,
 * controls XML 1.0 forbids dropped, bytes that are not UTF-8 as U+FFFD. */
void jst_report_xml_text(FILE *f, const char *s);

/* An axis from lo to hi in about `target` steps of 1, 2 or 5 × 10^k, widened
 * to whole steps. */
struct jst_report_axis {
	double lo, hi, step;
	int nticks; /* ticks from lo to hi inclusive */
};
void jst_report_axis_nice(double lo, double hi, int target, struct jst_report_axis *a);
/* v's position between px0 (at lo) and px1 (at hi). */
double jst_report_axis_map(const struct jst_report_axis *a, double v, double px0, double px1);

#endif
