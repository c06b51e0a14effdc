/* The table of `joulestat top` (top_view.h). */
#include "top_view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *jst_top_header(void)
{
	return "DOMAIN        KIND      BACKEND     POWER W    ENERGY J  ACCURACY   TEMP C  "
	       "UTIL %  CLOCK MHz";
}

const char *jst_top_sort_name(enum jst_top_sort by)
{
	return by == JST_TOP_BY_POWER ? "power" : by == JST_TOP_BY_ENERGY ? "energy" : "name";
}

/* qsort is not stable: the meter's order breaks ties. */
struct key {
	const struct jst_prom_snapshot *s;
	enum jst_top_sort by;
};
static _Thread_local struct key sort_key;

static double value(const struct jst_prom_domain *d, enum jst_top_sort by)
{
	double v = by == JST_TOP_BY_POWER ? d->power_w : d->energy_j;
	return isnan(v) ? -INFINITY : v;
}

static int cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct jst_prom_domain *x = &sort_key.s->domains[i], *y = &sort_key.s->domains[j];
	if (sort_key.by == JST_TOP_BY_NAME) {
		int c = strcmp(x->name, y->name);
		if (c)
			return c;
	} else {
		double u = value(x, sort_key.by), v = value(y, sort_key.by);
		if (u != v)
			return u > v ? -1 : 1;
	}
	return i < j ? -1 : i > j;
}

void jst_top_order(const struct jst_prom_snapshot *s, enum jst_top_sort by, size_t *order)
{
	for (size_t i = 0; i < s->ndomains; i++)
		order[i] = i;
	sort_key = (struct key){s, by};
	qsort(order, s->ndomains, sizeof *order, cmp);
}

static void cell(char *buf, size_t len, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v);
}

void jst_top_line(const struct jst_prom_domain *d, char *buf, size_t len)
{
	char p[16], e[24], a[16], t[16], u[16], c[16];
	cell(p, sizeof p, "%.2f", d->power_w);
	cell(e, sizeof e, "%.3f", d->energy_j);
	cell(a, sizeof a, "± %.0f%%", d->accuracy * 100);
	cell(t, sizeof t, "%.0f", d->temperature_c);
	cell(u, sizeof u, "%.0f", d->utilization_pct);
	cell(c, sizeof c, "%.0f", d->clock_mhz);
	/* "±" is two bytes and one column: pad by columns. */
	snprintf(buf, len, "%-13.13s %-9.9s %-9.9s %9s %11s %*s %8s %7s %10s%s", d->name, d->kind,
	         d->backend, p, e, 9 + (strstr(a, "±") ? 1 : 0), a, t, u, c,
	         d->lost      ? "  (lost)"
	         : d->counted ? ""
	                      : "  (not in total)");
}

void jst_top_total(const struct jst_prom_snapshot *s, char *buf, size_t len)
{
	double p = 0, e = 0, weighted = 0;
	size_t parts = 0;
	for (size_t i = 0; i < s->ndomains; i++) {
		const struct jst_prom_domain *d = &s->domains[i];
		if (!d->counted)
			continue;
		parts++;
		if (!isnan(d->power_w))
			p += d->power_w;
		e += d->energy_j;
		weighted += d->energy_j * d->accuracy;
	}
	char a[16];
	cell(a, sizeof a, "± %.0f%%", e > 0 ? 100 * weighted / e : NAN);
	char n[24];
	snprintf(n, sizeof n, "%zu domain%s", parts, parts == 1 ? "" : "s");
	snprintf(buf, len, "%-13s %-19s %9.2f %11.3f %*s", "total", n, p, e,
	         9 + (strstr(a, "±") ? 1 : 0), a);
}
