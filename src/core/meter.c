/* The meter: opened from the configuration, closed, enumerated. Probing and
 * layout are in probe.c, reading and folding in read.c, windows in window.c. */
#include "abi.h"
#include "measurement_internal.h"
#include "meter_internal.h"
#include "process.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t jst_real_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t (*jst_clock_ns)(void) = jst_real_now_ns;

int64_t jst_now_ns(void)
{
	return jst_clock_ns();
}

static void meter_free(struct jst_meter *m)
{
	for (struct jst_window *w = m->windows, *next; w; w = next) {
		next = w->next;
		jst_window_free(w);
	}
	jst_window_free(atomic_load_explicit(&m->spare, memory_order_acquire));
	jst_domtab_close(m->tab);
	for (size_t i = 0; i < m->ndoms; i++)
		jst_series_free(&m->doms[i].series);
	for (size_t i = 0; i < m->nbackends; i++) {
		struct jst_be *be = &m->backends[i];
		if (be->state && be->ops->close)
			be->ops->close(be->state);
		if (be->io_init)
			pthread_mutex_destroy(&be->io);
		free(be->map);
		free(be->raw);
	}
	free(m->backends);
	free(m->active);
	free(m->doms);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->smu);
	pthread_cond_destroy(&m->scond);
	free(m);
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
	atomic_init(&m->spare, NULL);
	pthread_mutex_init(&m->smu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->scond, &ca);
	pthread_condattr_destroy(&ca);
	m->cross_validate = rc.cross_validate;
	m->edge_hold = rc.edge_hold;
	m->series_capacity = rc.series_capacity;
	m->pid = jst_self_pid();

	if ((r = jst_meter_layout(m, &rc, ops, nops))) {
		meter_free(m);
		return r;
	}
	if (m->nbackends && !(m->active = calloc(m->nbackends, sizeof *m->active))) {
		meter_free(m);
		return -ENOMEM;
	}
	for (size_t b = 0; b < m->nbackends; b++)
		if (m->backends[b].active)
			m->active[m->nactive++] = b;
	m->settled = !jst_meter_sensors_measuring(m);
	if (m->ndoms) {
		jst_meter_read(m, JST_READ_TELE, NULL); /* the base of every counter */
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
	if (m->pid != jst_self_pid())
		return; /* a forked child's copy: its sampler and locks are the parent's */
	jst_sampler_stop(m);
	meter_free(m);
}

int jst_meter_settle(jst_meter *m, unsigned timeout_ms)
{
	if (!m)
		return -EINVAL;
	if (m->pid != jst_self_pid())
		return -ECHILD;
	int64_t deadline = jst_real_now_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec ts = {.tv_sec = deadline / 1000000000LL,
	                      .tv_nsec = deadline % 1000000000LL};
	int r = 0;
	pthread_mutex_lock(&m->smu);
	while (!m->settled && m->sampler_running && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&m->scond, &m->smu, &ts);
	int settled = m->settled || !m->sampler_running;
	pthread_mutex_unlock(&m->smu);
	return settled ? 0 : -ETIMEDOUT;
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
	jst_backend_info full = {
	    .name = be->ops->name,
	    .description = be->ops->description,
	    .accuracy = be->ops->accuracy,
	    .available = be->available,
	    .reason = be->reason,
	};
	return jst_abi_fill(out, &full, sizeof full, JST_BACKEND_INFO_V1);
}

size_t jst_meter_domain_count(const jst_meter *m)
{
	return m ? m->ndoms : 0;
}

int jst_meter_domain(const jst_meter *cm, size_t index, jst_domain_info *out)
{
	if (!cm || !out || index >= cm->ndoms || jst_abi_check(out, JST_DOMAIN_INFO_V1))
		return -EINVAL;
	if (cm->pid != jst_self_pid())
		return -ECHILD;
	/* The sensor's refresh may be measured by the sampler meanwhile. */
	struct jst_meter *m =
	    (struct jst_meter *)cm; // NOLINT(cppcoreguidelines-pro-type-const-cast)
	const struct jst_dom *dom = &m->doms[index];
	pthread_mutex_lock(&m->mu);
	double refresh = dom->sensor.refresh_s;
	int source = dom->sensor.refresh_source;
	pthread_mutex_unlock(&m->mu);
	jst_domain_info full = {
	    .name = dom->desc.name,
	    .kind = dom->desc.kind,
	    .device = dom->desc.device,
	    .backend = m->backends[dom->backend].ops->name,
	    .method = dom->desc.method,
	    .source = dom->desc.source,
	    .accuracy = dom->desc.accuracy,
	    .parent = dom->parent,
	    .primary = dom->primary,
	    .counted = dom->counted,
	    .sample_period_s = m->period_s,
	    .refresh_s = refresh,
	    .resolution_j = dom->sensor.resolution_j,
	    .max_power_w = dom->sensor.bound_w,
	    .refresh_source = source,
	    .note = dom->desc.note,
	};
	return jst_abi_fill(out, &full, sizeof full, JST_DOMAIN_INFO_V1);
}

int jst_meter_series(jst_meter *m, size_t domain, jst_sample *buf, size_t cap)
{
	if (!m || (!buf && cap) || domain >= m->ndoms || (cap && jst_abi_check(buf, JST_SAMPLE_V1)))
		return -EINVAL;
	if (m->pid != jst_self_pid())
		return -ECHILD;
	/* buf[0].size is the caller's stride. Its first cap * own bytes take the
	 * copy, then the samples move apart to that stride. */
	size_t stride = cap ? buf->size : sizeof *buf;
	size_t room = stride < sizeof *buf ? cap * stride / sizeof *buf : cap;
	pthread_mutex_lock(&m->mu);
	size_t n = jst_series_copy(&m->doms[domain].series, buf, room);
	pthread_mutex_unlock(&m->mu);
	if (stride >= sizeof *buf)
		jst_abi_spread(buf, n, sizeof *buf, stride);
	else /* a caller built against an older header: shrink in place, first first */
		for (size_t i = 0; i < n; i++) {
			memmove((char *)buf + i * stride, &buf[i], stride);
			memcpy((char *)buf + i * stride, &stride, sizeof stride);
		}
	return (int)n;
}

int jst_meter_sample_now(jst_meter *m, size_t domain, jst_sample *out)
{
	if (!m || !out || domain >= m->ndoms || jst_abi_check(out, JST_SAMPLE_V1))
		return -EINVAL;
	if (m->pid != jst_self_pid())
		return -ECHILD;
	jst_meter_read(m, JST_READ_TELE, NULL);
	pthread_mutex_lock(&m->mu);
	jst_sample s = m->doms[domain].latest;
	int failed = m->doms[domain].failed;
	pthread_mutex_unlock(&m->mu);
	jst_abi_fill(out, &s, sizeof s, JST_SAMPLE_V1);
	return failed ? -EIO : 0;
}
