/* The JSON document of `joulestat run` (shape: docs/output.md). */
#include "sinks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *jst_json_number(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
	           : s[0] >= 0xe0 && s[0] <= 0xef ? 3
	           : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
	                                          : 0;
	/* The second byte's range narrows for the leads that could encode an
	 * overlong form, a surrogate or a code point past U+10FFFF. */
	unsigned char lo = s[0] == 0xe0 ? 0xa0 : s[0] == 0xf0 ? 0x90 : 0x80;
	unsigned char hi = s[0] == 0xed ? 0x9f : s[0] == 0xf4 ? 0x8f : 0xbf;
	if (n && (s[1] < lo || s[1] > hi))
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

json_t *jst_json_string(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	/* Not UTF-8 (a Latin-1 file name in argv, a name from firmware): replace
	 * each bad byte with U+FFFD, as a UTF-8 decoder would, and keep the rest
	 * rather than lose the string or the whole document. */
	size_t len = strlen(s);
	char *buf = malloc(3 * len + 1);
	if (!buf)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	char *o = buf;
	while (*p) {
		size_t n = utf8_seq(p);
		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	*o = 0;
	j = json_string(buf);
	free(buf);
	return j;
}

static void put(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v ? v : json_null());
}

static json_t *domain_json(const jst_measurement *m, const jst_domain_energy *d)
{
	jst_domain_energy parent = {.size = sizeof parent};
	json_t *o = json_object();
	put(o, "name", jst_json_string(d->name));
	put(o, "kind", jst_json_string(jst_kind_name(d->kind)));
	put(o, "device", jst_json_string(d->device));
	put(o, "backend", jst_json_string(d->backend));
	put(o, "method", jst_json_string(jst_method_name(d->method)));
	put(o, "source", jst_json_string(d->source));
	put(o, "accuracy", jst_json_number(d->accuracy));
	put(o, "energy_j", jst_json_number(d->energy_j));
	put(o, "uncertainty_j", jst_json_number(d->uncertainty_j));
	put(o, "avg_power_w", jst_json_number(d->avg_power_w));
	put(o, "peak_power_w", jst_json_number(d->peak_power_w));
	put(o, "samples", json_integer((json_int_t)d->samples));
	put(o, "primary", json_boolean(d->primary));
	put(o, "counted", json_boolean(d->counted));
	put(o, "partial", json_boolean(d->partial));
	put(o, "short_window", json_boolean(d->short_window));
	put(o, "bridged", json_boolean(d->bridged));
	put(o, "note", jst_json_string(d->note));
	put(o, "temperature_max_c", jst_json_number(d->temperature_max_c));
	put(o, "utilization_mean_pct", jst_json_number(d->utilization_mean_pct));
	put(o, "clock_mean_mhz", jst_json_number(d->clock_mean_mhz));
	put(o, "power_limit_w", jst_json_number(d->power_limit_w));
	put(o, "parent",
	    d->parent >= 0 && !jst_measurement_domain(m, (size_t)d->parent, &parent)
	        ? jst_json_string(parent.name)
	        : json_null());
	return o;
}

static json_t *total_json(const jst_total *t)
{
	json_t *o = json_object();
	put(o, "energy_j", jst_json_number(t->energy_j));
	put(o, "uncertainty_j", jst_json_number(t->uncertainty_j));
	put(o, "avg_power_w", jst_json_number(t->avg_power_w));
	put(o, "accuracy", jst_json_number(t->accuracy));
	put(o, "parts", json_integer((json_int_t)t->parts));
	put(o, "estimated", json_boolean(t->estimated));
	put(o, "partial", json_boolean(t->partial));
	return o;
}

