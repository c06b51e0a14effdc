/*
 * joulestatd's sources: the library's own backends (powercap, then the perf
 * PMU, then MSRs: the same counters, other ways; or a PTD analyser, a BMC),
 * probed with the daemon's privileges before it drops them. Their
 * descriptors stay open. A backend hands each value over once ("unchanged"
 * and a mean's gap are relative to the previous read), and the daemon's reads
 * serve many clients at other times: so each domain keeps its latest value,
 * a count of the values handed over and the running total its means' gaps
 * are differenced from (daemon_proto.h), which any client can read at any time.
 */
#include "joulestatd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jstd_sources {
	const struct jst_backend_ops *ops;
	void *state;
	size_t n;
	struct jst_dproto_domain dom[JST_DPROTO_DOMAINS_MAX];
	struct jst_raw raw[JST_DPROTO_DOMAINS_MAX];
	unsigned flags;     /* JST_READ_TELEMETRY where a domain needs it for its power */
	char options[8192]; /* resolved: a backend's state may point into them */
	struct held {
		struct jst_dproto_reading rd; /* the latest value handed over */
		int64_t t_ns;
		double total_j; /* the means' running total at the latest mean's end */
	} held[JST_DPROTO_DOMAINS_MAX];
};

static const struct jst_backend_ops *backend_named(const char *name)
{
	for (size_t i = 0; i < jst_registry_count(); i++)
		if (!strcmp(jst_registry_get(i)->name, name))
			return jst_registry_get(i);
	return NULL;
}

/* The options as the library resolves them for its backends: what the
 * command line set, then each declared option's default (a backend such as
 * ptd reads every one of its options from the context, none unset). */
static int options_resolve(const struct jstd_settings *s, char *buf, size_t len)
{
	if (s->options_len + 1 > len)
		return -E2BIG;
	memcpy(buf, s->options, s->options_len + 1);
	size_t at = s->options_len;
	struct jst_backend_ctx ctx = {.options = buf};
	for (size_t i = 0; i < jst_registry_count(); i++) {
		const struct jst_option_desc *o = jst_registry_get(i)->options;
		for (; o && o->key; o++) {
			if (!o->dflt || jst_backend_option(&ctx, o->key, NULL))
				continue;
			int n = snprintf(buf + at, len - at, "%s=%s", o->key, o->dflt);
			if (n < 0 || (size_t)n + 2 > len - at)
				return -E2BIG;
			at += (size_t)n + 1;
			buf[at] = 0;
		}
	}
	return 0;
}

int jstd_sources_open(const struct jstd_settings *s, struct jstd_sources **out)
{
	struct jstd_sources *src = calloc(1, sizeof *src);
	if (!src)
		return -ENOMEM;
	if (options_resolve(s, src->options, sizeof src->options)) {
		fprintf(stderr, "joulestatd: too many options\n");
		free(src);
		return -E2BIG;
	}
	struct jst_backend_ctx ctx = {.options = src->options};
	char list[256], reason[JST_REASON_MAX];
	/* Every name checked first: a typo is an error even behind one that works. */
	snprintf(list, sizeof list, "%s", s->backends);
	for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		/* Serving itself, or a model, is never what a client asks the daemon for. */
		if (!backend_named(tok) || !strcmp(tok, "daemon") || !strcmp(tok, "estimate")) {
			fprintf(stderr, "joulestatd: %s: not a backend joulestatd serves\n", tok);
			free(src);
			return -EINVAL;
		}
	}
	snprintf(list, sizeof list, "%s", s->backends);
	for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		const struct jst_backend_ops *ops = backend_named(tok);
		void *state = NULL;
		reason[0] = 0;
		int rc = ops->probe(&ctx, &state, reason, sizeof reason);
		if (rc < 0) {
			fprintf(stderr, "joulestatd: %s: %s\n", tok,
			        reason[0] ? reason : strerror(-rc));
			continue;
		}
		const struct jst_domain_desc *d;
		size_t n = ops->domains(state, &d);
		if (n == 0) {
			ops->close(state);
			fprintf(stderr, "joulestatd: %s: no devices found\n", tok);
			continue;
		}
		if (n > JST_DPROTO_DOMAINS_MAX) {
			fprintf(stderr, "joulestatd: %s: %zu domains, serving the first %d\n", tok,
			        n, JST_DPROTO_DOMAINS_MAX);
			n = JST_DPROTO_DOMAINS_MAX;
		}
		src->ops = ops;
		src->state = state;
		src->n = n;
		for (size_t i = 0; i < n; i++) {
			src->dom[i].desc = d[i];
			/* A parent beyond what is served would point nowhere. */
			if (d[i].parent >= (int)n)
				src->dom[i].desc.parent = -1;
			snprintf(src->dom[i].via, sizeof src->dom[i].via, "%s", ops->name);
			/* A BMC hands its power over with telemetry only (bmc_poll.c). */
			if (d[i].method == JST_METHOD_POWER)
				src->flags = JST_READ_TELEMETRY;
			src->held[i].rd = (struct jst_dproto_reading){
			    .temperature_c = NAN,
			    .utilization_pct = NAN,
			    .clock_mhz = NAN,
			    .power_limit_w = NAN,
			    .telemetry_power_w = NAN,
			};
		}
		*out = src;
		return 0;
	}
	free(src);
	return -ENODEV;
}

