/* The table `joulestat run` prints: one row per domain, then totals, then
 * footnotes for every mark, so that no figure is shown without its method,
 * its accuracy and, for an estimate, the reason there is nothing better. */
#include "sinks.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *what_it_covers(jst_kind k)
{
	switch (k) {
	case JST_KIND_GPU:
		return "this GPU";
	case JST_KIND_PACKAGE:
	case JST_KIND_CORE:
	case JST_KIND_UNCORE:
		return "the CPU";
	case JST_KIND_DRAM:
		return "memory";
	default:
		return "this device";
	}
}

static void cell_num(struct jst_table *t, double v, int prec)
{
	if (isfinite(v))
		jst_table_cell(t, "%.*f", prec, v);
	else
		jst_table_cell(t, "-");
}

static void cell_stat(struct jst_table *t, const struct jst_stat *s, int prec)
{
	if (!s->n || !isfinite(s->mean))
		jst_table_cell(t, "-");
	else if (s->excluded)
		/* Runs cut short are left out of the statistics, and that is said. */
		jst_table_cell(t, "%.*f ± %.*f (%zu of %zu runs)", prec, s->mean, prec, s->stddev,
		               s->n, s->n + s->excluded);
	else
		jst_table_cell(t, "%.*f ± %.*f", prec, s->mean, prec, s->stddev);
}

/* "(± 1.2%)": the spread of repeated runs, relative to their mean. */
static void cell_spread(struct jst_table *t, const struct jst_stat *s)
{
	if (s->n > 1 && s->mean > 0)
		jst_table_cell(t, "(± %.1f%%)", 100 * s->stddev / s->mean);
	else
		jst_table_cell(t, "%s", "");
}

static void cell_acc(struct jst_table *t, double acc)
{
	jst_table_cell(t, "± %.0f%%", 100 * acc);
}

static double acc_or(double acc, double class)
{
	return isfinite(acc) ? acc : class;
}

struct marks {
	int estimate, partial, secondary, nested, beside;
};

static void cell_marks(struct jst_table *t, const jst_domain_energy *d, struct marks *mk)
{
	char buf[96] = "";
	size_t len = 0;
	if (d->method == JST_METHOD_ESTIMATE) {
		len += (size_t)snprintf(buf + len, sizeof buf - len, " [estimate]");
		mk->estimate = 1;
	}
	if (d->partial) {
		len += (size_t)snprintf(buf + len, sizeof buf - len, " [partial]");
		mk->partial = 1;
	}
	if (!d->primary) {
		snprintf(buf + len, sizeof buf - len, " [not counted]");
		mk->secondary = 1;
	} else if (!d->counted && d->parent < 0) {
		snprintf(buf + len, sizeof buf - len, " [not in total]");
		mk->beside = 1;
	}
	if (d->parent >= 0)
		mk->nested = 1;
	jst_table_cell(t, "%s", buf[0] ? buf + 1 : "");
}

static void domain_rows(struct jst_table *t, const struct jst_report *r, struct marks *mk)
{
	const jst_measurement *m0 = r->runs[0];
	size_t n = jst_measurement_domain_count(m0);
	for (size_t i = 0; i < n; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(m0, i, &d))
			continue;
		/* A figure that is partial in any run is marked. */
		for (size_t k = 1; k < r->nruns; k++) {
			jst_domain_energy dk = {.size = sizeof dk};
			if (!jst_measurement_domain(r->runs[k], i, &dk))
				d.partial |= dk.partial;
		}
		jst_table_cell(t, "%s%s", d.parent >= 0 ? "  " : "", d.name);
		if (r->nruns == 1) {
			cell_num(t, d.energy_j, 3);
			cell_num(t, d.avg_power_w, 2);
			cell_num(t, d.peak_power_w, 2);
		} else {
			struct jst_stat e, p;
			jst_stat_domain(r->runs, r->nruns, r->run_cut, i, 0, &e);
			jst_stat_domain(r->runs, r->nruns, r->run_cut, i, 1, &p);
			cell_stat(t, &e, 3);
			cell_spread(t, &e);
			cell_stat(t, &p, 2);
		}
		if (r->nruns > 1) /* the mean's, over the runs the statistics keep */
			cell_acc(t,
			         acc_or(jst_stat_domain_accuracy(r->runs, r->nruns, r->run_cut, i),
			                d.accuracy));
		else
			cell_acc(t, d.energy_j > 0 ? d.uncertainty_j / d.energy_j : d.accuracy);
		jst_table_cell(t, "%s (%s/%s)", jst_method_name(d.method), d.backend, d.source);
		cell_marks(t, &d, mk);
		jst_table_end_row(t);
	}
}

