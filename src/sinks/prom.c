/* Prometheus exposition of a sampler snapshot (prom.h): families in a fixed
 * order, one sample per domain, label values escaped as both formats say. */
#include "prom.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *jst_prom_content_type(int format)
{
	return format == JST_PROM_OPENMETRICS
	           ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
	           : "text/plain; version=0.0.4; charset=utf-8";
}

/* The q of one media range's parameters ("; q=0.5; version=1.0.0"): 1 unless given. */
static double q_of(const char *params, size_t n)
{
	const char *p = params, *end = params + n;
	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		if (end - p > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char buf[16];
			size_t k = (size_t)(end - p - 2) < sizeof buf - 1 ? (size_t)(end - p - 2)
			                                                  : sizeof buf - 1;
			memcpy(buf, p + 2, k);
			buf[k] = '\0';
			char *e;
			double q = strtod(buf, &e);
			return e == buf ? 1 : q;
		}
		while (p < end && *p != ';')
			p++;
	}
	return 1;
}

int jst_prom_negotiate(const char *accept)
{
	static const char om[] = "application/openmetrics-text";
	if (!accept)
		return JST_PROM_TEXT;
	for (const char *p = accept; *p;) {
		size_t n = strcspn(p, ",");
		const char *t = p;
		while (t < p + n && isspace((unsigned char)*t))
			t++;
		size_t tn = strcspn(t, ";,");
		if (tn >= sizeof om - 1 && !strncasecmp(t, om, sizeof om - 1) &&
		    (tn == sizeof om - 1 || isspace((unsigned char)t[sizeof om - 1])) &&
		    q_of(t + tn, n - (size_t)(t - p) - tn) > 0)
			return JST_PROM_OPENMETRICS;
		p += n + (p[n] == ',');
	}
	return JST_PROM_TEXT;
}

/* A label value: backslash, double quote and line feed escaped (both formats). */
static void label_value(FILE *f, const char *s)
{
	while (s && *s) {
		/* Runs of plain characters in one write: this is most of a scrape. */
		size_t n = strcspn(s, "\\\"\n");
		fwrite_unlocked(s, 1, n, f);
		s += n;
		if (!*s)
			break;
		fputs_unlocked(*s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", f);
		s++;
	}
}

static void labels(FILE *f, const struct jst_prom_domain *d)
{
	static const char *const keys[] = {"{domain=\"",   "\",kind=\"",   "\",device=\"",
	                                   "\",method=\"", "\",source=\"", "\",backend=\""};
	const char *vals[] = {d->name, d->kind, d->device, d->method, d->source, d->backend};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		fputs_unlocked(keys[i], f);
		label_value(f, vals[i]);
	}
	fputs_unlocked(d->counted ? "\",counted=\"1\"}" : "\",counted=\"0\"}", f);
}

/* Shortest text that reads back as the same double (%.17g is exact; most
 * figures need fewer digits). */
static void number(FILE *f, double v)
{
	if (isnan(v)) {
		fputs("NaN", f);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	char buf[32];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs_unlocked(buf, f);
}

struct family {
	const char *name; /* without _total for counters */
	const char *type;
	const char *unit; /* OpenMetrics UNIT, or NULL */
	const char *help;
	size_t field; /* offset of the double in jst_prom_domain */
	double scale;
};

#define FIELD(f) offsetof(struct jst_prom_domain, f)

static const struct family families[] = {
    {"joulestat_energy_joules", "counter", "joules",
     "Energy since the exporter started, from the meter's sampler; never decreases (device "
     "counter resets are bridged by the core).",
     FIELD(energy_j), 1},
    {"joulestat_power_watts", "gauge", "watts", "Power at the sampler's last reading.",
     FIELD(power_w), 1},
    {"joulestat_accuracy_ratio", "gauge", "ratio",
     "Typical relative error of the domain's method (0.05 = 5%).", FIELD(accuracy), 1},
    {"joulestat_temperature_celsius", "gauge", "celsius", "Device temperature.",
     FIELD(temperature_c), 1},
    {"joulestat_utilization_ratio", "gauge", "ratio", "Device utilisation, 0 to 1.",
     FIELD(utilization_pct), 0.01},
    {"joulestat_clock_hertz", "gauge", "hertz", "SM / core clock.", FIELD(clock_mhz), 1e6},
    {"joulestat_power_limit_watts", "gauge", "watts", "Enforced power limit.", FIELD(power_limit_w),
     1},
    {"joulestat_sample_age_seconds", "gauge", "seconds",
     "Time since the sampler last read the domain.", FIELD(age_s), 1},
};

static void header(FILE *f, const struct family *fam, int om)
{
	/* OpenMetrics names a counter's family without _total; the 0.0.4 text
	 * format has no families apart from samples, so HELP and TYPE name the
	 * sample (promtool check metrics says "no help text" otherwise). */
	const char *total = !om && !strcmp(fam->type, "counter") ? "_total" : "";
	fprintf(f, "# HELP %s%s %s\n# TYPE %s%s %s\n", fam->name, total, fam->help, fam->name,
	        total, fam->type);
	if (om && fam->unit)
		fprintf(f, "# UNIT %s %s\n", fam->name, fam->unit);
}

static int write_locked(FILE *f, const struct jst_prom_snapshot *s, int format);

int jst_prom_write(FILE *f, const struct jst_prom_snapshot *s, int format)
{
	/* One lock for the whole exposition, not one per character written. */
	flockfile(f);
	int rc = write_locked(f, s, format);
	funlockfile(f);
	return rc;
}

static int write_locked(FILE *f, const struct jst_prom_snapshot *s, int format)
{
	int om = format == JST_PROM_OPENMETRICS;
	for (size_t k = 0; k < sizeof families / sizeof families[0]; k++) {
		const struct family *fam = &families[k];
		int counter = !strcmp(fam->type, "counter");
		int any = 0;
		for (size_t i = 0; i < s->ndomains; i++) {
			double v = *(const double *)((const char *)&s->domains[i] + fam->field);
			/* A family no domain reports is left out, not shown as NaN. */
			if (isnan(v))
				continue;
			if (!any++)
				header(f, fam, om);
			fputs_unlocked(fam->name, f);
			if (counter)
				fputs_unlocked("_total", f);
			labels(f, &s->domains[i]);
			fputc_unlocked(' ', f);
			/* Divide rather than multiply by a fraction: 41 % is 0.41, not
			 * 0.41000000000000003. */
			number(f, fam->scale < 1 ? v / (1 / fam->scale) : v * fam->scale);
			fputc_unlocked('\n', f);
		}
	}
	fputs("# HELP joulestat_up Whether a backend is measuring: available, and none of its "
	      "domains failed or stale.\n# TYPE joulestat_up gauge\n",
	      f);
	for (size_t i = 0; i < s->nbackends; i++) {
		fputs("joulestat_up{backend=\"", f);
		label_value(f, s->backends[i].name);
		fprintf(f, "\"} %d\n", s->backends[i].up);
	}
	fputs("# HELP joulestat_build_info The joulestat version serving.\n"
	      "# TYPE joulestat_build_info gauge\njoulestat_build_info{version=\"",
	      f);
	label_value(f, s->version);
	fputs("\"} 1\n", f);
	const char *total = om ? "" : "_total";
	fprintf(f,
	        "# HELP joulestat_scrapes%s Scrapes served before this one.\n"
	        "# TYPE joulestat_scrapes%s counter\njoulestat_scrapes_total %.0f\n",
	        total, total, s->scrapes);
	if (om)
		fputs("# EOF\n", f);
	return ferror(f) ? -EIO : 0;
}
