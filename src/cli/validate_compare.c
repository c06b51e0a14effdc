/* The arithmetic of joulestat validate: grouping the domains of each device,
 * choosing the reference, relative differences and whether they agree. */
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The library's de-duplication rule, restated: "cpu" covers "cpu:package-0". */
static int covers(const char *coarse, const char *fine)
{
	size_t n = strlen(coarse);
	return strncmp(coarse, fine, n) == 0 && (fine[n] == 0 || fine[n] == ':');
}

static int is_system(jst_kind k)
{
	return k == JST_KIND_PLATFORM || k == JST_KIND_NODE;
}

/* Every node meter measures this node: one group, whatever its identity. */
#define NODE_GROUP "node"

/* The coarsest identity among domains of the same kind that covers domain i's. */
static const char *group_device(const jst_measurement *m, size_t i)
{
	static const char none[] = "";
	jst_domain_energy d = {.size = sizeof d}, o = {.size = sizeof o};
	if (jst_measurement_domain(m, i, &d))
		return none;
	/* A power analyser (ptd), a BMC and a PDU on the same node are methods of
	 * the same device, the node, compared against the most accurate of them;
	 * an analyser's several channels (one per power supply) add up. */
	if (d.kind == JST_KIND_NODE)
		return NODE_GROUP;
	const char *best = d.device;
	for (size_t j = 0; j < jst_measurement_domain_count(m); j++)
		if (!jst_measurement_domain(m, j, &o) && o.kind == d.kind &&
		    strlen(o.device) < strlen(best) && covers(o.device, best))
			best = o.device;
	return best;
}

static struct jst_vgroup *find_group(struct jst_validation *v, jst_kind kind, const char *device)
{
	for (size_t g = 0; g < v->ngroups; g++)
		if (v->groups[g].kind == kind && !strcmp(v->groups[g].device, device))
			return &v->groups[g];
	struct jst_vgroup *gs = realloc(v->groups, (v->ngroups + 1) * sizeof *gs);
	if (!gs)
		return NULL;
	v->groups = gs;
	struct jst_vgroup *g = &gs[v->ngroups++];
	*g = (struct jst_vgroup){.kind = kind};
	snprintf(g->device, sizeof g->device, "%s", device);
	return g;
}

static struct jst_vmethod *find_method(struct jst_vgroup *g, const jst_domain_energy *d,
                                       size_t nruns)
{
	for (size_t k = 0; k < g->n; k++)
		if (!strcmp(g->methods[k].backend, d->backend) &&
		    !strcmp(g->methods[k].source, d->source))
			return &g->methods[k];
	struct jst_vmethod *ms = realloc(g->methods, (g->n + 1) * sizeof *ms);
	if (!ms)
		return NULL;
	g->methods = ms;
	struct jst_vmethod *m = &ms[g->n];
	*m = (struct jst_vmethod){.method = d->method};
	m->energy = calloc(nruns, sizeof *m->energy);
	m->diff = calloc(nruns, sizeof *m->diff);
	if (!m->energy || !m->diff) {
		free(m->energy);
		free(m->diff);
		return NULL;
	}
	g->n++;
	snprintf(m->backend, sizeof m->backend, "%s", d->backend);
	snprintf(m->source, sizeof m->source, "%s", d->source);
	return m;
}

static int add_domain(struct jst_validation *v, jst_measurement *const *runs, size_t i)
{
	jst_domain_energy d = {.size = sizeof d};
	if (jst_measurement_domain(runs[0], i, &d))
		return 0;
	struct jst_vgroup *g = find_group(v, d.kind, group_device(runs[0], i));
	struct jst_vmethod *m = g ? find_method(g, &d, v->nruns) : NULL;
	if (!m)
		return -ENOMEM;
	if (d.kind == JST_KIND_NODE)
		snprintf(g->label, sizeof g->label, "%s", NODE_GROUP);
	else if (!g->label[0] || !strcmp(d.device, g->device))
		snprintf(g->label, sizeof g->label, "%s", d.name);
	size_t len = strlen(m->names);
	g->covered |= strcmp(d.device, g->device) != 0;
	snprintf(m->names + len, sizeof m->names - len, "%s%s", len ? "+" : "", d.name);
	m->accuracy = d.accuracy > m->accuracy ? d.accuracy : m->accuracy;
	m->primary |= d.primary;
	for (size_t r = 0; r < v->nruns; r++) {
		jst_domain_energy dr = {.size = sizeof dr};
		if (jst_measurement_domain(runs[r], i, &dr))
			continue;
		m->energy[r] += dr.energy_j;
		m->partial |= dr.partial;
	}
	return 0;
}

/* The most accurate method; on a tie the one counted in totals, then the first. */
static size_t reference_of(const struct jst_vgroup *g)
{
	size_t ref = 0;
	for (size_t k = 1; k < g->n; k++) {
		const struct jst_vmethod *a = &g->methods[k], *b = &g->methods[ref];
		if (a->accuracy < b->accuracy ||
		    (a->accuracy == b->accuracy && a->primary && !b->primary))
			ref = k;
	}
	return ref;
}

