/* Measurement accessors. */
#include "abi.h"
#include "measurement_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct jst_domtab *jst_domtab_new(size_t n)
{
	struct jst_domtab *t = calloc(1, sizeof *t + n * sizeof t->dom[0]);
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->n = n;
	return t;
}

struct jst_domtab *jst_domtab_ref(struct jst_domtab *t)
{
	/* A new reference is taken from one already held: nothing to order. */
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void jst_domtab_unref(struct jst_domtab *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		free(t);
}

struct jst_measurement *jst_measurement_new(struct jst_domtab *tab, const char *name, size_t n,
                                            size_t nnotes)
{
	size_t len = strlen(name) + 1;
	struct jst_measurement *m =
	    malloc(sizeof *m + n * sizeof m->doms[0] + nnotes * sizeof *m->notes + len);
	if (!m)
		return NULL;
	m->tab = jst_domtab_ref(tab);
	m->n = n;
	m->notes = (char(*)[JST_MNOTE_MAX])(m->doms + n);
	m->name = memcpy(m->notes + nnotes, name, len);
	return m;
}

void jst_measurement_free(jst_measurement *m)
{
	if (!m)
		return;
	jst_domtab_unref(m->tab);
	free(m);
}

const char *jst_measurement_name(const jst_measurement *m)
{
	return m ? m->name : NULL;
}

double jst_measurement_duration(const jst_measurement *m)
{
	return m ? (double)(m->end_ns - m->begin_ns) * 1e-9 : NAN;
}

int64_t jst_measurement_begin_ns(const jst_measurement *m)
{
	return m ? m->begin_ns : 0;
}

int64_t jst_measurement_end_ns(const jst_measurement *m)
{
	return m ? m->end_ns : 0;
}

int jst_measurement_partial(const jst_measurement *m)
{
	return m ? m->partial : 0;
}

size_t jst_measurement_domain_count(const jst_measurement *m)
{
	return m ? m->n : 0;
}

int jst_measurement_domain(const jst_measurement *m, size_t index, jst_domain_energy *out)
{
	if (!m || !out || index >= m->n)
		return -EINVAL;
	return jst_abi_fill(out, &m->doms[index], sizeof m->doms[index], JST_DOMAIN_ENERGY_V1);
}

int jst_measurement_total(const jst_measurement *m, jst_total_kind which, jst_total *out)
{
	if (!m || !out || (unsigned)which >= JST_TOTAL_COUNT_)
		return -EINVAL;
	return jst_abi_fill(out, &m->totals[which], sizeof m->totals[which], JST_TOTAL_V1);
}
