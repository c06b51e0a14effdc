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
	atomic_init(&t->open, 1);
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
	/* A spare holds a reference: there is none left at 0. */
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		free(t);
}

/* Free the spare, if any, with its reference. */
static void spare_drop(struct jst_domtab *t)
{
	struct jst_measurement *s = atomic_exchange(&t->spare, NULL);
	if (s) {
		free(s);
		jst_domtab_unref(t);
	}
}

void jst_domtab_close(struct jst_domtab *t)
{
	if (!t)
		return;
	/* No measurement waits as the spare from now on; one that a free parks
	 * meanwhile is taken back by that free or here, whichever comes second
	 * (both sequentially consistent: see jst_measurement_free). */
	atomic_store(&t->open, 0);
	struct jst_measurement *s = atomic_exchange(&t->spare, NULL);
	size_t refs = 1; /* the meter's, and the spare's if there was one */
	if (s) {
		free(s);
		refs = 2;
	}
	if (atomic_fetch_sub_explicit(&t->refs, refs, memory_order_acq_rel) == refs)
		free(t);
}

struct jst_measurement *jst_measurement_new(struct jst_domtab *tab, const char *name, size_t n,
                                            size_t nnotes, size_t npending)
{
	size_t len = strlen(name) + 1;
	size_t size = sizeof(struct jst_measurement) + n * sizeof(jst_domain_energy) +
	              nnotes * JST_MNOTE_MAX + npending * sizeof(struct jst_mnote_pending) + len;
	/* The last one freed, where it is big enough, with the reference it
	 * kept: windows ended one after another (a loop, -I) then allocate
	 * nothing and count no reference. */
	struct jst_measurement *m =
	    atomic_exchange_explicit(&tab->spare, NULL, memory_order_acquire);
	int have_ref = m != NULL;
	if (m && m->size < size) {
		free(m); /* too small: its reference passes to the new one */
		m = NULL;
	}
	if (!m) {
		if (!(m = malloc(size))) {
			if (have_ref)
				jst_domtab_unref(tab); /* the caller holds one more */
			return NULL;
		}
		m->size = size;
		m->tab = have_ref ? tab : jst_domtab_ref(tab);
	}
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
	/* Kept, with its reference, as the table's spare where there is none
	 * while the meter is open. A meter closing meanwhile (jst_domtab_close:
	 * open cleared, then the spare taken) either sees the one parked here or
	 * has cleared open before the second look below, which then takes the
	 * spare back itself. */
	struct jst_measurement *none = NULL;
	if (atomic_load(&t->open) && atomic_compare_exchange_strong(&t->spare, &none, m)) {
		if (atomic_load(&t->open))
			return;
		spare_drop(t);
		return;
	}
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
		for (size_t i = 0; i < m->n; i++)
			m->doms[i].counted =
			    jst_totals_counted(jst_totals_counted_in(m->doms, m->n, i));
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
