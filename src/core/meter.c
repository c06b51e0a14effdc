/* The meter: backends probed, domains kept, readings folded into energy. */
#include "dedup.h"
#include "measurement_internal.h"
#include "meter_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t jst_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void meter_free(struct jst_meter *m)
{
	for (struct jst_window *w = m->windows, *next; w; w = next) {
		next = w->next;
		jst_window_free(w);
	}
	jst_domtab_unref(m->tab);
	for (size_t i = 0; i < m->ndoms; i++)
		jst_series_free(&m->doms[i].series);
	for (size_t i = 0; i < m->nbackends; i++) {
		struct jst_be *be = &m->backends[i];
		if (be->state && be->ops->close)
			be->ops->close(be->state);
		free(be->map);
		free(be->raw);
	}
	free(m->backends);
	free(m->doms);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->smu);
	pthread_cond_destroy(&m->scond);
	free(m);
}

/* A typo in a backend list must be an error, never a meter that measures nothing. */
static int names_known(const char *list, const struct jst_backend_ops *const *ops, size_t nops)
{
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s", list);
	for (char *save = NULL, *tok = strtok_r(tmp, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		int known = 0;
		for (size_t i = 0; i < nops; i++)
			known |= !strcmp(ops[i]->name, tok);
		if (!known)
			return 0;
	}
	return 1;
}

/* Probe each backend the configuration allows. */
static int probe_backends(struct jst_meter *m, const struct jst_resolved_config *rc,
                          const struct jst_backend_ops *const *ops, size_t nops)
{
	struct jst_backend_ctx ctx = {
	    .sysfs_root = rc->sysfs_root,
	    .procfs_root = rc->procfs_root,
	    .nvml_library = rc->nvml_library,
	    .devfs_root = rc->devfs_root,
	    .perf_library = rc->perf_library,
	    .amdsmi_library = rc->amdsmi_library,
	    .gpus = rc->gpus_set ? rc->gpus : NULL,
	    .gpus_from_env = rc->gpus_set == JST_GPUS_FROM_ENV,
	    .cross_validate = rc->cross_validate,
	};
	if (rc->backends_set && !names_known(rc->backends, ops, nops))
		return -EINVAL;
	m->nbackends = nops;
	m->backends = calloc(nops ? nops : 1, sizeof *m->backends);
	if (!m->backends)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbackends; i++) {
		struct jst_be *be = &m->backends[i];
		be->ops = ops[i];
		if (rc->backends_set && !jst_list_contains(rc->backends, be->ops->name)) {
			snprintf(be->reason, sizeof be->reason, "not selected (backends: %s)",
			         rc->backends);
			continue;
		}
		if (!strcmp(be->ops->name, "estimate") && !rc->allow_estimate) {
			snprintf(be->reason, sizeof be->reason,
			         "estimation disabled by configuration");
			continue;
		}
		int r = be->ops->probe(&ctx, &be->state, be->reason, sizeof be->reason);
		if (r < 0) {
			be->state = NULL;
			if (!be->reason[0])
				snprintf(be->reason, sizeof be->reason, "%s", jst_strerror(r));
			continue;
		}
		const struct jst_domain_desc *d;
		be->ndecl = be->ops->domains(be->state, &d);
		if (be->ndecl == 0) {
			snprintf(be->reason, sizeof be->reason, "no devices found");
			continue;
		}
		be->available = 1;
		be->map = malloc(be->ndecl * sizeof *be->map);
		be->raw = calloc(be->ndecl, sizeof *be->raw);
		if (!be->map || !be->raw)
			return -ENOMEM;
	}
	return 0;
}

/* Decide which declared domains are kept (all in cross-validation, else the
 * most accurate per device) and lay them out in registry order. */
