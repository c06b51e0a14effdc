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
	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	return pp;
}

static void window_free(struct jst_window *w)
{
	free(w->name);
	free(w->energy0);
	free(w->peak_w);
	free(w->samples);
	free(w->disc0);
	free(w->failed0);
	free(w);
}

static struct jst_window *window_new(const char *name, size_t n)
{
	struct jst_window *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->name = strdup(name);
	w->energy0 = calloc(n, sizeof *w->energy0);
	w->peak_w = calloc(n, sizeof *w->peak_w);
	w->samples = calloc(n, sizeof *w->samples);
	w->disc0 = calloc(n, sizeof *w->disc0);
	w->failed0 = calloc(n, sizeof *w->failed0);
	if (!w->name || !w->energy0 || !w->peak_w || !w->samples || !w->disc0 || !w->failed0) {
		window_free(w);
		return NULL;
	}
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
		window_free(w);
		return -EEXIST;
	}
	w->begin_ns = edge_read(m);
	for (size_t i = 0; i < m->ndoms; i++) {
		const struct jst_dom *dom = &m->doms[i];
		w->energy0[i] = dom->energy_j;
		w->disc0[i] = dom->counter.discontinuities;
		w->failed0[i] = dom->failed;
		/* A power reading at the edge belongs to the window; a counter's power
		 * over the interval before it does not. */
		w->peak_w[i] = dom->desc.method == JST_METHOD_POWER && dom->power_fresh ? dom->power_w
											: NAN;
	}
	w->next = m->windows;
	m->windows = w;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static void fill_domain(const struct jst_meter *m, const struct jst_window *w, size_t i,
			double duration, struct jst_mdom *md)
{
	const struct jst_dom *dom = &m->doms[i];
	const struct jst_domain_desc *d = &dom->desc;
	jst_domain_energy *p = &md->pub;

	snprintf(md->name, sizeof md->name, "%s", d->name);
	snprintf(md->device, sizeof md->device, "%s", d->device);
	snprintf(md->backend, sizeof md->backend, "%s", m->backends[dom->backend].ops->name);
	snprintf(md->source, sizeof md->source, "%s", d->source);

	*p = (jst_domain_energy){
		.name = md->name,
		.kind = d->kind,
		.device = md->device,
		.backend = md->backend,
		.method = d->method,
		.source = md->source,
		.accuracy = d->accuracy,
		.energy_j = w->failed0[i] ? 0 : dom->energy_j - w->energy0[i],
		.peak_power_w = w->peak_w[i],
		.samples = w->samples[i],
		.parent = dom->parent,
		.primary = dom->primary,
		.note = md->note,
	};
	if (p->energy_j < 0) /* cannot happen with the core's arithmetic; never report it */
		p->energy_j = 0;
	p->avg_power_w = duration > 0 ? p->energy_j / duration : NAN;

	unsigned disc = dom->counter.discontinuities - w->disc0[i];
	if (w->failed0[i]) {
		p->partial = 1;
		snprintf(md->note, sizeof md->note, "failed before the window began: %s",
			 dom->failure);
	} else if (dom->failed) {
		p->partial = 1;
		snprintf(md->note, sizeof md->note, "%s; figure ends %.3f s into the window",
			 dom->failure, (double)(dom->failed_t_ns - w->begin_ns) * 1e-9);
	} else if (disc) {
		p->partial = 1;
		snprintf(md->note, sizeof md->note,
			 "counter went backwards or jumped %u time(s) (reset or driver reload): "
			 "those intervals are not counted",
			 disc);
	} else {
		snprintf(md->note, sizeof md->note, "%s", d->note);
	}
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
	if (out) {
		ms = jst_measurement_new(name, m->ndoms);
		if (!ms) {
			pthread_mutex_unlock(&m->mu);
			return -ENOMEM; /* the window stays open: the caller may retry */
		}
		ms->begin_ns = w->begin_ns;
		ms->end_ns = end;
		double duration = (double)(end - w->begin_ns) * 1e-9;
		for (size_t i = 0; i < m->ndoms; i++) {
			fill_domain(m, w, i, duration, &ms->doms[i]);
			ms->partial |= ms->doms[i].pub.partial;
		}
	}
	*pp = w->next;
	pthread_mutex_unlock(&m->mu);
	window_free(w);

	if (ms) {
		jst_domain_energy *pub = malloc(ms->n * sizeof *pub);
		if (!pub) {
			jst_measurement_free(ms);
			return -ENOMEM;
		}
		for (size_t i = 0; i < ms->n; i++)
			pub[i] = ms->doms[i].pub;
		jst_totals_compute(pub, ms->n, jst_measurement_duration(ms), ms->totals);
		free(pub);
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
	window_free(w);
	return 0;
}
