/* Snapshots of the meter's sampler for serve and top (live.h). */
#include "live.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A domain whose latest sample is older than this many sampler periods (and
 * at least JST_LIVE_STALE_MIN_S) is stale: the sampler stopped pushing it
 * (a device gone) or cannot keep up. */
#define JST_LIVE_STALE_PERIODS 5
#define JST_LIVE_STALE_MIN_S 2.0

struct jst_live {
	jst_meter *m;
	size_t nd, nb;
	struct jst_prom_domain *doms;
	double *period_s;
	int *backend_of; /* index into bes */
	struct jst_prom_backend *bes;
	int *available;
	struct jst_prom_snapshot snap;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void jst_cli_live_options(struct jst_cli_common *c)
{
	if (c->noptions >= JST_CLI_OPTIONS_MAX)
		return;
	/* First, so that any --option given comes after it and wins. */
	memmove(&c->options[1], &c->options[0], c->noptions * sizeof c->options[0]);
	c->options[0] = "series_capacity=16";
	c->noptions++;
}

int jst_live_open(jst_meter *m, struct jst_live **out)
{
	struct jst_live *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->m = m;
	l->nd = jst_meter_domain_count(m);
	l->nb = jst_meter_backend_count(m);
	l->doms = calloc(l->nd + 1, sizeof *l->doms);
	l->period_s = calloc(l->nd + 1, sizeof *l->period_s);
	l->backend_of = calloc(l->nd + 1, sizeof *l->backend_of);
	l->bes = calloc(l->nb + 1, sizeof *l->bes);
	l->available = calloc(l->nb + 1, sizeof *l->available);
	if (!l->doms || !l->period_s || !l->backend_of || !l->bes || !l->available) {
		jst_live_close(l);
		return -ENOMEM;
	}
	/* Only the backends that measure a domain on this machine: one absent
	 * here (no AMD GPU), or whose domains another method measures better, is
	 * not down, and an alert on joulestat_up == 0 must mean a
	 * source that was measuring stopped. */
	size_t all = l->nb;
	l->nb = 0;
	for (size_t b = 0; b < all; b++) {
		jst_backend_info bi = {.size = sizeof bi};
		int owns = 0;
		for (size_t i = 0; i < l->nd && !owns; i++) {
			jst_domain_info di = {.size = sizeof di};
			owns = jst_meter_domain(m, i, &di) == 0 &&
			       jst_meter_backend(m, b, &bi) == 0 && !strcmp(di.backend, bi.name);
		}
		if (owns && jst_meter_backend(m, b, &bi) == 0 && bi.available) {
			l->bes[l->nb].name = bi.name;
			l->available[l->nb++] = 1;
		}
	}
	for (size_t i = 0; i < l->nd; i++) {
		jst_domain_info di = {.size = sizeof di};
		struct jst_prom_domain *d = &l->doms[i];
		l->backend_of[i] = -1;
		if (jst_meter_domain(m, i, &di)) {
			*d = (struct jst_prom_domain){.name = "?",
			                              .kind = "?",
			                              .device = "",
			                              .method = "?",
			                              .source = "",
			                              .backend = "?"};
			continue;
		}
		*d = (struct jst_prom_domain){
		    .name = di.name,
		    .kind = jst_kind_name(di.kind),
		    .device = di.device,
		    .method = jst_method_name(di.method),
		    .source = di.source,
		    .backend = di.backend,
		    .counted = di.counted,
		    .accuracy = di.accuracy,
		};
		l->period_s[i] = di.sample_period_s;
		for (size_t b = 0; b < l->nb; b++)
			if (!strcmp(l->bes[b].name, di.backend))
				l->backend_of[i] = (int)b;
	}
	l->snap = (struct jst_prom_snapshot){.domains = l->doms,
	                                     .ndomains = l->nd,
	                                     .backends = l->bes,
	                                     .nbackends = l->nb,
	                                     .version = jst_version()};
	*out = l;
	return 0;
}

void jst_live_close(struct jst_live *l)
{
	if (!l)
		return;
	free(l->doms);
	free(l->period_s);
	free(l->backend_of);
	free(l->bes);
	free(l->available);
	free(l);
}

const struct jst_prom_snapshot *jst_live_snapshot(struct jst_live *l)
{
	int64_t now = now_ns();
	for (size_t b = 0; b < l->nb; b++)
		l->bes[b].up = l->available[b];
	for (size_t i = 0; i < l->nd; i++) {
		struct jst_prom_domain *d = &l->doms[i];
		jst_sample s = {.size = sizeof s};
		int n = jst_meter_series(l->m, i, &s, 1);
		double limit = JST_LIVE_STALE_PERIODS * l->period_s[i];
		if (limit < JST_LIVE_STALE_MIN_S)
			limit = JST_LIVE_STALE_MIN_S;
		int stale = 1;
		if (n == 1) {
			d->age_s = (double)(now - s.t_ns) * 1e-9;
			stale = d->age_s > limit;
			/* The core's figure never goes back; holding the highest seen
			 * keeps the counter a counter even if that ever failed. */
			if (s.energy_j > d->energy_j)
				d->energy_j = s.energy_j;
			d->power_w = s.power_w;
			d->temperature_c = s.temperature_c;
			d->utilization_pct = s.utilization_pct;
			d->clock_mhz = s.clock_mhz;
			d->power_limit_w = s.power_limit_w;
		} else {
			d->age_s = NAN;
			d->power_w = d->temperature_c = d->utilization_pct = NAN;
			d->clock_mhz = d->power_limit_w = NAN;
		}
		/* A device lost (or a sampler that cannot keep up) leaves its last
		 * reading behind: shown, it would be counted as power drawn now by
		 * every sum over joulestat_power_watts and top's total. Its gauges
		 * go, as Prometheus's exporters drop a series they no longer
		 * measure; the energy counter stays (a counter never goes away or
		 * down mid-life). */
		d->lost = stale && n == 1;
		if (d->lost) {
			d->power_w = d->temperature_c = d->utilization_pct = NAN;
			d->clock_mhz = d->power_limit_w = NAN;
		}
		if (stale && l->backend_of[i] >= 0)
			l->bes[l->backend_of[i]].up = 0;
	}
	return &l->snap;
}