static int keep_domains(struct jst_meter *m)
{
	size_t total = 0;
	for (size_t i = 0; i < m->nbackends; i++)
		total += m->backends[i].available ? m->backends[i].ndecl : 0;
	if (total == 0)
		return 0;

	const struct jst_domain_desc **descs =
	    malloc(total * sizeof *descs); // NOLINT(bugprone-sizeof-expression)
	int *primary = malloc(total * sizeof *primary);
	m->doms = calloc(total, sizeof *m->doms);
	if (!descs || !primary || !m->doms) {
		free(descs);
		free(primary);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < m->nbackends; i++) {
		struct jst_be *be = &m->backends[i];
		const struct jst_domain_desc *d;
		if (!be->available)
			continue;
		be->ops->domains(be->state, &d);
		for (size_t j = 0; j < be->ndecl; j++)
			descs[k++] = &d[j];
	}
	jst_dedup_primary(descs, total, primary);

	size_t g = 0;
	int rc = 0;
	for (size_t i = 0; i < m->nbackends; i++) {
		struct jst_be *be = &m->backends[i];
		if (!be->available)
			continue;
		size_t first = m->ndoms;
		for (size_t j = 0; j < be->ndecl; j++, g++) {
			be->map[j] = -1;
			if (!primary[g] && !m->cross_validate)
				continue;
			struct jst_dom *dom = &m->doms[m->ndoms];
			dom->desc = *descs[g];
			dom->backend = i;
			dom->local = j;
			dom->primary = primary[g];
			dom->parent = dom->desc.parent; /* local for now */
			jst_counter_init(&dom->counter, dom->desc.modulus);
			jst_integrator_init(&dom->integ);
			dom->power_w = NAN;
			if ((rc = jst_series_init(&dom->series, m->series_capacity)))
				goto out;
			be->map[j] = (int)m->ndoms++;
			be->active = 1;
		}
		/* Parents are declared by local index; make them global. */
		for (size_t d = first; d < m->ndoms; d++) {
			struct jst_dom *dom = &m->doms[d];
			dom->parent = dom->parent >= 0 && (size_t)dom->parent < be->ndecl
			                  ? be->map[dom->parent]
			                  : -1;
		}
		if (!be->active)
			snprintf(be->reason, sizeof be->reason,
			         "not used: a more accurate method measures the same devices");
	}
out:
	free(descs);
	free(primary);
	return rc;
}

static void domstr_fill(struct jst_domstr *s, const struct jst_domain_desc *d, const char *backend)
{
	snprintf(s->name, sizeof s->name, "%s", d->name);
	snprintf(s->device, sizeof s->device, "%s", d->device);
	snprintf(s->backend, sizeof s->backend, "%s", backend);
	snprintf(s->source, sizeof s->source, "%s", d->source);
	snprintf(s->note, sizeof s->note, "%s", d->note);
}

/* Measurements show the domains' strings from this table rather than copies. */
static int build_domtab(struct jst_meter *m)
{
	m->tab = jst_domtab_new(m->ndoms);
	if (!m->tab)
		return -ENOMEM;
	for (size_t b = 0; b < m->nbackends; b++) {
		const struct jst_be *be = &m->backends[b];
		for (size_t j = 0; be->active && j < be->ndecl; j++)
			if (be->map[j] >= 0)
				domstr_fill(&m->tab->dom[be->map[j]], &m->doms[be->map[j]].desc,
				            be->ops->name);
	}
	return 0;
}

/* The sampler must read every wrapping counter at least twice per wrap. */
static double choose_period(const struct jst_meter *m, double wanted)
{
	double p = wanted;
	for (size_t i = 0; i < m->ndoms; i++) {
		const struct jst_domain_desc *d = &m->doms[i].desc;
		if (d->method == JST_METHOD_POWER || !d->modulus || !(d->max_power_w > 0))
			continue;
		double wrap_s = (double)d->modulus * d->unit_j / d->max_power_w;
		if (wrap_s / 2 < p)
			p = wrap_s / 2;
	}
	return p < 1e-4 ? 1e-4 : p;
}

int jst_meter_open(const jst_config *cfg, jst_meter **out)
{
	const struct jst_backend_ops *ops[16];
	size_t n = jst_registry_count();
	if (n > sizeof ops / sizeof ops[0])
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		ops[i] = jst_registry_get(i);
	return jst_meter_open_backends(cfg, ops, n, out);
}

