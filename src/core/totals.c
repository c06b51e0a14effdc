/* The totals of a measurement: per kind, all components, the system meters. */
#include "totals.h"

#include <math.h>

int jst_total_of(jst_kind kind, int parent)
{
	if (parent >= 0)
		return -1;
	switch (kind) {
	case JST_KIND_GPU:
		return JST_TOTAL_GPU;
	case JST_KIND_PACKAGE:
		return JST_TOTAL_CPU;
	case JST_KIND_DRAM:
		return JST_TOTAL_DRAM;
	case JST_KIND_PLATFORM:
	case JST_KIND_NODE:
		return JST_TOTAL_SYSTEM;
	case JST_KIND_OTHER:
		return JST_TOTAL_ALL;
	case JST_KIND_CORE:
	case JST_KIND_UNCORE:
	default:
		return -1; /* always inside a package */
	}
}

static void add(jst_total *t, const jst_domain_energy *d, double *weighted)
{
	t->energy_j += d->energy_j;
	t->uncertainty_j += d->uncertainty_j; /* worst case: errors of one sign */
	*weighted += d->energy_j * d->accuracy;
	if (d->accuracy > t->accuracy)
		t->accuracy = d->accuracy; /* placeholder until weighted below */
	t->parts++;
	t->estimated |= d->method == JST_METHOD_ESTIMATE;
	t->partial |= d->partial;
}

int jst_totals_is_module(const jst_domain_energy *doms, size_t n, size_t i)
{
	const jst_domain_energy *d = &doms[i];
	if (d->kind != JST_KIND_PLATFORM || d->parent >= 0)
		return 0;
	for (size_t j = 0; j < n; j++)
		if (doms[j].parent >= 0 && (size_t)doms[j].parent == i)
			return 1;
	return 0;
}

int jst_totals_counted_in(const jst_domain_energy *doms, size_t n, size_t i)
{
	const jst_domain_energy *d = &doms[i];
	int k = d->primary ? jst_total_of(d->kind, d->parent) : -1;
	/* A module's input with its rails inside it (Jetson VDD_IN) is what the
	 * module's components drew together: their total, not a meter beside
	 * them. Its rails stay out (they have a parent). */
	if (k == JST_TOTAL_SYSTEM && jst_totals_is_module(doms, n, i))
		k = JST_TOTAL_ALL;
	return k;
}

void jst_totals_compute(const jst_domain_energy *doms, size_t n, double duration_s,
                        jst_total out[JST_TOTAL_COUNT_])
{
	double weighted[JST_TOTAL_COUNT_] = {0};
	for (int k = 0; k < JST_TOTAL_COUNT_; k++)
		out[k] = (jst_total){0};

	for (size_t i = 0; i < n; i++) {
		const jst_domain_energy *d = &doms[i];
		int k = jst_totals_counted_in(doms, n, i);
		if (k < 0)
			continue;
		add(&out[k], d, &weighted[k]);
		if (k != JST_TOTAL_SYSTEM && k != JST_TOTAL_ALL)
			add(&out[JST_TOTAL_ALL], d, &weighted[JST_TOTAL_ALL]);
	}
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		jst_total *t = &out[k];
		/* The class of a sum is the energy-weighted mean of its parts'
		 * classes; with no energy, the worst part's. */
		if (t->energy_j > 0)
			t->accuracy = weighted[k] / t->energy_j;
		t->avg_power_w = duration_s > 0 ? t->energy_j / duration_s : NAN;
	}
}