static void total_rows(struct jst_table *t, const struct jst_report *r)
{
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		jst_total tot = {.size = sizeof tot};
		int partial = 0, estimated = 0;
		size_t parts = 0;
		for (size_t i = 0; i < r->nruns; i++) {
			if (jst_measurement_total(r->runs[i], (jst_total_kind)k, &tot))
				continue;
			partial |= tot.partial;
			estimated |= tot.estimated;
			parts = tot.parts > parts ? tot.parts : parts;
		}
		if (!parts)
			continue;
		jst_table_cell(t, "%s", jst_total_name((jst_total_kind)k));
		if (r->nruns == 1) {
			cell_num(t, tot.energy_j, 3);
			cell_num(t, tot.avg_power_w, 2);
			jst_table_cell(t, "%s", "");
		} else {
			struct jst_stat e, p;
			jst_stat_total(r->runs, r->nruns, r->run_cut, (jst_total_kind)k, 0, &e);
			jst_stat_total(r->runs, r->nruns, r->run_cut, (jst_total_kind)k, 1, &p);
			cell_stat(t, &e, 3);
			cell_spread(t, &e);
			cell_stat(t, &p, 2);
		}
		if (r->nruns > 1)
			cell_acc(t, acc_or(jst_stat_total_accuracy(r->runs, r->nruns, r->run_cut,
			                                           (jst_total_kind)k),
			                   tot.accuracy));
		else
			cell_acc(t, tot.energy_j > 0 ? tot.uncertainty_j / tot.energy_j
			                             : tot.accuracy);
		jst_table_cell(t, "%zu domain%s%s", parts, parts == 1 ? "" : "s",
		               k == JST_TOTAL_SYSTEM ? ", whole-platform/node meters: not in total"
		                                     : "");
		jst_table_cell(t, "%s%s%s", estimated ? "[estimate]" : "",
		               estimated && partial ? " " : "", partial ? "[partial]" : "");
		jst_table_end_row(t);
	}
}

/* The length of the valid UTF-8 sequence at p that is no control character
 * (C1, U+0080-U+009F, included), or 0. */
static size_t utf8_printable(const unsigned char *p)
{
	size_t n;
	unsigned cp;
	if (p[0] < 0x80)
		return p[0] >= 0x20 && p[0] != 0x7f;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
		return 0;
	return n;
}

void jst_sink_text_escaped(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = utf8_printable(p);
		if (n) {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else
			fprintf(f, "\\x%02x", *p);
		p++;
	}
}

static void print_command(FILE *f, char *const *argv)
{
	fputs("'", f);
	for (char *const *a = argv; a && *a; a++) {
		if (a != argv)
			fputc(' ', f);
		jst_sink_text_escaped(f, *a);
	}
	fputs("'", f);
}

static void tel_cell(FILE *f, int width, double v, const char *unit)
{
	char buf[32] = "-";
	if (!isnan(v))
		snprintf(buf, sizeof buf, "%.0f%s", v, unit);
	fprintf(f, " %*s", width, buf);
}

/* What else the sampler saw of each device (GPUs), over the runs: the hottest
 * reading, and means of the runs' means. One line per device, its counted domain. */
