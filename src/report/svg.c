/* The report's figure as SVG: power over time per domain above energy per
 * domain and totals. Every mark carries its figure in data-* attributes, so
 * that what is drawn can be checked against what was measured. */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A gap between two steps longer than this breaks the line (between runs). */
#define STEP_GAP_NS 1000000

#define WIDTH 960
/* Power panel: plot area, then the legend to its right. */
#define P_X0 70
#define P_X1 700
#define P_TOP 50
#define P_HEIGHT 280
#define LEGEND_X 712
#define LEGEND_ROW 16
/* Energy panel: labels, bars, then the figures in words. */
#define E_LABEL_X 255
#define E_X0 265
#define E_X1 770
#define E_TEXT_X 780
#define E_ROW 22

/* Tableau's ten: distinct on screen and in print. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define TOTAL_COLOUR "#333333"

static const char *colour(size_t device_index)
{
	return palette[device_index % (sizeof palette / sizeof *palette)];
}

/* How a device's methods are told apart where they overlay: its counted
 * figure solid, each cross-check dashed its own way. */
static const char *dash(size_t rank)
{
	static const char *const dashes[] = {"7 3", "2 3", "10 3 2 3", "4 2 1 2"};
	return rank ? dashes[(rank - 1) % (sizeof dashes / sizeof *dashes)] : "none";
}

/* How a figure was measured, in a label: its source (instant-power), else its method. */
static const char *how(const char *source, const char *method)
{
	return *source ? source : method;
}

/* A tick label: as many decimals as the step needs. */
static void tick_label(char *buf, size_t len, double v, double step)
{
	int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	if (fabs(v) < step * 1e-9)
		v = 0;
	snprintf(buf, len, "%.*f", dec > 9 ? 9 : dec, v);
}

static void attr(FILE *f, const char *name, const char *value)
{
	fprintf(f, " %s=\"", name);
	jst_report_xml_text(f, value);
	fputc('"', f);
}

struct pen {
	FILE *f;
	int down;
	size_t points;
};

static void pen_to(struct pen *p, double x, double y)
{
	fprintf(p->f, "%c%.2f %.2f ", p->down ? 'L' : 'M', x, y);
	p->down = 1;
	p->points++;
}

static double px_time(const struct jst_report *r, const struct jst_report_axis *ax, int64_t t)
{
	return jst_report_axis_map(ax, (double)(t - r->t0_ns) / 1e9, P_X0, P_X1);
}

/* A trace of readings, thinned to its lowest and highest reading per pixel
 * column when it has more points than the plot has room for (peaks stay). */
static size_t trace_path(FILE *f, const struct jst_report *r, const struct jst_report_trace *t,
                         const struct jst_report_axis *tx, const struct jst_report_axis *py)
{
	struct pen pen = {f, 0, 0};
	int thin = t->n > 4 * (size_t)(P_X1 - P_X0);
	long col = LONG_MIN;
	double lo = 0, hi = 0, xlo = 0, xhi = 0;
	int have = 0;
	for (size_t k = 0; k < t->n; k++) {
		double x = px_time(r, tx, t->t_ns[k]), w = t->power_w[k];
		double y = isnan(w) ? NAN : jst_report_axis_map(py, w, P_TOP + P_HEIGHT, P_TOP);
		if (t->steps) {
			/* Pairs of [start, end) at one average power. */
			if ((k & 1) == 0) {
				if (isnan(w) || (k && t->t_ns[k] - t->t_ns[k - 1] > STEP_GAP_NS))
					pen.down = 0;
			}
			if (!isnan(w))
				pen_to(&pen, x, y);
			continue;
		}
		if (!thin) {
			if (isnan(w))
				pen.down = 0;
			else
				pen_to(&pen, x, y);
			continue;
		}
		long c = (long)floor(x);
		if (have && (c != col || isnan(w))) {
			/* The column's extremes, in the order they came. */
			pen_to(&pen, xlo < xhi ? xlo : xhi, xlo < xhi ? lo : hi);
			if (lo != hi)
				pen_to(&pen, xlo < xhi ? xhi : xlo, xlo < xhi ? hi : lo);
			have = 0;
		}
		if (isnan(w)) {
			pen.down = 0;
			continue;
		}
		if (!have) {
			col = c, lo = hi = y, xlo = xhi = x, have = 1;
		} else if (y > lo) { /* SVG's y grows downwards: larger y is less power */
			lo = y, xlo = x;
		} else if (y < hi) {
			hi = y, xhi = x;
		}
	}
	if (have) {
		pen_to(&pen, xlo < xhi ? xlo : xhi, xlo < xhi ? lo : hi);
		if (lo != hi)
			pen_to(&pen, xlo < xhi ? xhi : xlo, xlo < xhi ? hi : lo);
	}
	return pen.points;
}