int jst_meter_open_backends(const jst_config *cfg, const struct jst_backend_ops *const *ops,
                            size_t nops, jst_meter **out)
{
	struct jst_resolved_config rc;
	int r;
	if (!out || (!ops && nops))
		return -EINVAL;
	*out = NULL;
	if ((r = jst_config_resolve(cfg, &rc)))
		return r;

	struct jst_meter *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->smu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->scond, &ca);
	pthread_condattr_destroy(&ca);
	m->cross_validate = rc.cross_validate;
	m->series_capacity = rc.series_capacity;

	if ((r = probe_backends(m, &rc, ops, nops)) || (r = keep_domains(m)) ||
	    (r = build_domtab(m))) {
		meter_free(m);
		return r;
	}
	m->period_s = choose_period(m, rc.period_s);
	if (m->ndoms) {
		pthread_mutex_lock(&m->mu);
		jst_meter_read_locked(m, 0, 0); /* the base of every counter */
		pthread_mutex_unlock(&m->mu);
		if ((r = jst_sampler_start(m))) {
			meter_free(m);
			return r;
		}
	}
	*out = m;
	return 0;
}

void jst_meter_close(jst_meter *m)
{
	if (!m)
		return;
	jst_sampler_stop(m);
	meter_free(m);
}

/* ---- reading ---------------------------------------------------------------- */

static void dom_fail(struct jst_dom *dom, int64_t t, const struct jst_raw *raw, int status)
{
	dom->failed = 1;
	dom->failed_t_ns = t;
	/* A whole-backend failure skips dom_apply: the previous reading's power
	 * must not pass for this one's (a window begun here would show it). */
	dom->power_fresh = 0;
	if (raw && raw->error[0])
		snprintf(dom->failure, sizeof dom->failure, "%s", raw->error);
	else
		snprintf(dom->failure, sizeof dom->failure, "%s: %s", dom->desc.name,
		         jst_strerror(status));
}

static void dom_apply(struct jst_dom *dom, const struct jst_raw *raw, int64_t t)
{
	const struct jst_domain_desc *d = &dom->desc;
	dom->power_fresh = 0;
	if (dom->failed)
		return;
	if (raw->status < 0) {
		dom_fail(dom, t, raw, raw->status);
		return;
	}
	if (d->method == JST_METHOD_POWER) {
		if (!(raw->power_w >= 0) || isinf(raw->power_w)) {
			struct jst_raw bad = *raw;
			snprintf(bad.error, sizeof bad.error, "%s: invalid power reading", d->name);
			dom_fail(dom, t, &bad, -EIO);
			return;
		}
		jst_integrator_add(&dom->integ, t, raw->power_w);
		dom->energy_j = dom->integ.energy_j;
		dom->power_w = raw->power_w;
		dom->power_fresh = 1;
	} else {
		double dt = dom->counter.primed ? (double)(t - dom->last_t_ns) * 1e-9 : 0;
		uint64_t delta;
		jst_counter_update(&dom->counter, raw->counter,
		                   jst_counter_max_delta(d->max_power_w, dt, d->unit_j), &delta);
		dom->energy_j = (double)dom->counter.ext * d->unit_j;
		if (!dom->pw_t_ns) {
			dom->pw_t_ns = t;
			dom->pw_energy_j = dom->energy_j;
		} else if (t - dom->pw_t_ns >= JST_MIN_POWER_DT_NS) {
			dom->power_w =
			    (dom->energy_j - dom->pw_energy_j) / ((t - dom->pw_t_ns) * 1e-9);
			dom->power_fresh = 1;
			dom->pw_t_ns = t;
			dom->pw_energy_j = dom->energy_j;
		}
	}
	dom->last_t_ns = t;
	dom->latest = (jst_sample){
	    .t_ns = t,
	    .energy_j = dom->energy_j,
	    .power_w = isnan(raw->telemetry_power_w) ? dom->power_w : raw->telemetry_power_w,
	    .temperature_c = raw->temperature_c,
	    .utilization_pct = raw->utilization_pct,
	    .clock_mhz = raw->clock_mhz,
	    .power_limit_w = raw->power_limit_w,
	};
}

/* Only the sampler's readings count: they are evenly spaced, so a plain mean
 * of them is a mean over time. */
static void wtel_add(struct jst_wtel *t, const jst_sample *s)
{
	if (!(s->temperature_c <= t->temp_max) && !isnan(s->temperature_c))
		t->temp_max = s->temperature_c;
	if (!isnan(s->utilization_pct)) {
		t->util_sum += s->utilization_pct;
		t->util_n++;
	}
	if (!isnan(s->clock_mhz)) {
		t->clock_sum += s->clock_mhz;
		t->clock_n++;
	}
	if (!isnan(s->power_limit_w))
		t->power_limit = s->power_limit_w;
}