static void telemetry_lines(FILE *f, const struct jst_report *r)
{
	size_t n = jst_measurement_domain_count(r->runs[0]);
	int header = 0;
	for (size_t i = 0; i < n; i++) {
		double temp = NAN, util = 0, clock = 0, limit = NAN;
		size_t nu = 0, nc = 0;
		jst_domain_energy d = {.size = sizeof d};
		for (size_t k = 0; k < r->nruns; k++) {
			if (jst_measurement_domain(r->runs[k], i, &d) || !d.primary)
				break;
			if (!(d.temperature_max_c <= temp) && !isnan(d.temperature_max_c))
				temp = d.temperature_max_c;
			if (!isnan(d.utilization_mean_pct))
				util += d.utilization_mean_pct, nu++;
			if (!isnan(d.clock_mean_mhz))
				clock += d.clock_mean_mhz, nc++;
			if (!isnan(d.power_limit_w))
				limit = d.power_limit_w;
		}
		if (isnan(temp) && !nu && !nc && isnan(limit))
			continue;
		if (!header++)
			fprintf(f, "\n   %-10s %8s %10s %10s %9s\n", "telemetry", "max °C",
			        "mean util", "mean MHz", "limit W");
		fprintf(f, "   %-10s", d.name);
		tel_cell(f, 8, temp, "");
		tel_cell(f, 9, nu ? util / (double)nu : NAN, "%");
		tel_cell(f, 10, nc ? clock / (double)nc : NAN, "");
		tel_cell(f, 9, limit, "");
		fputc('\n', f);
	}
}

/* A run a signal cut short is shown on its own, below the statistics that
 * leave it out. */
static void cut_runs(FILE *f, const struct jst_report *r)
{
	for (size_t k = 0; r->run_cut && r->nruns > 1 && k < r->nruns; k++) {
		if (!r->run_cut[k])
			continue;
		jst_total tot = {.size = sizeof tot};
		jst_total_kind which = JST_TOTAL_ALL;
		if (jst_measurement_total(r->runs[k], which, &tot) || !tot.parts) {
			which = JST_TOTAL_SYSTEM;
			if (jst_measurement_total(r->runs[k], which, &tot) || !tot.parts)
				tot.energy_j = tot.uncertainty_j = NAN;
		}
		fprintf(f,
		        "   run %zu, cut short by a signal: %.3f ± %.3f J (%s) in %.3f s, left out "
		        "of the statistics\n",
		        k + 1, tot.energy_j, tot.uncertainty_j, jst_total_name(which),
		        jst_measurement_duration(r->runs[k]));
	}
}

/* Every mark in the table is explained here; every caveat a domain carries is shown. */
static void footnotes(FILE *f, const struct jst_report *r, const struct marks *mk)
{
	const jst_measurement *m0 = r->runs[0];
	size_t n = jst_measurement_domain_count(m0);
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(m0, i, &d) || d.method != JST_METHOD_ESTIMATE)
			continue;
		if (d.primary)
			fprintf(
			    f,
			    "%s %s is an estimate, not a measurement: nothing better measures %s "
			    "here\n   ('joulestat list' says why), so it is modelled (%s).\n",
			    any++ ? "" : "\n", d.name, what_it_covers(d.kind), d.source);
		else
			fprintf(
			    f,
			    "%s %s is an estimate, not a measurement (%s), shown to compare with\n"
			    "   the measurement of %s; it is not counted.\n",
			    any++ ? "" : "\n", d.name, d.source, what_it_covers(d.kind));
		if (d.note[0])
			fprintf(f, "   %s\n", d.note);
	}
	for (size_t k = 0; k < r->nruns; k++) {
		const jst_measurement *m = r->runs[k];
		for (size_t i = 0; i < jst_measurement_domain_count(m); i++) {
			jst_domain_energy d = {.size = sizeof d};
			if (jst_measurement_domain(m, i, &d) || !d.note[0])
				continue;
			if (d.partial && r->nruns > 1) {
				fprintf(f, "%s %s [partial] in run %zu: %s\n", any++ ? "" : "\n",
				        d.name, k + 1, d.note);
			} else if (d.partial) {
				fprintf(f, "%s %s [partial]: %s\n", any++ ? "" : "\n", d.name,
				        d.note);
			} else if (k == 0 && d.method != JST_METHOD_ESTIMATE) {
				fprintf(f, "%s %s: %s\n", any++ ? "" : "\n", d.name, d.note);
			}
		}
	}
	if (mk->nested)
		fprintf(f,
		        "%s indented domains are inside the one above them: never added twice.\n",
		        any++ ? "" : "\n");
	if (mk->secondary)
		fprintf(f,
		        "%s [not counted]: another method of the same device (cross-validation); "
		        "totals\n"
		        "   count each device once, by its most accurate method.\n",
		        any++ ? "" : "\n");
	if (mk->beside)
		fprintf(f,
		        "%s [not in total]: a meter of the whole system beside its components "
		        "(psys, a BMC),\n"
		        "   or a part its backend reports without its socket (a core): shown, "
		        "never added.\n",
		        any++ ? "" : "\n");
}

