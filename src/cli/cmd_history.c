/* joulestat history, show, compare, export: reading the run history
 * (history.c, docs/history.md). */
#include "cli.h"
#include "history.h"
#include "history_time.h"
#include "sinks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_COMMAND = JST_OPT_FIRST_OWN,
	OPT_HOST,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_JSON,
	OPT_FORMAT,
};

/* What open_db returns when there is no history yet: no exit status (the
 * failure's, JST_EXIT_FAIL, is 1), so that the two cannot be confused. */
#define OPEN_NONE (-1)

/* Open the history for reading. 0; OPEN_NONE when there is none yet (said
 * on stderr unless quiet); else the exit status after a reported failure. */
static int open_db(jst_history **h, int quiet)
{
	char path[1024], err[512] = "";
	if (jst_history_path(path, sizeof path)) {
		jst_cli_error("no history: neither XDG_DATA_HOME nor HOME is set");
		return JST_EXIT_FAIL;
	}
	int rc = jst_history_open(path, 0, h, err, sizeof err);
	if (rc == -ENOENT) {
		if (!quiet)
			fprintf(stderr, "joulestat: no run recorded yet (%s does not exist)\n",
			        path);
		return OPEN_NONE;
	}
	if (rc) {
		jst_cli_error("%s", err);
		return JST_EXIT_FAIL;
	}
	return 0;
}

/* A time filter, into the stored form of the runs' start (history_time.h):
 * a day or time that does not exist is refused, since compared with the
 * starts it would match nothing, or everything, and say so by silence. */
static int parse_time(const char *cmd, const char *opt, const char *arg,
                      char out[JST_HISTORY_TIME_LEN])
{
	char why[128];
	if (!jst_history_time_bound(arg, out, why, sizeof why))
		return 0;
	jst_cli_usage_error(cmd,
	                    "%s wants a date (2026-12-01) or a time in UTC (2026-12-01T22:00Z, "
	                    "2026-12-01T22:00:00.5Z) or at an offset (2026-12-01T23:00+01:00), "
	                    "not '%s': %s",
	                    opt, arg, why);
	return -1;
}

/* The filter and the bounds' text it points to. */
struct filter {
	struct jst_history_filter f;
	char since[JST_HISTORY_TIME_LEN], until[JST_HISTORY_TIME_LEN];
};

/* The filter options history and export share: 1 handled, 0 not one, -1 bad. */
static int filter_option(const char *cmd, int opt, const char *arg, struct filter *ff)
{
	struct jst_history_filter *f = &ff->f;
	switch (opt) {
	case OPT_COMMAND:
		f->command = arg;
		return 1;
	case OPT_HOST:
		f->host = arg;
		return 1;
	case OPT_SINCE:
		f->since = ff->since;
		return parse_time(cmd, "--since", arg, ff->since) ? -1 : 1;
	case OPT_UNTIL:
		f->until = ff->until;
		return parse_time(cmd, "--until", arg, ff->until) ? -1 : 1;
	case 'n':
		return jst_cli_parse_uint(cmd, "-n", arg, 1, 1000000000, &f->limit) ? -1 : 1;
	default:
		return 0;
	}
}

#define FILTER_OPTIONS                                                                             \
	{"command", required_argument, NULL, OPT_COMMAND},                                         \
	    {"host", required_argument, NULL, OPT_HOST},                                           \
	    {"since", required_argument, NULL, OPT_SINCE},                                         \
	    {"until", required_argument, NULL, OPT_UNTIL},                                         \
	    {"limit", required_argument, NULL, 'n'},                                               \
	{                                                                                          \
		"help", no_argument, NULL, JST_OPT_HELP                                            \
	}

static json_t *run_json(const struct jst_history_run *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer((json_int_t)r->id));
	json_object_set_new(o, "start", jst_json_string(r->start));
	json_object_set_new(o, "end", jst_json_string(r->end));
	json_object_set_new(o, "hostname", jst_json_string(r->hostname));
	json_object_set_new(o, "command", jst_json_string(r->command_line));
	json_object_set_new(o, "exit_status", json_integer(r->exit_status));
	json_object_set_new(o, "partial", json_boolean(r->partial));
	json_object_set_new(o, "repetitions", json_integer(r->repetitions));
	json_object_set_new(o, "energy_j", jst_json_number(r->energy_j));
	json_object_set_new(o, "uncertainty_j", jst_json_number(r->uncertainty_j));
	json_object_set_new(o, "duration_s", jst_json_number(r->duration_s));
	json_object_set_new(o, "co2e_g", jst_json_number(r->co2e_g));
	json_object_set_new(o, "co2e_uncertainty_g", jst_json_number(r->co2e_uncertainty_g));
	json_object_set_new(o, "cost", jst_json_number(r->cost));
	return o;
}

