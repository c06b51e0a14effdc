/* Named windows: begun and ended by name, nested and overlapping, from any thread. */
#include "measurement_internal.h"
#include "meter_internal.h"
#include "totals.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct jst_window **find(struct jst_meter *m, const char *name)
{
	struct jst_window **pp = &m->windows;
	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

void jst_window_free(struct jst_window *w)
{
	free(w);
}

/* One allocation: the per-domain state, then the name. */
static struct jst_window *window_new(const char *name, size_t n)
{
	size_t len = strlen(name) + 1;
	struct jst_window *w = malloc(sizeof *w + n * sizeof w->dom[0] + len);
	if (!w)
		return NULL;
	w->name = memcpy((char *)(w->dom + n), name, len);
	return w;
}

/* A fresh reading at each edge, so that power-only domains are integrated up to
 * the edge itself and counters are read at it. */
static int64_t edge_read(struct jst_meter *m)
{
	return jst_meter_read_locked(m, 0, 0);
}

int jst_window_begin(jst_meter *m, const char *name)
{
	if (!m || !name || !*name)
		return -EINVAL;
	if (m->ndoms == 0)
		return -ENODEV;
	struct jst_window *w = window_new(name, m->ndoms);
	if (!w)
		return -ENOMEM;

	pthread_mutex_lock(&m->mu);
	if (*find(m, name)) {
		pthread_mutex_unlock(&m->mu);
		jst_window_free(w);
		return -EEXIST;
	}
	w->begin_ns = edge_read(m);
	for (size_t i = 0; i < m->ndoms; i++) {
		const struct jst_dom *dom = &m->doms[i];
		/* A power reading at the edge belongs to the window; a counter's power
		 * over the interval before it does not. */
		int edge_power = dom->desc.method == JST_METHOD_POWER && dom->power_fresh;
		w->dom[i] = (struct jst_wdom){
		    .energy0 = dom->energy_j,
		    .peak_w = edge_power ? dom->power_w : NAN,
		    .disc0 = dom->counter.discontinuities,
		    .failed0 = dom->failed,
		    .tel = {.temp_max = NAN, .power_limit = NAN},
		};
	}
	w->next = m->windows;
	m->windows = w;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* A figure that ended early or lost intervals says why in a note of its own;
 * any other shows its domain's caveat from the shared table. */
static int own_note(const struct jst_dom *dom, const struct jst_wdom *wd)
{
	return wd->failed0 || dom->failed || dom->counter.discontinuities != wd->disc0;
}

static void write_note(const struct jst_dom *dom, const struct jst_window *w,
                       const struct jst_wdom *wd, char *note)
{
	unsigned disc = dom->counter.discontinuities - wd->disc0;
	if (wd->failed0)
		snprintf(note, JST_MNOTE_MAX, "failed before the window began: %s", dom->failure);
	else if (dom->failed)
		snprintf(note, JST_MNOTE_MAX, "%s; figure ends %.3f s into the window",
		         dom->failure, (double)(dom->failed_t_ns - w->begin_ns) * 1e-9);
	else
		snprintf(note, JST_MNOTE_MAX,
		         "counter went backwards or jumped %u time(s) (reset or driver reload): "
		         "those intervals are not counted",
		         disc);
}

static void fill_domain(const struct jst_meter *m, const struct jst_window *w, size_t i,
                        double duration, jst_domain_energy *p)
{
	const struct jst_dom *dom = &m->doms[i];
	const struct jst_domain_desc *d = &dom->desc;
	const struct jst_domstr *s = &m->tab->dom[i];
	const struct jst_wdom *wd = &w->dom[i];

	*p = (jst_domain_energy){
	    .name = s->name,
	    .kind = d->kind,
	    .device = s->device,
	    .backend = s->backend,
	    .method = d->method,
	    .source = s->source,
	    .accuracy = d->accuracy,
	    .energy_j = wd->failed0 ? 0 : dom->energy_j - wd->energy0,
	    .peak_power_w = wd->peak_w,
	    .samples = wd->samples,
	    .parent = dom->parent,
	    .primary = dom->primary,
	    .note = s->note,
	    .temperature_max_c = wd->tel.temp_max,
	    .utilization_mean_pct = wd->tel.util_n ? wd->tel.util_sum / wd->tel.util_n : NAN,
	    .clock_mean_mhz = wd->tel.clock_n ? wd->tel.clock_sum / wd->tel.clock_n : NAN,
	    .power_limit_w = wd->tel.power_limit,
	};
	if (p->energy_j < 0) /* cannot happen with the core's arithmetic; never report it */
		p->energy_j = 0;
	p->avg_power_w = duration > 0 ? p->energy_j / duration : NAN;
}

/* The measurement of window w ending at end; called with the meter's lock held. */
static struct jst_measurement *measure(const struct jst_meter *m, const struct jst_window *w,
                                       int64_t end)
{
	size_t nnotes = 0;
	for (size_t i = 0; i < m->ndoms; i++)
		nnotes += own_note(&m->doms[i], &w->dom[i]);
	struct jst_measurement *ms = jst_measurement_new(m->tab, w->name, m->ndoms, nnotes);
	if (!ms)
		return NULL;
	ms->begin_ns = w->begin_ns;
	ms->end_ns = end;
	ms->partial = 0;
	double duration = (double)(end - w->begin_ns) * 1e-9;
	for (size_t i = 0, k = 0; i < m->ndoms; i++) {
		jst_domain_energy *p = &ms->doms[i];
		fill_domain(m, w, i, duration, p);
		if (own_note(&m->doms[i], &w->dom[i])) {
			write_note(&m->doms[i], w, &w->dom[i], ms->notes[k]);
			p->note = ms->notes[k++];
			p->partial = 1;
		}
		ms->partial |= p->partial;
	}
	return ms;
}

int jst_window_end(jst_meter *m, const char *name, jst_measurement **out)
{
	if (out)
		*out = NULL;
	if (!m || !name)
		return -EINVAL;

	pthread_mutex_lock(&m->mu);
	struct jst_window **pp = find(m, name);
	struct jst_window *w = *pp;
	if (!w) {
		pthread_mutex_unlock(&m->mu);
		return -ENOENT;
	}
	struct jst_measurement *ms = NULL;
	int64_t end = edge_read(m);
	if (out && !(ms = measure(m, w, end))) {
		pthread_mutex_unlock(&m->mu);
		return -ENOMEM; /* the window stays open: the caller may retry */
	}
	*pp = w->next;
	pthread_mutex_unlock(&m->mu);
	jst_window_free(w);

	if (ms) {
		jst_totals_compute(ms->doms, ms->n, jst_measurement_duration(ms), ms->totals);
		*out = ms;
	}
	return 0;
}

int jst_window_cancel(jst_meter *m, const char *name)
{
	if (!m || !name)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	struct jst_window **pp = find(m, name);
	struct jst_window *w = *pp;
	if (w)
		*pp = w->next;
	pthread_mutex_unlock(&m->mu);
	if (!w)
		return -ENOENT;
	jst_window_free(w);
	return 0;
}