static void compare(struct jst_validation *v, struct jst_vgroup *g)
{
	size_t ref = reference_of(g);
	const struct jst_vmethod *r = &g->methods[ref];
	for (size_t k = 0; k < g->n; k++) {
		struct jst_vmethod *m = &g->methods[k];
		m->reference = k == ref;
		m->tolerance = r->accuracy + m->accuracy;
		for (size_t i = 0; i < v->nruns; i++) {
			m->diff[i] = !m->reference && r->energy[i] > 0
			                 ? (m->energy[i] - r->energy[i]) / r->energy[i]
			                 : NAN;
			m->agreed_runs += m->reference || (isfinite(m->diff[i]) &&
			                                   fabs(m->diff[i]) <= m->tolerance);
		}
		jst_stat_of(m->energy, v->nruns, &m->e);
		jst_stat_of(m->diff, v->nruns, &m->d);
		/* With no reference energy there is nothing to disagree with. */
		m->agrees = m->reference || !isfinite(m->d.mean) || fabs(m->d.mean) <= m->tolerance;
		if (g->n > 1 && !m->agrees)
			v->disagreements++;
	}
}

/* One method of a platform or node group (a meter, or the sum of its
 * channels) against the components it contains: the rest of the system. */
static int add_system(struct jst_validation *v, jst_measurement *const *runs,
                      const struct jst_vgroup *g, const struct jst_vmethod *m)
{
	struct jst_vsystem *ss = realloc(v->systems, (v->nsystems + 1) * sizeof *ss);
	double *x = calloc(3 * v->nruns, sizeof *x);
	if (ss)
		v->systems = ss;
	if (!ss || !x) {
		free(x);
		return -ENOMEM;
	}
	struct jst_vsystem *s = &ss[v->nsystems++];
	*s = (struct jst_vsystem){
	    .accuracy = m->accuracy,
	    .reference = m->reference,
	    .partial = m->partial,
	    .meters = g->n,
	};
	snprintf(s->name, sizeof s->name, "%s", m->names);
	snprintf(s->device, sizeof s->device, "%s", g->device);
	snprintf(s->backend, sizeof s->backend, "%s", m->backend);
	snprintf(s->source, sizeof s->source, "%s", m->source);
	double *comp = x, *rest = x + v->nruns, *frac = x + 2 * v->nruns;
	static const jst_total_kind node_parts[] = {JST_TOTAL_ALL};
	static const jst_total_kind platform_parts[] = {JST_TOTAL_CPU, JST_TOTAL_DRAM};
	int node = g->kind == JST_KIND_NODE;
	const jst_total_kind *parts = node ? node_parts : platform_parts;
	size_t nparts = node ? 1 : 2;
	s->components = node ? "total" : "cpu+dram";
	for (size_t r = 0; r < v->nruns; r++) {
		double meter = m->energy[r];
		comp[r] = 0;
		double allowed = s->accuracy * meter;
		for (size_t k = 0; k < nparts; k++) {
			jst_total t = {.size = sizeof t};
			if (jst_measurement_total(runs[r], parts[k], &t) || !t.parts)
				continue;
			comp[r] += t.energy_j;
			allowed += t.accuracy * t.energy_j;
			s->components_estimated |= t.estimated;
		}
		rest[r] = meter - comp[r];
		frac[r] = meter > 0 ? rest[r] / meter : NAN;
		s->allowed_j += allowed / (double)v->nruns;
	}
	jst_stat_of(m->energy, v->nruns, &s->meter_j);
	jst_stat_of(comp, v->nruns, &s->components_j);
	jst_stat_of(rest, v->nruns, &s->rest_j);
	jst_stat_of(frac, v->nruns, &s->rest_fraction);
	/* The rest of a system cannot be negative: parts that add up to more than
	 * the whole, beyond both accuracy classes, mean one side is wrong. */
	s->inconsistent = s->rest_j.mean < -s->allowed_j;
	v->disagreements += s->inconsistent;
	free(x);
	return 0;
}

int jst_validation_compute(jst_measurement *const *runs, size_t n, struct jst_validation *out)
{
	*out = (struct jst_validation){.nruns = n};
	if (!n)
		return 0;
	size_t nd = jst_measurement_domain_count(runs[0]);
	int rc = 0;
	for (size_t i = 0; i < nd && !rc; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(runs[0], i, &d))
			continue;
		rc = add_domain(out, runs, i);
	}
	for (size_t g = 0; g < out->ngroups && !rc; g++)
		compare(out, &out->groups[g]);
	/* A platform or node meter is compared with the components as well: what
	 * it sees beyond them is the rest of the system, not an error. The
	 * group's reference (for a node, a power analyser where there is one)
	 * comes first. */
	for (size_t g = 0; g < out->ngroups && !rc; g++) {
		const struct jst_vgroup *gr = &out->groups[g];
		if (!is_system(gr->kind))
			continue;
		for (int pass = 0; pass < 2 && !rc; pass++)
			for (size_t k = 0; k < gr->n && !rc; k++)
				if (gr->methods[k].reference == !pass)
					rc = add_system(out, runs, gr, &gr->methods[k]);
	}
	if (rc)
		jst_validation_free(out);
	return rc;
}

void jst_validation_free(struct jst_validation *v)
{
	for (size_t g = 0; g < v->ngroups; g++) {
		for (size_t k = 0; k < v->groups[g].n; k++) {
			free(v->groups[g].methods[k].energy);
			free(v->groups[g].methods[k].diff);
		}
		free(v->groups[g].methods);
	}
	free(v->groups);
	free(v->systems);
	*v = (struct jst_validation){0};
}