static int list_json(void *ctx, const struct jst_history_run *r)
{
	json_array_append_new(ctx, run_json(r));
	return 0;
}

static int list_text(void *ctx, const struct jst_history_run *r)
{
	int *header = ctx;
	if (!*header) {
		*header = 1;
		printf("%6s  %-24s  %-16s %12s %10s %10s %4s  %s\n", "id", "start (UTC)", "host",
		       "energy J", "± J", "CO2e g", "exit", "command");
	}
	char co2[32] = "-";
	if (isfinite(r->co2e_g))
		snprintf(co2, sizeof co2, "%.4g", r->co2e_g);
	printf("%6lld  %-24s  %-16.16s %12.4f %10.4f %10s %4d  ", (long long)r->id, r->start,
	       r->hostname, r->energy_j, r->uncertainty_j, co2, r->exit_status);
	jst_sink_text_escaped(stdout, r->command_line);
	if (r->repetitions > 1)
		printf("  (-r %d)", r->repetitions);
	/* As `run` marks the figure: it leaves out what a lost device used. */
	if (r->partial)
		fputs("  [partial]", stdout);
	fputc('\n', stdout);
	return 0;
}

int jst_cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
	    FILTER_OPTIONS, {"json", no_argument, NULL, OPT_JSON}, {0}};
	struct filter f = {0};
	int json = 0, opt;
	while ((opt = jst_cli_getopt("history", argc, argv, "n:h", opts)) != -1) {
		int c = filter_option("history", opt, optarg, &f);
		if (c < 0)
			return JST_EXIT_USAGE;
		if (c > 0)
			continue;
		if (opt == OPT_JSON) {
			json = 1;
		} else if (opt == 'h' || opt == JST_OPT_HELP) {
			jst_cli_help(stdout, "history");
			return 0;
		} else {
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return jst_cli_usage_error("history", "unexpected argument '%s'", argv[optind]);
	jst_history *h;
	int rc = open_db(&h, json);
	if (rc == OPEN_NONE) {
		if (json)
			puts("[]");
		return 0;
	}
	if (rc)
		return rc;
	char err[512] = "";
	json_t *all = json_array();
	int header = 0;
	rc = json ? jst_history_each(h, &f.f, list_json, all, err, sizeof err)
	          : jst_history_each(h, &f.f, list_text, &header, err, sizeof err);
	if (!rc && json)
		rc = jst_sink_json_write(stdout, all);
	json_decref(all);
	jst_history_close(h);
	if (rc) {
		jst_cli_error("%s", err[0] ? err : strerror(-rc));
		return JST_EXIT_FAIL;
	}
	return 0;
}

/* A run id: a whole number from 1. */
static int parse_id(const char *cmd, const char *arg, int64_t *id)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (!*arg || *end || errno || v < 1) {
		jst_cli_usage_error(cmd,
		                    "a run is named by its id (a whole number from 1, as "
		                    "joulestat history lists), not '%s'",
		                    arg);
		return -1;
	}
	*id = v;
	return 0;
}