static const char *source_words(enum jst_report_power_source s)
{
	switch (s) {
	case JST_REPORT_POWER_SERIES:
		return "sampler readings";
	case JST_REPORT_POWER_INTERVALS:
		return "average of each -I interval";
	default:
		return "average of each run";
	}
}

static const char *source_key(enum jst_report_power_source s)
{
	return s == JST_REPORT_POWER_SERIES      ? "series"
	       : s == JST_REPORT_POWER_INTERVALS ? "intervals"
	                                         : "runs";
}

static int power_panel(FILE *f, const struct jst_report *r)
{
	double pmax = 0, pmin = 0;
	int any = 0;
	for (size_t i = 0; i < r->ntraces; i++)
		for (size_t k = 0; k < r->traces[i].n; k++) {
			double w = r->traces[i].power_w[k];
			if (isnan(w))
				continue;
			pmax = fmax(pmax, w);
			pmin = fmin(pmin, w);
			any = 1;
		}
	struct jst_report_axis tx, py;
	jst_report_axis_nice(0, (double)(r->t1_ns - r->t0_ns) / 1e9, 8, &tx);
	jst_report_axis_nice(pmin, pmax, 6, &py);
	int legend_h = (int)r->ntraces * LEGEND_ROW + 20;
	int height = P_TOP + P_HEIGHT + 50;
	if (P_TOP + legend_h > height)
		height = P_TOP + legend_h;

	fprintf(f, "<g class=\"power-panel\" data-source=\"%s\" data-height=\"%d\">\n",
	        source_key(r->power_source), height);
	fprintf(f,
	        "<text class=\"title\" x=\"%d\" y=\"24\">Power over time per domain (%s)</text>\n",
	        P_X0, source_words(r->power_source));
	fprintf(f,
	        "<rect class=\"plot-area\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	        "fill=\"#fafafa\" "
	        "stroke=\"#999\" data-t-lo-s=\"%.9g\" data-t-hi-s=\"%.9g\" data-p-lo-w=\"%.9g\" "
	        "data-p-hi-w=\"%.9g\" data-t0-ns=\"%lld\"/>\n",
	        P_X0, P_TOP, P_X1 - P_X0, P_HEIGHT, tx.lo, tx.hi, py.lo, py.hi,
	        (long long)r->t0_ns);

	/* Bands: -I intervals shaded in turn, runs outlined and named. */
	for (size_t i = 0; i < r->nbands; i++) {
		const struct jst_report_band *b = &r->bands[i];
		double x0 = px_time(r, &tx, b->begin_ns), x1 = px_time(r, &tx, b->end_ns);
		fprintf(f,
		        "<rect class=\"band %s\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
		        "data-run=\"%d\" data-begin-ns=\"%lld\" data-end-ns=\"%lld\"",
		        b->interval ? "interval" : "run", x0, P_TOP, fmax(x1 - x0, 0.5), P_HEIGHT,
		        b->run, (long long)b->begin_ns, (long long)b->end_ns);
		attr(f, "data-name", b->name);
		if (b->interval)
			fprintf(f, " fill=\"#4a6fa5\" fill-opacity=\"%s\" stroke=\"none\"",
			        (i & 1) ? "0.10" : "0.04");
		else
			fprintf(f, " fill=\"none\" stroke=\"#4a6fa5\" stroke-dasharray=\"4 2\"");
		fputs("><title>", f);
		jst_report_xml_text(f, b->name);
		fprintf(f, ": %.3f s</title></rect>\n", (double)(b->end_ns - b->begin_ns) / 1e9);
		if (!b->interval) {
			fprintf(f,
			        "<text class=\"band-label\" x=\"%.2f\" y=\"%d\" font-size=\"10\">",
			        x0 + 2, P_TOP + 11);
			jst_report_xml_text(f, b->name);
			fputs("</text>\n", f);
		}
	}

	/* Axes: ticks and grid. */
	char buf[32];
	for (int i = 0; i < tx.nticks; i++) {
		double v = tx.lo + i * tx.step, x = jst_report_axis_map(&tx, v, P_X0, P_X1);
		tick_label(buf, sizeof buf, v, tx.step);
		fprintf(f,
		        "<line class=\"grid\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
		        "stroke=\"#e4e4e4\"/>"
		        "<text class=\"tick x\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" "
		        "data-value=\"%.9g\">%s</text>\n",
		        x, P_TOP, x, P_TOP + P_HEIGHT, x, P_TOP + P_HEIGHT + 16, v, buf);
	}
	for (int i = 0; i < py.nticks; i++) {
		double v = py.lo + i * py.step,
		       y = jst_report_axis_map(&py, v, P_TOP + P_HEIGHT, P_TOP);
		tick_label(buf, sizeof buf, v, py.step);
		fprintf(f,
		        "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" "
		        "stroke=\"#e4e4e4\"/>"
		        "<text class=\"tick y\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\" "
		        "data-value=\"%.9g\">%s</text>\n",
		        P_X0, y, P_X1, y, P_X0 - 6, y + 4, v, buf);
	}
	fprintf(
	    f,
	    "<text class=\"axis-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">time, s</text>\n",
	    (P_X0 + P_X1) / 2, P_TOP + P_HEIGHT + 36);
	fprintf(f,
	        "<text class=\"axis-label\" x=\"16\" y=\"%d\" text-anchor=\"middle\" "
	        "transform=\"rotate(-90 16 %d)\">power, W</text>\n",
	        P_TOP + P_HEIGHT / 2, P_TOP + P_HEIGHT / 2);
	if (!any)
		fprintf(
		    f,
		    "<text class=\"empty\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">"
		    "no power readings</text>\n",
		    (P_X0 + P_X1) / 2, P_TOP + P_HEIGHT / 2);

	/* The lines: one per domain, a device's methods in its colour. */
	for (size_t i = 0; i < r->ntraces; i++) {
		const struct jst_report_trace *t = &r->traces[i];
		fprintf(f,
		        "<path class=\"trace\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" "
		        "stroke-dasharray=\"%s\"",
		        colour(t->device_index), t->primary ? "2" : "1.5", dash(t->rank));
		attr(f, "data-domain", t->domain);
		attr(f, "data-kind", t->kind);
		attr(f, "data-method", t->method);
		attr(f, "data-source", t->source);
		attr(f, "data-device", t->device);
		fprintf(f, " data-primary=\"%d\" data-readings=\"%zu\" d=\"", t->primary, t->n);
		trace_path(f, r, t, &tx, &py);
		fputs("\"><title>", f);
		jst_report_xml_text(f, t->domain);
		fputs("</title></path>\n", f);
	}

	/* The legend. */
	for (size_t i = 0; i < r->ntraces; i++) {
		const struct jst_report_trace *t = &r->traces[i];
		int y = P_TOP + 8 + (int)i * LEGEND_ROW;
		fprintf(f,
		        "<g class=\"legend\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		        "stroke=\"%s\" "
		        "stroke-width=\"2\" stroke-dasharray=\"%s\"/><text x=\"%d\" y=\"%d\" "
		        "font-size=\"11\">",
		        LEGEND_X, y, LEGEND_X + 24, y, colour(t->device_index), dash(t->rank),
		        LEGEND_X + 28, y + 4);
		jst_report_xml_text(f, t->domain);
		if (*how(t->source, t->method)) {
			fputs(" · ", f);
			jst_report_xml_text(f, how(t->source, t->method));
		}
		if (!t->primary)
			fputs(" (cross-check)", f);
		fputs("</text></g>\n", f);
	}
	fputs("</g>\n", f);
	return height;
}