json_t *jst_sink_json_measurement(const jst_measurement *m)
{
	json_t *o = json_object(), *doms = json_array(), *totals = json_object();
	size_t n = jst_measurement_domain_count(m);
	for (size_t i = 0; i < n; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (!jst_measurement_domain(m, i, &d))
			json_array_append_new(doms, domain_json(m, &d));
	}
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		jst_total t = {.size = sizeof t};
		if (!jst_measurement_total(m, (jst_total_kind)k, &t) && t.parts > 0)
			put(totals, jst_total_name((jst_total_kind)k), total_json(&t));
	}
	put(o, "name", jst_json_string(jst_measurement_name(m)));
	put(o, "begin_ns", json_integer((json_int_t)jst_measurement_begin_ns(m)));
	put(o, "end_ns", json_integer((json_int_t)jst_measurement_end_ns(m)));
	put(o, "duration_s", jst_json_number(jst_measurement_duration(m)));
	put(o, "partial", json_boolean(jst_measurement_partial(m)));
	put(o, "domains", doms);
	put(o, "totals", totals);
	return o;
}

json_t *jst_sink_json_stat(const struct jst_stat *s)
{
	json_t *o = json_object();
	put(o, "mean", jst_json_number(s->mean));
	put(o, "stddev", jst_json_number(s->stddev));
	put(o, "min", jst_json_number(s->min));
	put(o, "max", jst_json_number(s->max));
	put(o, "runs", json_integer((json_int_t)s->n));
	/* Runs whose figure was cut short (partial, or a signal) are left out. */
	put(o, "runs_excluded", json_integer((json_int_t)s->excluded));
	return o;
}

static json_t *energy_power(const struct jst_stat *e, const struct jst_stat *p)
{
	json_t *o = json_object();
	put(o, "energy_j", jst_sink_json_stat(e));
	put(o, "avg_power_w", jst_sink_json_stat(p));
	return o;
}

json_t *jst_sink_json_summary(jst_measurement *const *runs, size_t n, const unsigned char *cut)
{
	struct jst_stat e, p, dur;
	json_t *o = json_object(), *doms = json_array(), *totals = json_object();
	size_t nd = n ? jst_measurement_domain_count(runs[0]) : 0;
	for (size_t i = 0; i < nd; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(runs[0], i, &d))
			continue;
		jst_stat_domain(runs, n, cut, i, 0, &e);
		jst_stat_domain(runs, n, cut, i, 1, &p);
		json_t *dj = energy_power(&e, &p);
		put(dj, "accuracy", jst_json_number(jst_stat_domain_accuracy(runs, n, cut, i)));
		put(dj, "name", jst_json_string(d.name));
		put(dj, "device", jst_json_string(d.device));
		put(dj, "backend", jst_json_string(d.backend));
		put(dj, "method", jst_json_string(jst_method_name(d.method)));
		put(dj, "source", jst_json_string(d.source));
		put(dj, "primary", json_boolean(d.primary));
		put(dj, "counted", json_boolean(d.counted));
		json_array_append_new(doms, dj);
	}
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		if (!jst_stat_total(runs, n, cut, (jst_total_kind)k, 0, &e))
			continue;
		jst_stat_total(runs, n, cut, (jst_total_kind)k, 1, &p);
		json_t *tj = energy_power(&e, &p);
		put(tj, "accuracy",
		    jst_json_number(jst_stat_total_accuracy(runs, n, cut, (jst_total_kind)k)));
		put(totals, jst_total_name((jst_total_kind)k), tj);
	}
	jst_stat_duration(runs, n, cut, &dur);
	put(o, "runs", json_integer((json_int_t)n));
	put(o, "duration_s", jst_sink_json_stat(&dur));
	put(o, "domains", doms);
	put(o, "totals", totals);
	return o;
}

int jst_sink_json_write(FILE *f, const json_t *doc)
{
	if (!doc)
		return -ENOMEM;
	errno = 0;
	/* 15 significant digits: all a double holds exactly, without binary noise
	 * such as 0.050000000000000003. */
	if (json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) || fputc('\n', f) == EOF ||
	    fflush(f))
		return errno ? -errno : -EIO;
	return 0;
}