/* Parse `CMD [--json] ID...` with n ids. */
static int parse_ids(const char *cmd, int argc, char **argv, int n, int64_t *ids, int *json)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, OPT_JSON}, {"help", no_argument, NULL, JST_OPT_HELP}, {0}};
	int opt;
	while ((opt = jst_cli_getopt(cmd, argc, argv, "h", opts)) != -1) {
		if (opt == OPT_JSON) {
			*json = 1;
		} else if (opt == 'h' || opt == JST_OPT_HELP) {
			jst_cli_help(stdout, cmd);
			return -1;
		} else {
			return JST_EXIT_USAGE;
		}
	}
	if (argc - optind != n)
		return jst_cli_usage_error(cmd, "wants %s", n == 1 ? "one run id" : "two run ids");
	for (int i = 0; i < n; i++)
		if (parse_id(cmd, argv[optind + i], &ids[i]))
			return JST_EXIT_USAGE;
	return 0;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static double jnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void show_text(const json_t *doc)
{
	const json_t *ident = json_object_get(doc, "identity"), *v;
	size_t i;
	printf("run %lld: ", (long long)json_integer_value(json_object_get(doc, "id")));
	json_array_foreach(json_object_get(doc, "command"), i, v)
	{
		if (i)
			fputc(' ', stdout);
		jst_sink_text_escaped(stdout, json_string_value(v) ? json_string_value(v) : "");
	}
	printf("\n  exit status %lld%s\n",
	       (long long)json_integer_value(json_object_get(doc, "exit_status")),
	       json_is_true(json_object_get(doc, "partial")) ? ", partial" : "");
	printf("  host ");
	jst_sink_text_escaped(stdout, jstr(ident, "hostname"));
	printf(", %s to %s (UTC)\n  cpu ", jstr(ident, "start"), jstr(ident, "end"));
	jst_sink_text_escaped(stdout, jstr(ident, "cpu_model"));
	json_array_foreach(json_object_get(ident, "gpus"), i, v)
	{
		printf("%s", i ? ", " : "; gpus ");
		jst_sink_text_escaped(stdout, json_string_value(v) ? json_string_value(v) : "");
	}
	printf("\n  joulestat %s", jstr(ident, "joulestat"));
	const char *key;
	json_object_foreach((json_t *)json_object_get(ident, "options"), key, v)
	{
		printf(" %s=", key);
		jst_sink_text_escaped(stdout, json_string_value(v) ? json_string_value(v) : "");
	}
	fputc('\n', stdout);
	const json_t *m;
	json_array_foreach(json_object_get(doc, "runs"), i, m)
	{
		printf("\n  %s: %.3f s%s\n", jstr(m, "name"), jnum(m, "duration_s"),
		       json_is_true(json_object_get(m, "partial")) ? " (partial)" : "");
		size_t k;
		const json_t *d;
		json_array_foreach(json_object_get(m, "domains"), k, d)
		{
			/* The run's own marks (text.c); a document written before
			 * "counted" says only whether the figure was its device's. */
			const json_t *counted = json_object_get(d, "counted");
			const char *mark =
			    !json_is_true(json_object_get(d, "primary")) ? " [not counted]"
			    : json_is_false(counted) && json_is_null(json_object_get(d, "parent"))
			        ? " [not in total]"
			        : "";
			printf("    %-12s %12.4f J ± %-10.4g %10.3f W  %s/%s%s\n", jstr(d, "name"),
			       jnum(d, "energy_j"), jnum(d, "uncertainty_j"),
			       jnum(d, "avg_power_w"), jstr(d, "backend"), jstr(d, "method"), mark);
		}
		json_object_foreach((json_t *)json_object_get(m, "totals"), key, d)
		{
			printf("    %-12s %12.4f J ± %-10.4g %10.3f W\n", key, jnum(d, "energy_j"),
			       jnum(d, "uncertainty_j"), jnum(d, "avg_power_w"));
		}
	}
	const json_t *c = json_object_get(doc, "carbon");
	if (c) {
		printf("\n  carbon %.4g ± %.2g g CO2e at %g g/kWh (%s), PUE %g\n",
		       jnum(c, "co2e_g"), jnum(c, "co2e_uncertainty_g"),
		       jnum(c, "intensity_g_per_kwh"), jstr(c, "source"), jnum(c, "pue"));
		if (isfinite(jnum(c, "cost")))
			printf("  cost %.4g at %g per kWh\n", jnum(c, "cost"),
			       jnum(c, "price_per_kwh"));
	}
	size_t niv = json_array_size(json_object_get(doc, "intervals"));
	if (niv)
		printf("\n  %zu intervals (joulestat show --json %lld has them)\n", niv,
		       (long long)json_integer_value(json_object_get(doc, "id")));
}

int jst_cmd_show(int argc, char **argv)
{
	int64_t id = 0;
	int json = 0;
	int rc = parse_ids("show", argc, argv, 1, &id, &json);
	if (rc)
		return rc < 0 ? 0 : rc;
	jst_history *h;
	if (open_db(&h, 0))
		return JST_EXIT_FAIL;
	char err[512] = "";
	json_t *doc = NULL;
	rc = jst_history_document(h, id, &doc, err, sizeof err);
	jst_history_close(h);
	if (rc) {
		jst_cli_error("show: %s", err);
		return JST_EXIT_FAIL;
	}
	if (json)
		rc = jst_sink_json_write(stdout, doc);
	else
		show_text(doc);
	json_decref(doc);
	return rc && rc != -EPIPE ? JST_EXIT_FAIL : 0;
}

/* ---- compare ---------------------------------------------------------------- */

/* One side of a comparison: its repetitions' total energy. */
struct side {
	int64_t id;
	size_t n;
	double mean, stddev, unc; /* unc: mean of the runs' uncertainty_j */
};

