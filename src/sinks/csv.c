/* CSV: one row per (window, domain) and per (window, total); columns in docs/output.md. */
#include "sinks.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const char header[] = "window,run,type,name,kind,device,backend,method,source,accuracy,"
                             "energy_j,avg_power_w,peak_power_w,samples,primary,partial,"
                             "estimated,parts,parent,begin_ns,end_ns,duration_s,exit_status,"
                             "note,temperature_max_c,utilization_mean_pct,clock_mean_mhz,"
                             "power_limit_w,uncertainty_j,short_window,bridged,hostname,co2e_g,"
                             "co2e_uncertainty_g,cost,counted\n";

struct row {
	FILE *f;
	int fields;
};

static void sep(struct row *r)
{
	if (r->fields++)
		fputc(',', r->f);
}

/* RFC 4180: quote a field only when it holds a comma, a quote or a line break. */
static void text(struct row *r, const char *s)
{
	sep(r);
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, r->f);
		return;
	}
	fputc('"', r->f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', r->f);
		fputc(*s, r->f);
	}
	fputc('"', r->f);
}

/* NaN (no figure) is an empty field. */
static void number(struct row *r, double v)
{
	sep(r);
	if (isfinite(v))
		fprintf(r->f, "%.15g", v);
}

static void integer(struct row *r, long long v)
{
	sep(r);
	fprintf(r->f, "%lld", v);
}

static void empty(struct row *r, int n)
{
	while (n-- > 0)
		sep(r);
}

static void lead(struct row *r, const jst_measurement *m, size_t run, const char *type)
{
	text(r, jst_measurement_name(m));
	integer(r, (long long)run);
	text(r, type);
}

/* The row up to its note; the caller ends it. */
static void tail(struct row *r, const jst_measurement *m, const int *status, const char *note)
{
	integer(r, (long long)jst_measurement_begin_ns(m));
	integer(r, (long long)jst_measurement_end_ns(m));
	number(r, jst_measurement_duration(m));
	if (status)
		integer(r, *status);
	else
		empty(r, 1);
	text(r, note);
}

/* hostname, co2e_g, co2e_uncertainty_g, cost of energy_j ± uncertainty_j. */
static void extra(struct row *r, const struct jst_csv_extra *x, double energy_j,
                  double uncertainty_j)
{
	text(r, x ? x->hostname : NULL);
	double g = x ? x->co2e_g_per_j : NAN, c = x ? x->cost_per_j : NAN;
	number(r, energy_j * g);
	number(r, uncertainty_j * g);
	number(r, energy_j * c);
}

static void domain_row(FILE *f, const jst_measurement *m, size_t run, const int *status,
                       const jst_domain_energy *d, const struct jst_csv_extra *x)
{
	struct row r = {f, 0};
	jst_domain_energy parent = {.size = sizeof parent};
	int has_parent = d->parent >= 0 && !jst_measurement_domain(m, (size_t)d->parent, &parent);
	lead(&r, m, run, "domain");
	text(&r, d->name);
	text(&r, jst_kind_name(d->kind));
	text(&r, d->device);
	text(&r, d->backend);
	text(&r, jst_method_name(d->method));
	text(&r, d->source);
	number(&r, d->accuracy);
	number(&r, d->energy_j);
	number(&r, d->avg_power_w);
	number(&r, d->peak_power_w);
	integer(&r, (long long)d->samples);
	integer(&r, d->primary);
	integer(&r, d->partial);
	integer(&r, d->method == JST_METHOD_ESTIMATE);
	empty(&r, 1); /* parts: a domain is one */
	text(&r, has_parent ? parent.name : "");
	tail(&r, m, status, d->note);
	number(&r, d->temperature_max_c);
	number(&r, d->utilization_mean_pct);
	number(&r, d->clock_mean_mhz);
	number(&r, d->power_limit_w);
	number(&r, d->uncertainty_j);
	integer(&r, d->short_window);
	integer(&r, d->bridged);
	extra(&r, x, d->energy_j, d->uncertainty_j);
	integer(&r, d->counted);
	fputs("\n", f);
}

