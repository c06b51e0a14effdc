/* The report as one self-contained HTML page: identity, carbon, the figure
 * inline, and the figures in tables. No script, no link, nothing fetched. */
#include "report.h"

#include <joulestat.h>

#include <errno.h>
#include <math.h>
#include <string.h>

static const char style[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#111;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code{background:#f4f4f4;padding:1px 4px}.warn{color:#a40000;font-weight:bold}"
    ".muted{color:#666}figure{margin:0}\n";

static void text(FILE *f, const char *s)
{
	jst_report_xml_text(f, s);
}

/* A JSON value in words: strings as they are, arrays joined, objects as k: v. */
static void value(FILE *f, json_t *v)
{
	size_t i;
	json_t *e;
	const char *k;
	switch (json_typeof(v)) {
	case JSON_STRING:
		text(f, json_string_value(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "%.6g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("yes", f);
		break;
	case JSON_FALSE:
		fputs("no", f);
		break;
	case JSON_NULL:
		fputs("<span class=\"muted\">none</span>", f);
		break;
	case JSON_ARRAY:
		if (!json_array_size(v))
			fputs("<span class=\"muted\">none</span>", f);
		json_array_foreach(v, i, e)
		{
			if (i)
				fputs(", ", f);
			value(f, e);
		}
		break;
	case JSON_OBJECT:
		if (!json_object_size(v))
			fputs("<span class=\"muted\">none</span>", f);
		i = 0;
		json_object_foreach(v, k, e)
		{
			if (i++)
				fputs("<br>", f);
			fputs("<code>", f);
			text(f, k);
			fputs("</code> ", f);
			value(f, e);
		}
		break;
	}
}

/* Every key of obj as a row, in the order written (newer keys shown too). */
static void key_table(FILE *f, json_t *obj, const char *cls)
{
	const char *k;
	json_t *v;
	fprintf(f, "<table class=\"%s\">\n", cls);
	json_object_foreach(obj, k, v)
	{
		fputs("<tr><th>", f);
		text(f, k);
		fprintf(f, "</th><td data-key=\"");
		text(f, k);
		fputs("\">", f);
		value(f, v);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void num(FILE *f, double v, const char *fmt)
{
	fputs("<td class=\"n\">", f);
	if (isnan(v))
		fputs("<span class=\"muted\">–</span>", f);
	else
		fprintf(f, fmt, v);
	fputs("</td>", f);
}

static void bar_table(FILE *f, const struct jst_report *r, int totals)
{
	fprintf(f, "<table class=\"%s\">\n<tr><th>%s</th>", totals ? "totals" : "domains",
	        totals ? "total" : "domain");
	if (!totals)
		fputs("<th>kind</th><th>device</th><th>backend</th><th>method</th><th>source</th>"
		      "<th>counted</th>",
		      f);
	fputs("<th>energy, J</th><th>± J</th><th>class</th><th>avg W</th>", f);
	if (!totals)
		fputs("<th>peak W</th>", f);
	fputs("<th>runs</th><th>note</th></tr>\n", f);
	for (size_t i = 0; i < r->nbars; i++) {
		const struct jst_report_bar *b = &r->bars[i];
		if (b->total != totals)
			continue;
		fputs("<tr><td>", f);
		text(f, b->name);
		fputs("</td>", f);
		if (!totals) {
			const char *cols[] = {b->kind, b->device, b->backend, b->method, b->source};
			for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
				fputs("<td>", f);
				text(f, cols[c]);
				fputs("</td>", f);
			}
			/* Why a domain is out of the total: another method of its
			 * device, or inside or beside the counted ones (psys, a
			 * core); "?" where the document predates the key. */
			fprintf(f, "<td>%s</td>",
			        !b->primary       ? "cross-check"
			        : b->counted > 0  ? "yes"
			        : b->counted == 0 ? "no"
			                          : "?");
		}
		num(f, b->mean_j, "%.6g");
		num(f, b->uncertainty_j, "%.3g");
		num(f, b->accuracy * 100, "%.3g%%");
		num(f, b->avg_power_w, "%.4g");
		if (!totals)
			num(f, b->peak_power_w, "%.4g");
		if (b->nruns > 1)
			fprintf(f, "<td class=\"n\">%zu (%.6g–%.6g)</td>", b->nruns, b->min_j,
			        b->max_j);
		else
			fprintf(f, "<td class=\"n\">%zu</td>", b->nruns);
		fputs("<td>", f);
		if (b->partial)
			fputs("<span class=\"warn\">partial</span> ", f);
		if (b->estimated)
			fputs("estimate ", f);
		text(f, b->note);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void command_words(FILE *f, json_t *command)
{
	size_t i;
	json_t *a;
	json_array_foreach(command, i, a)
	{
		if (i)
			fputc(' ', f);
		text(f, json_string_value(a) ? json_string_value(a) : "?");
	}
}

static void carbon_block(FILE *f, json_t *carbon)
{
	json_t *g = json_object_get(carbon, "co2e_g"),
	       *u = json_object_get(carbon, "co2e_uncertainty_g");
	fputs("<h2>Carbon</h2>\n", f);
	if (json_is_number(g)) {
		fprintf(f, "<p class=\"co2e\">%.4g g CO<sub>2</sub>e", json_number_value(g));
		if (json_is_number(u))
			fprintf(f, " ± %.2g g", json_number_value(u));
		fputs("</p>\n", f);
	}
	key_table(f, carbon, "carbon");
}

/* Each run: its span, exit status and whether it was cut short. */
static void runs_table(FILE *f, const struct jst_report *r)
{
	json_t *runs = json_object_get(r->doc, "runs");
	if (json_array_size(runs) < 2 && !r->partial)
		return;
	fputs("<table class=\"runs\">\n<tr><th>run</th><th>duration, s</th><th>exit status</th>"
	      "<th>partial</th></tr>\n",
	      f);
	size_t i;
	json_t *run;
	json_array_foreach(runs, i, run)
	{
		json_t *st = json_object_get(run, "exit_status");
		json_t *b = json_object_get(run, "begin_ns"), *e = json_object_get(run, "end_ns");
		fputs("<tr><td>", f);
		text(f, json_string_value(json_object_get(run, "name")));
		fputs("</td>", f);
		num(f, (json_number_value(e) - json_number_value(b)) / 1e9, "%.3f");
		if (json_is_integer(st))
			fprintf(f, "<td class=\"n\">%lld</td>", (long long)json_integer_value(st));
		else
			fputs("<td></td>", f);
		fprintf(f, "<td>%s</td></tr>\n",
		        json_is_true(json_object_get(run, "partial"))
		            ? "<span class=\"warn\">yes</span>"
		            : "no");
	}
	fputs("</table>\n", f);
}

int jst_report_write_html(const struct jst_report *r, FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"generator\" content=\"joulestat " JST_VERSION
	      "\">\n<title>joulestat report",
	      f);
	if (json_array_size(r->command)) {
		fputs(": ", f);
		command_words(f, r->command);
	}
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>joulestat report</h1>\n",
	        style);
	if (json_array_size(r->command)) {
		fputs("<p class=\"command\"><code>", f);
		command_words(f, r->command);
		fputs("</code></p>\n", f);
	}
	fprintf(f, "<p class=\"summary\">%zu run%s", r->nruns, r->nruns == 1 ? "" : "s");
	if (r->nintervals)
		fprintf(f, ", %zu interval%s", r->nintervals, r->nintervals == 1 ? "" : "s");
	fprintf(f, ", %.3f s", (double)(r->t1_ns - r->t0_ns) / 1e9);
	if (r->exit_status >= 0)
		fprintf(f, ", exit status %d", r->exit_status);
	fputs(".", f);
	if (r->partial)
		fputs(" <span class=\"warn\">Partial: a figure ended early (see the notes).</span>",
		      f);
	if (r->runs_left_out)
		fprintf(f,
		        " <span class=\"left-out\">%zu partial run%s left out of the energy "
		        "figures, as "
		        "in the summary.</span>",
		        r->runs_left_out, r->runs_left_out == 1 ? "" : "s");
	fputs("</p>\n", f);
	runs_table(f, r);

	fputs("<h2>Identity</h2>\n", f);
	json_t *schema = json_object_get(r->identity, "schema");
	if (json_is_integer(schema) && json_integer_value(schema) > JST_REPORT_SCHEMA)
		fprintf(
		    f,
		    "<p class=\"muted\">Identity of schema %lld, newer than this joulestat knows "
		    "(%d): every key is shown as written.</p>\n",
		    (long long)json_integer_value(schema), JST_REPORT_SCHEMA);
	if (r->identity)
		key_table(f, r->identity, "identity");
	else
		fputs("<p class=\"identity muted\">No identity in this file (written before schema "
		      "2, "
		      "or by a joulestat that did not record it).</p>\n",
		      f);
	if (r->carbon)
		carbon_block(f, r->carbon);

	fputs("<h2>Figure</h2>\n<figure>\n", f);
	int rc = jst_report_write_svg(r, f, 0);
	if (rc)
		return rc;
	fputs(
	    "</figure>\n<p class=\"muted\">Lines: one per domain, one colour per physical device; "
	    "a device's other methods (cross-validation) dashed over it. Shaded: -I intervals; "
	    "outlined: runs. Whiskers: the figure's uncertainty (its accuracy class, quantisation "
	    "and sampling; docs/sensor-model.md).</p>\n",
	    f);
	fputs("<h2>Domains</h2>\n", f);
	bar_table(f, r, 0);
	fputs("<h2>Totals</h2>\n", f);
	bar_table(f, r, 1);
	fputs("<p class=\"muted\">Report by joulestat " JST_VERSION, f);
	if (*r->joulestat) {
		fputs(" of a measurement by joulestat ", f);
		text(f, r->joulestat);
	}
	fputs(".</p>\n</body>\n</html>\n", f);
	return ferror(f) ? -EIO : 0;
}
