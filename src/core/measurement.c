/* Measurements: allocated (or reused) when a window ends, their totals and
 * notes formed when first read, and the accessors. */
#include "abi.h"
#include "measurement_internal.h"
#include "totals.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct jst_domtab *jst_domtab_new(size_t n)
{
	struct jst_domtab *t = calloc(1, sizeof *t + n * sizeof t->dom[0]);
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	atomic_init(&t->spare, NULL);
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
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		free(atomic_load_explicit(&t->spare, memory_order_acquire));
		free(t);
	}
}

struct jst_measurement *jst_measurement_new(struct jst_domtab *tab, const char *name, size_t n,
                                            size_t nnotes, size_t npending)
{
	size_t len = strlen(name) + 1;
	size_t size = sizeof(struct jst_measurement) + n * sizeof(jst_domain_energy) +
	              nnotes * JST_MNOTE_MAX + npending * sizeof(struct jst_mnote_pending) + len;
	/* The last one freed, where it is big enough: windows ended one after
	 * another (a loop, -I) then allocate nothing. */
	struct jst_measurement *m =
	    atomic_exchange_explicit(&tab->spare, NULL, memory_order_acquire);
	if (m && m->size < size) {
		free(m);
		m = NULL;
	}
	if (!m) {
		if (!(m = malloc(size)))
			return NULL;
		m->size = size;
	}
	m->tab = jst_domtab_ref(tab);
	m->n = n;
	atomic_init(&m->formed, 0);
	m->notes = (char(*)[JST_MNOTE_MAX])(m->doms + n);
	m->pending = (struct jst_mnote_pending *)(m->notes + nnotes);
	m->npending = npending;
	m->name = memcpy(m->pending + npending, name, len);
	return m;
}

void jst_measurement_free(jst_measurement *m)
{
	if (!m)
		return;
	struct jst_domtab *t = m->tab;
	/* Kept as the table's spare where there is none; the table frees it. */
	struct jst_measurement *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&t->spare, &none, m, memory_order_release,
	                                             memory_order_relaxed))
		free(m);
	jst_domtab_unref(t);
}

/* The totals and the pending notes, formed once by the first reader: a
 * measurement may be read from several threads at once. */
static void measurement_form(const jst_measurement *cm)
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
	struct jst_measurement *m = (struct jst_measurement *)cm;
	if (atomic_load_explicit(&m->formed, memory_order_acquire) == 2)
		return;
	int none = 0;
	if (atomic_compare_exchange_strong_explicit(&m->formed, &none, 1, memory_order_acquire,
	                                            memory_order_acquire)) {
		jst_totals_compute(m->doms, m->n, jst_measurement_duration(m), m->totals);
		for (size_t k = 0; k < m->npending; k++) {
			const struct jst_mnote_pending *p = &m->pending[k];
			jst_note_write_pending(&m->tab->dom[p->dom], &p->f, m->notes[p->note]);
		}
		atomic_store_explicit(&m->formed, 2, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&m->formed, memory_order_acquire) != 2)
		sched_yield(); /* another thread is forming it: a few µs at most */
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
	measurement_form(m);
	return jst_abi_fill(out, &m->doms[index], sizeof m->doms[index], JST_DOMAIN_ENERGY_V1);
}

int jst_measurement_total(const jst_measurement *m, jst_total_kind which, jst_total *out)
{
	if (!m || !out || (unsigned)which >= JST_TOTAL_COUNT_)
		return -EINVAL;
	measurement_form(m);
	return jst_abi_fill(out, &m->totals[which], sizeof m->totals[which], JST_TOTAL_V1);
}