static int side_of(jst_history *h, int64_t id, struct side *s, char *err, size_t len)
{
	double *e, *u;
	size_t n;
	int rc = jst_history_repetitions(h, id, &e, &u, &n, err, len);
	if (rc)
		return rc;
	*s = (struct side){.id = id, .n = n};
	for (size_t i = 0; i < n; i++) {
		s->mean += e[i] / (double)n;
		s->unc += u[i] / (double)n;
	}
	for (size_t i = 0; n > 1 && i < n; i++)
		s->stddev += (e[i] - s->mean) * (e[i] - s->mean) / (double)(n - 1);
	s->stddev = sqrt(s->stddev);
	free(e);
	free(u);
	return 0;
}

/* The verdict on B - A. The accuracy classes bound each side's figure
 * (uncertainty_j of its total); combined as independent errors. The spread
 * of -r repetitions gives the standard error of each mean; twice the
 * combined standard error (about 95%) is added to the classes' in
 * quadrature. Without repetitions on both sides the spread is unknown and
 * only the classes count, which the verdict says. */
struct verdict {
	double diff, u_class, u_spread, u, rel;
	int spread_known, significant;
};

static void judge(const struct side *a, const struct side *b, struct verdict *v)
{
	v->diff = b->mean - a->mean;
	v->u_class = sqrt(a->unc * a->unc + b->unc * b->unc);
	v->spread_known = a->n > 1 && b->n > 1;
	v->u_spread =
	    v->spread_known
	        ? sqrt(a->stddev * a->stddev / (double)a->n + b->stddev * b->stddev / (double)b->n)
	        : NAN;
	v->u = v->spread_known ? sqrt(v->u_class * v->u_class + 4 * v->u_spread * v->u_spread)
	                       : v->u_class;
	v->rel = a->mean != 0 ? v->diff / a->mean : NAN;
	v->significant = fabs(v->diff) > v->u;
}

static json_t *side_json(const struct side *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer((json_int_t)s->id));
	json_object_set_new(o, "repetitions", json_integer((json_int_t)s->n));
	json_object_set_new(o, "energy_j", jst_json_number(s->mean));
	json_object_set_new(o, "stddev_j", s->n > 1 ? jst_json_number(s->stddev) : json_null());
	json_object_set_new(o, "uncertainty_j", jst_json_number(s->unc));
	return o;
}

int jst_cmd_compare(int argc, char **argv)
{
	int64_t ids[2] = {0};
	int json = 0;
	int rc = parse_ids("compare", argc, argv, 2, ids, &json);
	if (rc)
		return rc < 0 ? 0 : rc;
	jst_history *h;
	if (open_db(&h, 0))
		return JST_EXIT_FAIL;
	char err[512] = "";
	struct side a, b;
	rc = side_of(h, ids[0], &a, err, sizeof err);
	if (!rc)
		rc = side_of(h, ids[1], &b, err, sizeof err);
	jst_history_close(h);
	if (rc) {
		jst_cli_error("compare: %s", err);
		return JST_EXIT_FAIL;
	}
	struct verdict v;
	judge(&a, &b, &v);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "a", side_json(&a));
		json_object_set_new(o, "b", side_json(&b));
		json_object_set_new(o, "difference_j", jst_json_number(v.diff));
		json_object_set_new(o, "relative", jst_json_number(v.rel));
		json_object_set_new(o, "uncertainty_j", jst_json_number(v.u));
		json_object_set_new(o, "uncertainty_accuracy_j", jst_json_number(v.u_class));
		/* The spread's term as it enters uncertainty_j, twice the
		 * standard error, so that the two terms recombine to it. */
		json_object_set_new(o, "uncertainty_spread_j",
		                    v.spread_known ? jst_json_number(2 * v.u_spread) : json_null());
		json_object_set_new(o, "standard_error_j",
		                    v.spread_known ? jst_json_number(v.u_spread) : json_null());
		json_object_set_new(o, "less", json_boolean(v.diff < 0));
		json_object_set_new(o, "significant", json_boolean(v.significant));
		rc = jst_sink_json_write(stdout, o);
		json_decref(o);
		return rc && rc != -EPIPE ? JST_EXIT_FAIL : 0;
	}
	printf("A: run %lld  %.4f J (±%.3g J accuracy", (long long)a.id, a.mean, a.unc);
	if (a.n > 1)
		printf(", sd %.3g J over %zu runs", a.stddev, a.n);
	printf(")\nB: run %lld  %.4f J (±%.3g J accuracy", (long long)b.id, b.mean, b.unc);
	if (b.n > 1)
		printf(", sd %.3g J over %zu runs", b.stddev, b.n);
	printf(")\n\nB used %.4f J %s than A (%+.4f ± %.3g J, %+.1f%%): %s\n", fabs(v.diff),
	       v.diff < 0 ? "less" : "more", v.diff, v.u, 100 * v.rel,
	       v.significant ? "significant" : "not significant");
	printf("  (the uncertainty combines both figures' accuracy classes, ±%.3g J", v.u_class);
	if (v.spread_known)
		printf(", and twice the standard error of the repetitions, ±%.3g J",
		       2 * v.u_spread);
	else
		printf("; the spread between runs is unknown without -r N on both");
	printf(")\n");
	return 0;
}

