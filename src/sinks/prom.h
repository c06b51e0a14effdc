/* Prometheus exposition: the text format (0.0.4) and OpenMetrics 1.0 of one
 * snapshot of the meter's sampler. It formats only; what is in the snapshot
 * is decided by its caller (joulestat serve). */
#ifndef JST_PROM_H
#define JST_PROM_H

#include <stddef.h>
#include <stdio.h>

/* One domain at the sampler's last reading. NaN: not reported. */
struct jst_prom_domain {
	const char *name, *kind, *device, *method, *source, *backend;
	int counted;     /* in the total of all components (jst_domain_info.counted) */
	int lost;        /* stale: its gauges (power, telemetry) are NaN, its energy held */
	double energy_j; /* since the exporter started; never decreases */
	double power_w;
	double accuracy; /* relative error class, 0.05 = 5% */
	double temperature_c;
	double utilization_pct;
	double clock_mhz;
	double power_limit_w;
	double age_s; /* since the sampler read it */
};

struct jst_prom_backend {
	const char *name;
	int up; /* none of its domains failed or stale (only backends measuring here are listed) */
};

struct jst_prom_snapshot {
	const struct jst_prom_domain *domains;
	size_t ndomains;
	const struct jst_prom_backend *backends;
	size_t nbackends;
	const char *version;
	double scrapes; /* served before this one */
};

enum { JST_PROM_TEXT = 0, JST_PROM_OPENMETRICS = 1 };

/* The content type of a format, for the response header. */
const char *jst_prom_content_type(int format);
/* Which format an Accept header asks for: OpenMetrics when it names
 * application/openmetrics-text with a q above zero, else the text format. */
int jst_prom_negotiate(const char *accept);
/* Write the snapshot in a format. 0, or -EIO when f failed. */
int jst_prom_write(FILE *f, const struct jst_prom_snapshot *s, int format);

#endif