void jst_sink_text_report(FILE *f, const struct jst_report *r)
{
	if (!r->nruns)
		return;
	struct marks mk = {0};
	struct jst_table *t = r->nruns == 1 ? jst_table_new("lrrrrll") : jst_table_new("lrlrrll");
	if (!t)
		return;
	fputs("\n Energy of ", f);
	print_command(f, r->command);
	if (r->nruns > 1)
		fprintf(f, " (%zu runs, mean ± standard deviation)", r->nruns);
	fprintf(f, ", exit status %d%s:\n\n", r->exit_status,
	        r->nruns > 1 && r->exit_status ? " (the first run that failed)" : "");

	jst_table_cell(t, "domain");
	jst_table_cell(t, "energy J");
	if (r->nruns == 1) {
		jst_table_cell(t, "avg W");
		jst_table_cell(t, "peak W");
	} else {
		jst_table_cell(t, "%s", "");
		jst_table_cell(t, "avg W");
	}
	jst_table_cell(t, "accuracy");
	jst_table_cell(t, "method");
	jst_table_end_row(t);
	domain_rows(t, r, &mk);
	jst_table_gap(t);
	total_rows(t, r);
	jst_table_print(t, f, "   ");
	jst_table_free(t);

	struct jst_stat dur;
	jst_stat_duration(r->runs, r->nruns, r->run_cut, &dur);
	if (r->nruns == 1)
		fprintf(f, "\n   %.3f s elapsed%s\n", dur.mean,
		        jst_measurement_partial(r->runs[0]) ? ", partial" : "");
	else if (dur.excluded)
		fprintf(f, "\n   %.3f ± %.3f s elapsed per run (%zu of %zu runs)\n", dur.mean,
		        dur.stddev, dur.n, dur.n + dur.excluded);
	else
		fprintf(f, "\n   %.3f ± %.3f s elapsed per run\n", dur.mean, dur.stddev);
	cut_runs(f, r);
	telemetry_lines(f, r);
	footnotes(f, r, &mk);
	fputc('\n', f);
	for (size_t i = 0; r->run_note && i < r->nruns; i++)
		if (r->run_note[i] && *r->run_note[i]) {
			if (r->nruns > 1)
				fprintf(f, " run %zu: ", i + 1);
			else
				fputs(" ", f);
			jst_sink_text_escaped(f, r->run_note[i]);
			fputs("\n\n", f);
		}
	if (r->attribution)
		jst_sink_text_attribution(f, r);
	fflush(f);
}

/* Interval rows are printed as they come, so the columns are fixed in advance:
 * as wide as the domain's name plus its unit, and at least ten. */
static int col_width(const char *name)
{
	int w = (int)strlen(name) + 2;
	return w < 10 ? 10 : w;
}

void jst_sink_text_interval_header(FILE *f, const jst_measurement *m)
{
	if (ferror(f))
		return; /* its reader has gone (EPIPE): stop writing to it */
	fprintf(f, "#%9s  %3s", "time s", "run");
	for (size_t i = 0; i < jst_measurement_domain_count(m); i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(m, i, &d))
			continue;
		int w = col_width(d.name);
		fprintf(f, "  %*s W  %*s J", w - 2, d.name, w - 2, d.name);
	}
	fprintf(f, "  %*s W  %*s J\n", 8, "total", 8, "total");
	fflush(f);
}

void jst_sink_text_interval_row(FILE *f, const jst_measurement *m, size_t run, double t_s)
{
	if (ferror(f))
		return; /* its reader has gone (EPIPE): stop writing to it */
	fprintf(f, "%10.3f  %3zu", t_s, run);
	for (size_t i = 0; i < jst_measurement_domain_count(m); i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(m, i, &d))
			continue;
		int w = col_width(d.name);
		fprintf(f, "  %*.2f  %*.3f", w, d.avg_power_w, w, d.energy_j);
	}
	jst_total all = {.size = sizeof all};
	jst_measurement_total(m, JST_TOTAL_ALL, &all);
	fprintf(f, "  %10.2f  %10.3f\n", all.avg_power_w, all.energy_j);
	fflush(f);
}
