/* Reading a run's JSON (docs/output.md) into the report's model: bars of
 * energy over the runs, traces of power over time, bands for runs and -I
 * intervals. Bad input is an error naming the key, never a guess. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Any number read: 1e18 ns is 31 years of CLOCK_MONOTONIC, 1e18 J 280 TWh.
 * Beyond it sums could overflow, and an instant would not fit an int64_t. */
#define JST_REPORT_MAX 1e18

struct ctx {
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (c->errlen)
		vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* An optional member of one JSON type: 0 with *out (NULL when absent or null),
 * or -EINVAL when present with another type. */
static int member(struct ctx *c, json_t *obj, const char *where, const char *key, json_type type,
                  json_t **out)
{
	static const char *const names[] = {"an object", "an array", "a string", "an integer",
	                                    "a number",  "true",     "false",    "null"};
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (type == JSON_REAL ? !json_is_number(v) : json_typeof(v) != type)
		return fail(c, "%s%s: not %s", where, key, names[type]);
	*out = v;
	return 0;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : dflt;
}

/* A number member: its value, NaN when absent or null; -EINVAL otherwise. */
static int number(struct ctx *c, json_t *obj, const char *where, const char *key, double *out)
{
	json_t *v;
	int rc = member(c, obj, where, key, JSON_REAL, &v);
	*out = v ? json_number_value(v) : NAN;
	if (!rc && v && !(fabs(*out) <= JST_REPORT_MAX))
		return fail(c, "%s%s: %g is out of range", where, key, *out);
	return rc;
}

/* A reading's instant and power, as the series holds them. */
static int reading(struct ctx *c, json_t *tv, json_t *pv, const char *where, size_t k, int64_t *t,
                   double *w)
{
	if (!json_is_number(tv) || !(json_is_number(pv) || json_is_null(pv)))
		return fail(c, "%st_ns[%zu], power_w[%zu]: not a number, and a number or null",
		            where, k, k);
	double tn = json_number_value(tv);
	*w = json_is_null(pv) ? NAN : json_number_value(pv);
	if (!(tn >= 0 && tn <= JST_REPORT_MAX))
		return fail(c, "%st_ns[%zu]: %g is out of range", where, k, tn);
	if (!isnan(*w) && !(fabs(*w) <= JST_REPORT_MAX))
		return fail(c, "%spower_w[%zu]: %g is out of range", where, k, *w);
	*t = (int64_t)tn;
	return 0;
}

static int window_edges(struct ctx *c, json_t *w, const char *where, int64_t *b, int64_t *e)
{
	double begin, end;
	int rc;
	if ((rc = number(c, w, where, "begin_ns", &begin)) ||
	    (rc = number(c, w, where, "end_ns", &end)))
		return rc;
	if (isnan(begin))
		return fail(c, "%sbegin_ns: missing", where);
	if (isnan(end))
		return fail(c, "%send_ns: missing", where);
	if (begin < 0)
		return fail(c, "%sbegin_ns: negative", where);
	if (end < begin)
		return fail(c, "%send_ns: %.0f, before begin_ns %.0f", where, end, begin);
	*b = (int64_t)begin;
	*e = (int64_t)end;
	return 0;
}

/* A domain is its name and how it is measured: with --cross-validate one
 * name (gpu0) has a figure per method, told apart by backend and source. */
struct domain_key {
	const char *name, *backend, *method, *source;
};

static struct domain_key domain_key(json_t *d)
{
	struct domain_key k = {json_string_value(json_object_get(d, "name")),
	                       str_or(d, "backend", ""), str_or(d, "method", ""),
	                       str_or(d, "source", "")};
	return k;
}

static int key_is(const struct jst_report_bar *b, const struct domain_key *k)
{
	return !b->total && k->name && !strcmp(b->name, k->name) &&
	       !strcmp(b->backend, k->backend) && !strcmp(b->method, k->method) &&
	       !strcmp(b->source, k->source);
}

static struct jst_report_bar *bar_find(struct jst_report *r, const struct domain_key *k)
{
	for (size_t i = 0; i < r->nbars; i++)
		if (key_is(&r->bars[i], k))
			return &r->bars[i];
	return NULL;
}

static struct jst_report_bar *total_find(struct jst_report *r, const char *name)
{
	for (size_t i = 0; i < r->nbars; i++)
		if (r->bars[i].total && !strcmp(r->bars[i].name, name))
			return &r->bars[i];
	return NULL;
}

static struct jst_report_bar *bar_add(struct jst_report *r, size_t *cap)
{
	if (r->nbars == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct jst_report_bar *nb = realloc(r->bars, ncap * sizeof *nb);
		if (!nb)
			return NULL;
		r->bars = nb;
		*cap = ncap;
	}
	struct jst_report_bar *b = &r->bars[r->nbars++];
	memset(b, 0, sizeof *b);
	b->avg_power_w = b->peak_power_w = NAN;
	b->min_j = INFINITY;
	b->max_j = -INFINITY;
	return b;
}

/* Fold one run's figure (a domain or a total) into its bar. */
static int bar_fold(struct ctx *c, struct jst_report_bar *b, json_t *fig, const char *where)
{
	double e, u, avg, peak;
	int rc;
	if ((rc = number(c, fig, where, "energy_j", &e)) ||
	    (rc = number(c, fig, where, "uncertainty_j", &u)) ||
	    (rc = number(c, fig, where, "avg_power_w", &avg)) ||
	    (rc = number(c, fig, where, "peak_power_w", &peak)))
		return rc;
	if (isnan(e))
		return fail(c, "%senergy_j: missing", where);
	if (!isnan(u) && u < 0)
		return fail(c, "%suncertainty_j: negative", where);
	size_t n = b->nruns;
	b->mean_j += (e - b->mean_j) / (double)(n + 1);
	/* Older files have no uncertainty_j: the class alone then. */
	if (isnan(u))
		u = fabs(e) * (isnan(b->accuracy) ? 0 : b->accuracy);
	b->uncertainty_j += (u - b->uncertainty_j) / (double)(n + 1);
	if (!isnan(avg))
		b->avg_power_w = isnan(b->avg_power_w)
		                     ? avg
		                     : b->avg_power_w + (avg - b->avg_power_w) / (double)(n + 1);
	if (!isnan(peak) && (isnan(b->peak_power_w) || peak > b->peak_power_w))
		b->peak_power_w = peak;
	b->min_j = fmin(b->min_j, e);
	b->max_j = fmax(b->max_j, e);
	if (n < sizeof b->runs_j / sizeof b->runs_j[0])
		b->runs_j[n] = e;
	b->nruns = n + 1;
	if (json_is_true(json_object_get(fig, "partial")))
		b->partial = 1;
	if (json_is_true(json_object_get(fig, "estimated")))
		b->estimated = 1;
	return 0;
}

static int fold_run(struct ctx *c, struct jst_report *r, json_t *run, size_t ri, size_t *cap)
{
	static const char *const total_order[] = {"total", "gpu", "cpu", "dram", "system"};
	char where[96];
	json_t *domains, *totals;
	int rc;
	snprintf(where, sizeof where, "runs[%zu].", ri);
	if ((rc = member(c, run, where, "domains", JSON_ARRAY, &domains)) ||
	    (rc = member(c, run, where, "totals", JSON_OBJECT, &totals)))
		return rc;
	size_t i;
	json_t *d;
	json_array_foreach(domains, i, d)
	{
		snprintf(where, sizeof where, "runs[%zu].domains[%zu].", ri, i);
		const char *name = json_string_value(json_object_get(d, "name"));
		if (!json_is_object(d) || !name)
			return fail(c, "%.*s: not a domain (an object with a name)",
			            (int)strlen(where) - 1, where);
		struct domain_key key = domain_key(d);
		struct jst_report_bar *b = bar_find(r, &key);
		if (!b) {
			if (!(b = bar_add(r, cap)))
				return -ENOMEM;
			b->name = name;
			b->kind = str_or(d, "kind", "other");
			b->device = str_or(d, "device", name);
			b->backend = key.backend;
			b->method = key.method;
			b->source = key.source;
			b->note = str_or(d, "note", "");
			json_t *p = json_object_get(d, "primary");
			b->primary = !p || json_is_true(p);
			json_t *counted = json_object_get(d, "counted");
			b->counted = json_is_boolean(counted) ? json_is_true(counted) : -1;
			b->estimated = !strcmp(b->method, "estimate");
			if ((rc = number(c, d, where, "accuracy", &b->accuracy)))
				return rc;
		}
		if ((rc = bar_fold(c, b, d, where)))
			return rc;
	}
	/* The usual totals in a fixed order, then any other a newer writer adds. */
	size_t nknown = sizeof total_order / sizeof *total_order;
	const char *key;
	json_t *t;
	for (size_t k = 0; totals && k <= nknown; k++) {
		json_object_foreach(totals, key, t)
		{
			size_t known = 0;
			while (known < nknown && strcmp(key, total_order[known]) != 0)
				known++;
			if (known != k)
				continue;
			snprintf(where, sizeof where, "runs[%zu].totals.%s.", ri, key);
			if (!json_is_object(t))
				return fail(c, "%.*s: not an object", (int)strlen(where) - 1,
				            where);
			struct jst_report_bar *b = total_find(r, key);
			if (!b) {
				if (!(b = bar_add(r, cap)))
					return -ENOMEM;
				b->name = key;
				b->kind = key;
				b->device = b->backend = b->method = b->source = b->note = "";
				b->total = 1;
				b->primary = 1;
				if ((rc = number(c, t, where, "accuracy", &b->accuracy)))
					return rc;
			}
			if ((rc = bar_fold(c, b, t, where)))
				return rc;
		}
	}
	return 0;
}

static int bar_order(const void *a, const void *b)
{
	const struct jst_report_bar *x = a, *y = b;
	if (x->total != y->total)
		return x->total - y->total;
	if (x->total) /* totals stay in the order they were found */
		return x->group < y->group ? -1 : x->group > y->group;
	if (x->device_index != y->device_index)
		return x->device_index < y->device_index ? -1 : 1;
	if (x->primary != y->primary)
		return y->primary - x->primary;
	return x->group < y->group ? -1 : x->group > y->group; /* found first, first */
}

/* One colour per physical device, and the device's bars side by side. */
static void group_bars(struct jst_report *r)
{
	for (size_t i = 0; i < r->nbars; i++)
		r->bars[i].group = r->bars[i].order = i; /* the order found, kept by the sort */
	for (size_t i = 0; i < r->nbars; i++) {
		struct jst_report_bar *b = &r->bars[i];
		if (b->total)
			continue;
		size_t j = 0;
		while (j < i && (r->bars[j].total || strcmp(r->bars[j].device, b->device) != 0))
			j++;
		b->device_index = j < i ? r->bars[j].device_index : r->ndevices++;
	}
	if (r->nbars) /* qsort takes no NULL, even for nothing */
		qsort(r->bars, r->nbars, sizeof *r->bars, bar_order);
	for (size_t i = 0; i < r->nbars; i++) {
		struct jst_report_bar *b = &r->bars[i];
		b->group = b->total ? r->ndevices : b->device_index;
		/* Its place among its device's methods: 0 the counted one. */
		b->rank = i && !b->total && r->bars[i - 1].group == b->group
		              ? r->bars[i - 1].rank + 1
		              : 0;
	}
}

/* A trace of n points for domain, drawn like its bar b (NULL: a domain with
 * readings but no figure, a device of its own). */
static struct jst_report_trace *trace_add(struct jst_report *r, const char *domain,
                                          const struct jst_report_bar *b, size_t n)
{
	struct jst_report_trace *t = &r->traces[r->ntraces];
	memset(t, 0, sizeof *t);
	t->t_ns = malloc((n ? n : 1) * sizeof *t->t_ns);
	t->power_w = malloc((n ? n : 1) * sizeof *t->power_w);
	if (!t->t_ns || !t->power_w) {
		free(t->t_ns);
		free(t->power_w);
		return NULL;
	}
	r->ntraces++;
	t->domain = domain;
	t->kind = b ? b->kind : "other";
	t->method = b ? b->method : "";
	t->source = b ? b->source : "";
	t->device = b ? b->device : domain;
	t->primary = b ? b->primary : 1;
	t->device_index = b ? b->device_index : r->ndevices++;
	t->rank = b ? b->rank : 0;
	return t;
}

/* The bar a series belongs to: by its source and method when it says them,
 * else the k-th domain of that name (the series come in the meter's order,
 * as the domains do) for the k-th series of that name. */
static const struct jst_report_bar *series_bar(const struct jst_report *r, json_t *series, size_t i,
                                               const char *name)
{
	const char *source = json_string_value(json_object_get(series, "source"));
	const char *method = json_string_value(json_object_get(series, "method"));
	size_t k = 0;
	for (size_t j = 0; j < i; j++) {
		const char *other =
		    json_string_value(json_object_get(json_array_get(r->series, j), "domain"));
		k += other && !strcmp(other, name);
	}
	const struct jst_report_bar *found = NULL;
	size_t best = SIZE_MAX;
	for (size_t j = 0; j < r->nbars; j++) {
		const struct jst_report_bar *b = &r->bars[j];
		if (b->total || strcmp(b->name, name) != 0)
			continue;
		if (source || method) {
			if ((!source || !strcmp(source, b->source)) &&
			    (!method || !strcmp(method, b->method)))
				return b;
			continue;
		}
		/* The k-th of the name in the order found. */
		size_t before = 0;
		for (size_t m = 0; m < r->nbars; m++)
			before += !r->bars[m].total && r->bars[m].order < b->order &&
			          !strcmp(r->bars[m].name, name);
		if (before == k && b->order < best)
			found = b, best = b->order;
	}
	return found;
}

static int traces_from_series(struct ctx *c, struct jst_report *r, json_t *series)
{
	size_t i;
	json_t *s;
	r->series = series;
	if (!(r->traces = calloc(json_array_size(series) + 1, sizeof *r->traces)))
		return -ENOMEM;
	json_array_foreach(series, i, s)
	{
		char where[64];
		json_t *t, *p, *e;
		int rc;
		snprintf(where, sizeof where, "series[%zu].", i);
		const char *name = json_string_value(json_object_get(s, "domain"));
		if (!json_is_object(s) || !name)
			return fail(c, "series[%zu]: not a series (an object with a domain)", i);
		if ((rc = member(c, s, where, "t_ns", JSON_ARRAY, &t)) ||
		    (rc = member(c, s, where, "power_w", JSON_ARRAY, &p)) ||
		    (rc = member(c, s, where, "energy_j", JSON_ARRAY, &e)))
			return rc;
		if (!t || !p)
			return fail(c, "%st_ns, power_w: missing", where);
		size_t n = json_array_size(t);
		if (json_array_size(p) != n || (e && json_array_size(e) != n))
			return fail(c, "%st_ns, energy_j and power_w differ in length", where);
		struct jst_report_trace *tr = trace_add(r, name, series_bar(r, s, i, name), n);
		if (!tr)
			return -ENOMEM;
		const char *kind = json_string_value(json_object_get(s, "kind"));
		if (kind)
			tr->kind = kind;
		for (size_t k = 0; k < n; k++) {
			if ((rc = reading(c, json_array_get(t, k), json_array_get(p, k), where, k,
			                  &tr->t_ns[k], &tr->power_w[k])))
				return rc;
			if (k && tr->t_ns[k] < tr->t_ns[k - 1])
				return fail(c, "%st_ns[%zu]: goes back in time", where, k);
		}
		tr->n = n;
	}
	r->power_source = JST_REPORT_POWER_SERIES;
	return 0;
}

/* Steps of average power, one per window (the -I rows, else the runs). */
static int traces_from_windows(struct ctx *c, struct jst_report *r, json_t *windows,
                               const char *what)
{
	size_t nwin = json_array_size(windows), ndom = 0;
	for (size_t i = 0; i < r->nbars; i++)
		ndom += !r->bars[i].total;
	if (!(r->traces = calloc(ndom + 1, sizeof *r->traces)))
		return -ENOMEM;
	for (size_t i = 0; i < r->nbars; i++) {
		if (r->bars[i].total)
			continue;
		struct jst_report_trace *tr = trace_add(r, r->bars[i].name, &r->bars[i], 2 * nwin);
		if (!tr)
			return -ENOMEM;
		tr->steps = 1;
		for (size_t w = 0; w < nwin; w++) {
			json_t *win = json_array_get(windows, w), *doms;
			char where[64];
			int64_t b, e;
			int rc;
			snprintf(where, sizeof where, "%s[%zu].", what, w);
			if (!json_is_object(win))
				return fail(c, "%s[%zu]: not an object", what, w);
			if ((rc = window_edges(c, win, where, &b, &e)))
				return rc;
			if ((rc = member(c, win, where, "domains", JSON_ARRAY, &doms)))
				return rc;
			double pw = NAN;
			size_t k;
			json_t *d;
			json_array_foreach(doms, k, d)
			{
				struct domain_key key = domain_key(d);
				if (!key_is(&r->bars[i], &key))
					continue;
				if ((rc = number(c, d, where, "avg_power_w", &pw)))
					return rc;
			}
			tr->t_ns[tr->n] = b;
			tr->power_w[tr->n++] = pw;
			tr->t_ns[tr->n] = e;
			tr->power_w[tr->n++] = pw;
		}
	}
	return 0;
}

static int bands_add(struct ctx *c, struct jst_report *r, json_t *windows, const char *what,
                     int interval)
{
	size_t i;
	json_t *w;
	json_array_foreach(windows, i, w)
	{
		char where[64];
		double run;
		int rc;
		snprintf(where, sizeof where, "%s[%zu].", what, i);
		if (!json_is_object(w))
			return fail(c, "%s[%zu]: not an object", what, i);
		struct jst_report_band *b = &r->bands[r->nbands];
		if ((rc = window_edges(c, w, where, &b->begin_ns, &b->end_ns)))
			return rc;
		if ((rc = number(c, w, where, "run", &run)))
			return rc;
		b->name = str_or(w, "name", "");
		b->interval = interval;
		b->run = interval ? (isnan(run) ? 1 : (int)run) : (int)i + 1;
		r->nbands++;
	}
	return 0;
}

static void time_span(struct jst_report *r)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (size_t i = 0; i < r->nbands; i++) {
		lo = r->bands[i].begin_ns < lo ? r->bands[i].begin_ns : lo;
		hi = r->bands[i].end_ns > hi ? r->bands[i].end_ns : hi;
	}
	for (size_t i = 0; i < r->ntraces; i++)
		for (size_t k = 0; k < r->traces[i].n; k++) {
			int64_t t = r->traces[i].t_ns[k];
			lo = t < lo ? t : lo;
			hi = t > hi ? t : hi;
		}
	if (lo > hi)
		lo = hi = 0;
	r->t0_ns = lo;
	r->t1_ns = hi;
}

