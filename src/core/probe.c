/*
 * Probing and layout: which backends answer, which of their domains are kept
 * (the most accurate method per device, or all of them to cross-validate),
 * each domain's sensor model, the strings measurements share, and the
 * sampling period that keeps every wrapping counter read in time.
 */
#include "dedup.h"
#include "measurement_internal.h"
#include "meter_internal.h"
#include "totals.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Power no real device of a kind exceeds, where its backend states no bound:
 * generous, since a bound below the real peak would drop real energy. */
static double kind_bound_w(jst_kind kind)
{
	switch (kind) {
	case JST_KIND_GPU:
		return 2000;
	case JST_KIND_PLATFORM:
		return 5000;
	case JST_KIND_NODE:
		return 50000;
	default:
		return 1000; /* packages, their parts, DRAM */
	}
}

static void sensor_setup(struct jst_dom *dom)
{
	const struct jst_domain_desc *d = &dom->desc;
	double bound = d->max_power_w > 0 ? d->max_power_w : kind_bound_w(d->kind);
	double res = d->method == JST_METHOD_POWER ? 0
	             : d->resolution_j > 0         ? d->resolution_j
	                                           : d->unit_j;
	/* Only a counter's refresh can be measured from its changes. */
	int measure = d->method != JST_METHOD_POWER;
	double declared = d->refresh_s;
	if (d->method == JST_METHOD_POWER && !(declared > 0))
		declared = JST_REFRESH_ASSUMED_S;
	jst_sensor_init(&dom->sensor, declared, res, bound, measure,
	                d->method == JST_METHOD_COUNTER);
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

/* Why the last jst_meter_open on this thread was refused with -ENXIO: the
 * refusing backend's reason. The meter that would hold it is never returned,
 * so jst_strerror(-ENXIO) shows it. */
static _Thread_local char refusal[JST_REASON_MAX];

const char *jst_meter_refusal(void)
{
	return refusal[0] ? refusal : NULL;
}

/* Probe each backend the configuration allows. */
static int probe_backends(struct jst_meter *m, const struct jst_resolved_config *rc,
                          const struct jst_backend_ops *const *ops, size_t nops)
{
	struct jst_backend_ctx ctx = {
	    .options = rc->options,
	    .gpus = rc->gpus_set ? rc->gpus : NULL,
	    .gpus_from_env = rc->gpus_set == JST_GPUS_FROM_ENV,
	    .cross_validate = rc->cross_validate,
	    .period_s = rc->period_s,
	};
	refusal[0] = 0;
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
		/* The daemon backend, probed later, stands in for a refused source. */
		if (r == -EACCES || r == -EPERM)
			ctx.direct_denied = 1;
		/* What the caller asked for by name cannot be measured: measuring
		 * less without a word would pass for what was asked. */
		if (r == -ENXIO) {
			be->state = NULL;
			snprintf(refusal, sizeof refusal, "%s",
			         be->reason[0] ? be->reason
			                       : "a selected device cannot be measured");
			return -ENXIO;
		}
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
		pthread_mutex_init(&be->io, NULL);
		be->io_init = 1;
		be->map = malloc(be->ndecl * sizeof *be->map);
		for (size_t j = 0; be->map && j < be->ndecl; j++)
			be->map[j] = -1; /* kept or not, decided in keep_domains */
		be->raw = calloc(be->ndecl, sizeof *be->raw);
		if (!be->map || !be->raw)
			return -ENOMEM;
	}
	return 0;
}

/* Which domains the total of all components counts, by the rule every total
 * follows (totals.c), for jst_meter_domain's "counted": from their kinds,
 * parents and primaries, known once laid out. */
static int layout_counted(struct jst_meter *m)
{
	jst_domain_energy *v = calloc(m->ndoms + 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->ndoms; i++)
		v[i] = (jst_domain_energy){.kind = m->doms[i].desc.kind,
		                           .parent = m->doms[i].parent,
		                           .primary = m->doms[i].primary};
	for (size_t i = 0; i < m->ndoms; i++)
		m->doms[i].counted = jst_totals_counted(jst_totals_counted_in(v, m->ndoms, i));
	free(v);
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
			sensor_setup(dom);
			dom->latest = (jst_sample){.energy_j = 0,
			                           .power_w = NAN,
			                           .temperature_c = NAN,
			                           .utilization_pct = NAN,
			                           .clock_mhz = NAN,
			                           .power_limit_w = NAN};
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
	if (!rc)
		rc = layout_counted(m);
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
		if (d->method == JST_METHOD_POWER || !d->modulus)
			continue;
		double wrap_s = (double)d->modulus * d->unit_j / m->doms[i].sensor.bound_w;
		if (wrap_s / 2 < p)
			p = wrap_s / 2;
	}
	return p < 1e-4 ? 1e-4 : p;
}

int jst_meter_layout(struct jst_meter *m, const struct jst_resolved_config *rc,
                     const struct jst_backend_ops *const *ops, size_t nops)
{
	int r;
	if ((r = probe_backends(m, rc, ops, nops)) || (r = keep_domains(m)) ||
	    (r = build_domtab(m)))
		return r;
	m->period_s = choose_period(m, rc->period_s);
	return 0;
}