size_t jstd_sources_count(const struct jstd_sources *src)
{
	return src->n;
}

const struct jst_dproto_domain *jstd_sources_domain(const struct jstd_sources *src, size_t i)
{
	return i < src->n ? &src->dom[i] : NULL;
}

/* A mean handed over: its energy and the gap before it join the running
 * total, or the gap is unknown (the backend's first mean after a loss) and
 * the epoch says so. A gap a little below zero (an integrator's rounding
 * against power x refresh, where no sample was missed) is known: it is
 * added, so that a client's gap over many means is their sum; a client's
 * gap that comes out negative is the core's to ignore, as it is directly. */
static void held_mean(struct jstd_sources *src, size_t i, const struct jst_raw *r)
{
	struct held *h = &src->held[i];
	double refresh = r->refresh_s > 0 ? r->refresh_s : src->dom[i].desc.refresh_s;
	double mean_j = r->power_w * refresh;
	int known = h->rd.value_seq > 0 && isfinite(r->gap_j);
	if (!(isfinite(mean_j) && mean_j >= 0))
		mean_j = 0;
	if (h->rd.value_seq > 0 && !known)
		h->rd.gap_epoch++;
	double start = h->total_j + (known ? r->gap_j : 0);
	if (start < 0)
		start = 0;
	/* A total past its bound starts again, in a new epoch. */
	if (start + mean_j > JST_DPROTO_TOTAL_J_MAX) {
		start = 0;
		h->rd.gap_epoch++;
	}
	h->rd.mean_start_j = start;
	h->rd.mean_end_j = start + mean_j;
	h->total_j = h->rd.mean_end_j;
}

/* A backend's running total, kept as the protocol bounds it. */
static double total(double v, double max)
{
	return isfinite(v) && v >= 0 ? (v < max ? v : max) : 0;
}

/* A telemetry value the protocol carries, or NaN. */
static double tele(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi ? v : NAN;
}

const char *jstd_sources_need_v2(const struct jstd_sources *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (src->dom[i].desc.power_mean)
			return "power means";
		if (src->dom[i].desc.covers)
			return "a domain that covers others";
	}
	return NULL;
}

void jstd_sources_read(struct jstd_sources *src, struct jst_dproto_reading *out, int64_t *t_ns)
{
	for (size_t i = 0; i < src->n; i++)
		jst_raw_clear(&src->raw[i]);
	int64_t t0 = jstd_now_ns();
	int rc = src->ops->read(src->state, src->raw, src->n, src->flags);
	int64_t t1 = jstd_now_ns();
	for (size_t i = 0; i < src->n; i++) {
		const struct jst_raw *r = &src->raw[i];
		struct held *h = &src->held[i];
		int status = rc < 0 ? rc : r->status;
		if (status == 0) {
			h->rd.counter = r->counter;
			h->rd.power_w = r->power_w;
			/* Where the backend did not stamp its value: the middle of its read. */
			h->t_ns = r->t_ns > 0 ? r->t_ns : t0 + (t1 - t0) / 2;
			h->rd.t_err_ns = r->t_ns > 0 ? r->t_err_ns : (t1 - t0) / 2;
			h->rd.refresh_s =
			    isfinite(r->refresh_s) && r->refresh_s > 0 && r->refresh_s <= 3600
			        ? r->refresh_s
			        : 0;
			h->rd.temperature_c = tele(r->temperature_c, -273.15, 1000);
			h->rd.utilization_pct = tele(r->utilization_pct, 0, 100);
			h->rd.clock_mhz = tele(r->clock_mhz, 0, 1e6);
			h->rd.power_limit_w = tele(r->power_limit_w, 0, 1e7);
			h->rd.telemetry_power_w = tele(r->telemetry_power_w, -1e7, 1e7);
			if (src->dom[i].desc.power_mean)
				held_mean(src, i, r);
			h->rd.value_seq++;
		}
		/* The backend's totals whatever the reading: they only grow. */
		if (status == 0 || status == JST_RAW_UNCHANGED) {
			if (r->unseen_u_j > h->rd.unseen_u_j)
				h->rd.unseen_u_j = total(r->unseen_u_j, JST_DPROTO_TOTAL_J_MAX);
			if (r->unseen_s > h->rd.unseen_s)
				h->rd.unseen_s = total(r->unseen_s, JST_DPROTO_UNSEEN_S_MAX);
		}
		out[i] = h->rd;
		t_ns[i] = h->t_ns;
		/* Unchanged: the latest value, as it was. A failure: its code, and
		 * the latest value beside it (its count tells a client it is old). */
		out[i].status = status == JST_RAW_UNCHANGED ? 0 : status > 0 ? -EIO : status;
		if (h->rd.value_seq == 0)
			t_ns[i] = t0 + (t1 - t0) / 2;
	}
}

void jstd_sources_close(struct jstd_sources *src)
{
	if (!src)
		return;
	if (src->ops)
		src->ops->close(src->state);
	free(src);
}