/* ---- export ------------------------------------------------------------------ */

static void csv_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
	fputc(',', f);
	if (isfinite(v))
		fprintf(f, "%.15g", v);
}

static int export_csv(void *ctx, const struct jst_history_run *r)
{
	FILE *f = ctx;
	fprintf(f, "%lld,", (long long)r->id);
	csv_text(f, r->start);
	fputc(',', f);
	csv_text(f, r->end);
	fputc(',', f);
	csv_text(f, r->hostname);
	fputc(',', f);
	csv_text(f, r->command_line);
	fprintf(f, ",%d,%d,%d", r->exit_status, r->partial, r->repetitions);
	csv_num(f, r->energy_j);
	csv_num(f, r->uncertainty_j);
	csv_num(f, r->duration_s);
	csv_num(f, r->co2e_g);
	csv_num(f, r->co2e_uncertainty_g);
	csv_num(f, r->cost);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

struct export_json {
	jst_history *h;
	json_t *all;
	char *err;
	size_t errlen;
};

static int export_doc(void *ctx, const struct jst_history_run *r)
{
	struct export_json *x = ctx;
	json_t *doc;
	int rc = jst_history_document(x->h, r->id, &doc, x->err, x->errlen);
	if (!rc)
		json_array_append_new(x->all, doc);
	return rc;
}

int jst_cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {FILTER_OPTIONS,
	                                     {"format", required_argument, NULL, OPT_FORMAT},
	                                     {"output", required_argument, NULL, 'o'},
	                                     {0}};
	struct filter f = {0};
	const char *format = "csv", *path = "-";
	int opt;
	while ((opt = jst_cli_getopt("export", argc, argv, "n:o:h", opts)) != -1) {
		int c = filter_option("export", opt, optarg, &f);
		if (c < 0)
			return JST_EXIT_USAGE;
		if (c > 0)
			continue;
		if (opt == OPT_FORMAT) {
			format = optarg;
			if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
				return jst_cli_usage_error(
				    "export", "--format is csv or json, not '%s'", format);
		} else if (opt == 'o') {
			if (jst_cli_parse_path("export", "-o", optarg, &path))
				return JST_EXIT_USAGE;
		} else if (opt == 'h' || opt == JST_OPT_HELP) {
			jst_cli_help(stdout, "export");
			return 0;
		} else {
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return jst_cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
	jst_history *h = NULL;
	int rc = open_db(&h, 1);
	if (rc > 0)
		return rc;
	struct jst_cli_output out;
	if (jst_cli_output_open(&out, path, 0)) {
		jst_history_close(h);
		return JST_EXIT_FAIL;
	}
	char err[512] = "";
	int csv = !strcmp(format, "csv");
	if (csv)
		fputs("id,start,end,hostname,command,exit_status,partial,repetitions,energy_j,"
		      "uncertainty_j,duration_s,co2e_g,co2e_uncertainty_g,cost\n",
		      out.f);
	json_t *all = json_array();
	struct export_json x = {h, all, err, sizeof err};
	if (h)
		rc = csv ? jst_history_each(h, &f.f, export_csv, out.f, err, sizeof err)
		         : jst_history_each(h, &f.f, export_doc, &x, err, sizeof err);
	else
		rc = 0;
	if (!rc && !csv)
		rc = jst_sink_json_write(out.f, all);
	json_decref(all);
	jst_history_close(h);
	if (rc) {
		jst_cli_error("export: %s", err[0] ? err : strerror(-rc));
		jst_cli_output_discard(&out);
		return JST_EXIT_FAIL;
	}
	return jst_cli_output_commit(&out) ? JST_EXIT_FAIL : 0;
}