static int parse(struct ctx *c, struct jst_report *r)
{
	json_t *doc = r->doc, *runs, *intervals, *series, *exit_status;
	int rc;
	if (!json_is_object(doc))
		return fail(c, "not a JSON object");
	if ((rc = member(c, doc, "", "runs", JSON_ARRAY, &runs)) ||
	    (rc = member(c, doc, "", "intervals", JSON_ARRAY, &intervals)) ||
	    (rc = member(c, doc, "", "series", JSON_ARRAY, &series)) ||
	    (rc = member(c, doc, "", "command", JSON_ARRAY, &r->command)) ||
	    (rc = member(c, doc, "", "identity", JSON_OBJECT, &r->identity)) ||
	    (rc = member(c, doc, "", "carbon", JSON_OBJECT, &r->carbon)) ||
	    (rc = member(c, doc, "", "exit_status", JSON_INTEGER, &exit_status)))
		return rc;
	if (!json_array_size(runs) && !json_array_size(intervals) && !json_array_size(series))
		return fail(c, "no runs, intervals or series: not the JSON of `joulestat run`");
	r->joulestat = str_or(doc, "joulestat", "");
	r->partial = json_is_true(json_object_get(doc, "partial"));
	r->exit_status = exit_status ? (int)json_integer_value(exit_status) : -1;
	r->nruns = json_array_size(runs);
	r->nintervals = json_array_size(intervals);

	size_t cap = 0, i;
	json_t *run;
	/* As in the JSON's summary, a run cut short says nothing of what the
	 * command spends: left out of the bars when a whole run is there. */
	size_t whole = 0;
	json_array_foreach(runs, i, run)
	{
		if (!json_is_object(run))
			return fail(c, "runs[%zu]: not an object", i);
		whole += !json_is_true(json_object_get(run, "partial"));
	}
	json_array_foreach(runs, i, run)
	{
		if (whole && json_is_true(json_object_get(run, "partial"))) {
			r->runs_left_out++;
			continue;
		}
		if ((rc = fold_run(c, r, run, i, &cap)))
			return rc;
	}
	group_bars(r);

	if (!(r->bands = calloc(r->nruns + r->nintervals + 1, sizeof *r->bands)))
		return -ENOMEM;
	if ((rc = bands_add(c, r, runs, "runs", 0)) ||
	    (rc = bands_add(c, r, intervals, "intervals", 1)))
		return rc;

	if (json_array_size(series))
		rc = traces_from_series(c, r, series);
	else if (r->nintervals) {
		r->power_source = JST_REPORT_POWER_INTERVALS;
		rc = traces_from_windows(c, r, intervals, "intervals");
	} else {
		r->power_source = JST_REPORT_POWER_RUNS;
		rc = traces_from_windows(c, r, runs, "runs");
	}
	if (rc)
		return rc;
	time_span(r);
	return 0;
}

int jst_report_parse(json_t *doc, struct jst_report **out, char *err, size_t errlen)
{
	struct ctx c = {err, errlen};
	struct jst_report *r = calloc(1, sizeof *r);
	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->doc = json_incref(doc);
	int rc = parse(&c, r);
	if (rc) {
		if (rc == -ENOMEM && errlen)
			snprintf(err, errlen, "out of memory");
		jst_report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void jst_report_free(struct jst_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ntraces; i++) {
		free(r->traces[i].t_ns);
		free(r->traces[i].power_w);
	}
	free(r->traces);
	free(r->bars);
	free(r->bands);
	json_decref(r->doc);
	free(r);
}