static void total_row(FILE *f, const jst_measurement *m, size_t run, const int *status,
                      jst_total_kind k, const jst_total *t, const struct jst_csv_extra *x)
{
	struct row r = {f, 0};
	lead(&r, m, run, "total");
	text(&r, jst_total_name(k));
	empty(&r, 5); /* kind, device, backend, method, source */
	number(&r, t->accuracy);
	number(&r, t->energy_j);
	number(&r, t->avg_power_w);
	empty(&r, 3); /* peak_power_w, samples, primary */
	integer(&r, t->partial);
	integer(&r, t->estimated);
	integer(&r, (long long)t->parts);
	empty(&r, 1); /* parent */
	tail(&r, m, status, "");
	empty(&r, 4); /* telemetry */
	number(&r, t->uncertainty_j);
	empty(&r, 2); /* short_window, bridged */
	extra(&r, x, t->energy_j, t->uncertainty_j);
	empty(&r, 1); /* counted */
	fputs("\n", f);
}

/* -errno of a failed write, or 0. */
static int status_of(FILE *f)
{
	if (!ferror(f))
		return 0;
	return errno > 0 ? -errno : -EIO;
}

int jst_sink_csv_header(FILE *f)
{
	errno = 0;
	fputs(header, f);
	return status_of(f);
}

int jst_sink_csv_window(FILE *f, const jst_measurement *m, size_t run, const int *status,
                        const struct jst_csv_extra *x)
{
	errno = 0;
	size_t n = jst_measurement_domain_count(m);
	for (size_t i = 0; i < n; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (!jst_measurement_domain(m, i, &d))
			domain_row(f, m, run, status, &d, x);
	}
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		jst_total t = {.size = sizeof t};
		if (!jst_measurement_total(m, (jst_total_kind)k, &t) && t.parts > 0)
			total_row(f, m, run, status, (jst_total_kind)k, &t, x);
	}
	return status_of(f);
}

/* ---- attribution rows (docs/output.md) ---------------------------------------- */

static void attr_row(FILE *f, const jst_measurement *m, size_t run, const int *status,
                     const char *type, const char *name, const struct jst_attr_domain *d,
                     const struct jst_attr_figure *x, double energy, double power,
                     const char *parent, const char *note)
{
	struct row r = {f, 0};
	lead(&r, m, run, type);
	text(&r, name);
	text(&r, jst_kind_name(d->kind));
	text(&r, d->device);
	text(&r, d->backend);
	text(&r, "attribution");
	text(&r, "attribution");
	number(&r, x ? x->accuracy : NAN);
	number(&r, energy);
	number(&r, power);
	empty(&r, 3); /* peak_power_w, samples, primary */
	integer(&r, 0);
	integer(&r, 0);
	empty(&r, 1); /* parts */
	text(&r, parent);
	tail(&r, m, status, note);
	empty(&r, 4); /* telemetry */
	number(&r, x ? x->uncertainty_j : NAN);
	empty(&r, 2);
	fputs("\n", f);
}

int jst_sink_csv_attribution(FILE *f, const jst_measurement *m, size_t run, const int *status,
                             const struct jst_attribution *a)
{
	errno = 0;
	for (size_t d = 0; d < a->ndomains; d++) {
		const struct jst_attr_domain *x = &a->domain[d];
		attr_row(f, m, run, status, "idle", x->name, x, NULL, x->idle_j, x->idle_w, "",
		         x->idle_source);
	}
	for (size_t i = 0; i < a->ntargets; i++)
		for (size_t d = 0; d < a->ndomains; d++) {
			const struct jst_attr_domain *x = &a->domain[d];
			const struct jst_attr_figure *y = &a->figure[i * a->ndomains + d];
			double dur = a->duration_s > 0 ? a->duration_s : NAN;
			attr_row(f, m, run, status, "attributed", a->target[i], x, y, y->energy_j,
			         y->energy_j / dur, x->name, x->model);
			attr_row(f, m, run, status, "attributed-idle", a->target[i], x, NULL,
			         y->idle_j, y->idle_j / dur, x->name, x->idle_source);
		}
	return status_of(f);
}