int64_t jst_meter_read_locked(struct jst_meter *m, int from_sampler, int telemetry)
{
	unsigned flags = telemetry ? JST_READ_TELEMETRY : 0;
	/* The instant of the whole reading: the mean of its backends' instants. */
	int64_t base = 0, sum = 0, count = 0;
	for (size_t b = 0; b < m->nbackends; b++) {
		struct jst_be *be = &m->backends[b];
		if (!be->active)
			continue;
		for (size_t j = 0; j < be->ndecl; j++)
			jst_raw_clear(&be->raw[j]);
		int64_t t0 = jst_now_ns();
		int r = be->ops->read(be->state, be->raw, be->ndecl, flags);
		/* The instant of a reading is the middle of the read. */
		int64_t t = t0 + (jst_now_ns() - t0) / 2;
		if (count++ == 0)
			base = t;
		sum += t - base;
		for (size_t j = 0; j < be->ndecl; j++) {
			if (be->map[j] < 0)
				continue;
			struct jst_dom *dom = &m->doms[be->map[j]];
			if (r < 0 && !dom->failed) {
				struct jst_raw fail = be->raw[j];
				snprintf(fail.error, sizeof fail.error,
				         "%s: backend %s read failed: %s", dom->desc.name,
				         be->ops->name, jst_strerror(r));
				dom_fail(dom, t, &fail, r);
				continue;
			}
			dom_apply(dom, &be->raw[j], t);
		}
	}
	for (struct jst_window *w = m->windows; w; w = w->next) {
		for (size_t i = 0; i < m->ndoms; i++) {
			struct jst_dom *dom = &m->doms[i];
			if (dom->power_fresh && !(dom->power_w <= w->dom[i].peak_w))
				w->dom[i].peak_w = dom->power_w;
			if (from_sampler && !dom->failed) {
				w->dom[i].samples++;
				if (telemetry)
					wtel_add(&w->dom[i].tel, &dom->latest);
			}
		}
	}
	if (from_sampler)
		for (size_t i = 0; i < m->ndoms; i++)
			if (!m->doms[i].failed)
				jst_series_push(&m->doms[i].series, &m->doms[i].latest);
	return count ? base + sum / count : jst_now_ns();
}

/* ---- enumeration -------------------------------------------------------------- */

size_t jst_meter_backend_count(const jst_meter *m)
{
	return m ? m->nbackends : 0;
}

int jst_meter_backend(const jst_meter *m, size_t index, jst_backend_info *out)
{
	if (!m || !out || index >= m->nbackends)
		return -EINVAL;
	const struct jst_be *be = &m->backends[index];
	*out = (jst_backend_info){
	    .name = be->ops->name,
	    .description = be->ops->description,
	    .accuracy = be->ops->accuracy,
	    .available = be->available,
	    .reason = be->reason,
	};
	return 0;
}

size_t jst_meter_domain_count(const jst_meter *m)
{
	return m ? m->ndoms : 0;
}

int jst_meter_domain(const jst_meter *m, size_t index, jst_domain_info *out)
{
	if (!m || !out || index >= m->ndoms)
		return -EINVAL;
	const struct jst_dom *dom = &m->doms[index];
	*out = (jst_domain_info){
	    .name = dom->desc.name,
	    .kind = dom->desc.kind,
	    .device = dom->desc.device,
	    .backend = m->backends[dom->backend].ops->name,
	    .method = dom->desc.method,
	    .source = dom->desc.source,
	    .accuracy = dom->desc.accuracy,
	    .parent = dom->parent,
	    .primary = dom->primary,
	    .sample_period_s = m->period_s,
	    .note = dom->desc.note,
	};
	return 0;
}

int jst_meter_series(jst_meter *m, size_t domain, jst_sample *buf, size_t cap)
{
	if (!m || (!buf && cap) || domain >= m->ndoms)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	size_t n = jst_series_copy(&m->doms[domain].series, buf, cap);
	pthread_mutex_unlock(&m->mu);
	return (int)n;
}

int jst_meter_sample_now(jst_meter *m, size_t domain, jst_sample *out)
{
	if (!m || !out || domain >= m->ndoms)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	jst_meter_read_locked(m, 0, 1);
	*out = m->doms[domain].latest;
	int failed = m->doms[domain].failed;
	pthread_mutex_unlock(&m->mu);
	return failed ? -EIO : 0;
}