/* "12.3 ± 0.62 J (5%)"; in full (a tooltip), also the class and the runs' spread. */
static void energy_words(FILE *f, const struct jst_report_bar *b, int full)
{
	fprintf(f, "%.4g ± %.2g J", b->mean_j, b->uncertainty_j);
	if (!isnan(b->accuracy))
		fprintf(f, full ? " (class %.3g%%)" : " (%.3g%%)", b->accuracy * 100);
	if (b->nruns > 1 && full)
		fprintf(f, ", %zu runs from %.4g to %.4g J", b->nruns, b->min_j, b->max_j);
	else if (b->nruns > 1)
		fprintf(f, ", %zu runs", b->nruns);
}

static int energy_panel(FILE *f, const struct jst_report *r, int top)
{
	double lo = 0, hi = 0;
	for (size_t i = 0; i < r->nbars; i++) {
		const struct jst_report_bar *b = &r->bars[i];
		lo = fmin(lo, fmin(b->mean_j - b->uncertainty_j, b->min_j));
		hi = fmax(hi, fmax(b->mean_j + b->uncertainty_j, b->max_j));
	}
	struct jst_report_axis ex;
	jst_report_axis_nice(lo, hi, 6, &ex);
	int ntot = 0;
	for (size_t i = 0; i < r->nbars; i++)
		ntot += r->bars[i].total;
	int rows_top = top + 40;
	int rows_h = (int)r->nbars * E_ROW + (ntot && ntot < (int)r->nbars ? 10 : 0);
	int height = 40 + rows_h + 44;

	fprintf(f, "<g class=\"energy-panel\" data-runs=\"%zu\">\n", r->nruns);
	fprintf(f,
	        "<text class=\"title\" x=\"%d\" y=\"%d\">Energy per domain and totals%s "
	        "(whiskers: ± uncertainty)</text>\n",
	        P_X0, top + 24, r->nruns > 1 ? ", mean of the runs (dots: each run)" : "");
	fprintf(f,
	        "<rect class=\"energy-area\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	        "fill=\"none\" "
	        "stroke=\"#999\" data-e-lo-j=\"%.9g\" data-e-hi-j=\"%.9g\"/>\n",
	        E_X0, rows_top, E_X1 - E_X0, rows_h, ex.lo, ex.hi);
	char buf[32];
	for (int i = 0; i < ex.nticks; i++) {
		double v = ex.lo + i * ex.step, x = jst_report_axis_map(&ex, v, E_X0, E_X1);
		tick_label(buf, sizeof buf, v, ex.step);
		fprintf(f,
		        "<line class=\"grid\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
		        "stroke=\"#e4e4e4\"/>"
		        "<text class=\"tick e\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" "
		        "data-value=\"%.9g\">%s</text>\n",
		        x, rows_top, x, rows_top + rows_h, x, rows_top + rows_h + 16, v, buf);
	}
	fprintf(f,
	        "<text class=\"axis-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">energy, "
	        "J</text>\n",
	        (E_X0 + E_X1) / 2, rows_top + rows_h + 36);
	if (!r->nbars)
		fprintf(f,
		        "<text class=\"empty\" x=\"%d\" y=\"%d\" fill=\"#666\">no runs: no energy "
		        "figures</text>\n",
		        E_X0, rows_top + 14);

	double x_zero = jst_report_axis_map(&ex, 0, E_X0, E_X1);
	int y = rows_top;
	for (size_t i = 0; i < r->nbars; i++) {
		const struct jst_report_bar *b = &r->bars[i];
		if (b->total && (i == 0 || !r->bars[i - 1].total) && i > 0) {
			fprintf(f,
			        "<line class=\"separator\" x1=\"10\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			        "stroke=\"#999\"/>\n",
			        y + 5, WIDTH - 10, y + 5);
			y += 10;
		}
		/* Cross-validation: the counted figure's ± over its device's other methods. */
		if (!b->total && b->primary) {
			size_t n = 1;
			while (i + n < r->nbars && !r->bars[i + n].total &&
			       r->bars[i + n].group == b->group && !r->bars[i + n].primary)
				n++;
			if (n > 1) {
				double x0 = jst_report_axis_map(&ex, b->mean_j - b->uncertainty_j,
				                                E_X0, E_X1);
				double x1 = jst_report_axis_map(&ex, b->mean_j + b->uncertainty_j,
				                                E_X0, E_X1);
				fprintf(
				    f,
				    "<rect class=\"xval-band\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
				    "height=\"%d\" fill=\"%s\" fill-opacity=\"0.12\"",
				    x0, y, fmax(x1 - x0, 0.5), (int)n * E_ROW,
				    colour(b->device_index));
				attr(f, "data-device", b->device);
				fputs("/>\n", f);
			}
		}
		const char *fill = b->total ? TOTAL_COLOUR : colour(b->device_index);
		double xe = jst_report_axis_map(&ex, b->mean_j, E_X0, E_X1);
		fprintf(f, "<text class=\"bar-label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">",
		        E_LABEL_X, y + 15);
		jst_report_xml_text(f, b->name);
		if (!b->total && *how(b->source, b->method)) {
			fputs(" · ", f);
			jst_report_xml_text(f, how(b->source, b->method));
			if (*b->backend) {
				fputs(" (", f);
				jst_report_xml_text(f, b->backend);
				fputc(')', f);
			}
		}
		fputs("</text>\n", f);
		fprintf(f,
		        "<rect class=\"bar\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
		        "fill=\"%s\" "
		        "fill-opacity=\"%s\" data-total=\"%d\" data-primary=\"%d\" "
		        "data-energy-j=\"%.9g\" "
		        "data-uncertainty-j=\"%.9g\" data-runs=\"%zu\"",
		        fmin(x_zero, xe), y + 4, fabs(xe - x_zero), E_ROW - 8, fill,
		        b->primary ? "1" : "0.4", b->total, b->primary, b->mean_j, b->uncertainty_j,
		        b->nruns);
		attr(f, "data-name", b->name);
		attr(f, "data-method", b->method);
		attr(f, "data-source", b->source);
		attr(f, "data-device", b->device);
		if (b->estimated || !b->primary)
			fprintf(f, " stroke=\"%s\" stroke-dasharray=\"3 2\"", fill);
		fputs("><title>", f);
		jst_report_xml_text(f, b->name);
		fputs(": ", f);
		energy_words(f, b, 1);
		fputs("</title></rect>\n", f);
		/* The accuracy bar: mean ± uncertainty. */
		double u0 = jst_report_axis_map(&ex, b->mean_j - b->uncertainty_j, E_X0, E_X1);
		double u1 = jst_report_axis_map(&ex, b->mean_j + b->uncertainty_j, E_X0, E_X1);
		int ym = y + E_ROW / 2;
		fprintf(
		    f,
		    "<g class=\"accuracy-bar\" stroke=\"#111\" stroke-width=\"1.2\" "
		    "data-lo-j=\"%.9g\" data-hi-j=\"%.9g\"><line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" "
		    "y2=\"%d\"/><line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/><line "
		    "x1=\"%.2f\" "
		    "y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/></g>\n",
		    b->mean_j - b->uncertainty_j, b->mean_j + b->uncertainty_j, u0, ym, u1, ym, u0,
		    ym - 5, u0, ym + 5, u1, ym - 5, u1, ym + 5);
		if (b->nruns > 1) {
			size_t shown = b->nruns < 64 ? b->nruns : 64;
			for (size_t k = 0; k < shown; k++)
				fprintf(f,
				        "<circle class=\"run-dot\" cx=\"%.2f\" cy=\"%d\" r=\"2.5\" "
				        "fill=\"#fff\" "
				        "stroke=\"#111\" data-energy-j=\"%.9g\"/>\n",
				        jst_report_axis_map(&ex, b->runs_j[k], E_X0, E_X1), ym,
				        b->runs_j[k]);
		}
		fprintf(f, "<text class=\"bar-value\" x=\"%d\" y=\"%d\" font-size=\"11\">",
		        E_TEXT_X, y + 15);
		energy_words(f, b, 0);
		if (b->partial)
			fputs(" partial", f);
		fputs("</text>\n", f);
		y += E_ROW;
	}
	fputs("</g>\n", f);
	return height;
}

int jst_report_write_svg(const struct jst_report *r, FILE *f, int standalone)
{
	/* The height is known only once both panels are laid out: write them to
	 * memory first. */
	char *body = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&body, &len);
	if (!m)
		return -ENOMEM;
	int ph = power_panel(m, r);
	fprintf(m, "<g transform=\"translate(0 %d)\">\n", ph);
	int eh = energy_panel(m, r, 0);
	fputs("</g>\n", m);
	int bad = ferror(m);
	if (fclose(m) || bad) {
		free(body);
		return -ENOMEM;
	}
	int height = ph + eh;
	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(
	    f,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"joulestat-figure\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
	    "font-size=\"12\">\n",
	    WIDTH, height, WIDTH, height);
	fprintf(f, "<rect class=\"background\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", WIDTH,
	        height);
	fwrite(body, 1, len, f);
	fputs("</svg>\n", f);
	free(body);
	return ferror(f) ? -EIO : 0;
}
