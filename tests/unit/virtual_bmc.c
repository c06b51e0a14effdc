/* A BMC node meter in virtual time, polled by the backends' own poller (see
 * virtual_bmc.h). */
#include "virtual_bmc.h"

#include "bmc_poll.h"
#include "meter_internal.h"
#include "virtual_sensor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vb_bmc *vb_cur; /* the one open */

static double vb_uniform(uint64_t *s, double lo, double hi)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

double vb_bmc_power(const struct vb_bmc *b, double t)
{
	double r = b->refresh_s;
	double u = b->phase_s + floor((t - b->phase_s) / r) * r;
	double from = u - r > 0 ? u - r : 0;
	if (u <= from)
		return sim_trace_power(b->tr, 0);
	return nearbyint(sim_trace_energy(b->tr, from, u) / (u - from));
}

/* The refresh the backend declares (and its poller runs on). */
static double vb_declared(const struct vb_bmc *b)
{
	return b->declared_s > 0 ? b->declared_s : b->refresh_s;
}

static int64_t vb_poll_now(void)
{
	return vb_cur->poll_clock;
}

/* The poller's fetch: the request went out at poll_clock and comes back
 * latency_now later; the BMC answered anywhere in between (a loaded BMC or
 * network need not split the time evenly). */
static int vb_fetch(void *arg, struct jst_bmc_value *v, size_t n, char *err, size_t errlen)
{
	struct vb_bmc *b = arg;
	(void)err;
	(void)errlen;
	int64_t lat = (int64_t)llround(b->latency_now * 1e9);
	double at = vs_trace_s(b->poll_clock) + vb_uniform(&b->rng, 0, b->latency_now);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct jst_bmc_value){.power_w = vb_bmc_power(b, at)};
	b->poll_clock += lat;
	return 0;
}

static int vb_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	(void)ctx;
	struct vb_bmc *b = vb_cur;
	struct jst_bmc_value first = {.power_w = vb_bmc_power(b, vs_trace_s(vs_now))};
	b->poll_clock = vs_now;
	b->poll =
	    jst_bmc_poll_start_stepped(1, vb_declared(b), vb_fetch, b, &first, vs_now, vb_poll_now);
	if (!b->poll) {
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	*state = b;
	return 0;
}

static size_t vb_domains(void *state, const struct jst_domain_desc **out)
{
	struct vb_bmc *b = state;
	*out = &b->desc;
	return 1;
}

static int vb_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct vb_bmc *b = state;
	jst_bmc_poll_fill(b->poll, &b->desc, out, n, flags, "virtual bmc");
	return 0;
}

static void vb_close_state(void *state)
{
	struct vb_bmc *b = state;
	jst_bmc_poll_stop(b->poll);
	b->poll = NULL;
}

static const struct jst_backend_ops vb_ops = {
    .name = "virtual-bmc",
    .description = "a BMC's node power in virtual time",
    .accuracy = 0.05,
    .probe = vb_probe,
    .domains = vb_domains,
    .read = vb_read,
    .close = vb_close_state,
};

/* The next poll: every half refresh, some begun late; its answer arrives a
 * latency later. */
static void vb_schedule(struct vb_bmc *b, int64_t from)
{
	b->next_poll = from;
	int64_t start = from;
	if (vb_uniform(&b->rng, 0, 1) < b->late_share) {
		start += (int64_t)llround(vb_uniform(&b->rng, 0, b->late_s) * 1e9);
		b->late_polls++;
	}
	b->latency_now = vb_uniform(&b->rng, b->latency_s[0], b->latency_s[1]);
	b->poll_clock = start;
	b->poll_arrival = start + (int64_t)llround(b->latency_now * 1e9);
}

int vb_open(struct vb_bmc *b, double open_s)
{
	vb_cur = b;
	jst_clock_ns = vs_clock;
	vs_now = vs_ns(open_s);
	memset(&b->desc, 0, sizeof b->desc);
	snprintf(b->desc.name, sizeof b->desc.name, "bmc");
	snprintf(b->desc.device, sizeof b->desc.device, "node:bmc:virtual");
	snprintf(b->desc.source, sizeof b->desc.source, "virtual-bmc");
	b->desc.kind = JST_KIND_NODE;
	b->desc.method = JST_METHOD_POWER;
	b->desc.accuracy = 0.05;
	b->desc.parent = -1;
	b->desc.refresh_s = vb_declared(b);
	b->desc.power_mean = 1; /* a mean over its refresh, as redfish and ipmi state */
	b->desc.max_power_w = b->max_power_w;
	b->polls = b->late_polls = 0;
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 600000; /* the real sampler thread never reads */
	const struct jst_backend_ops *ops[] = {&vb_ops};
	int r = jst_meter_open_backends(&cfg, ops, 1, &b->m);
	if (r)
		return r;
	int64_t interval = (int64_t)llround(vb_declared(b) * 1e9) / 2;
	b->next_sample = vs_now + (int64_t)llround(b->sample_s * 1e9);
	vb_schedule(b, vs_now + interval);
	return 0;
}

void vb_advance(struct vb_bmc *b, double t)
{
	int64_t to = vs_ns(t);
	int64_t interval = (int64_t)llround(vb_declared(b) * 1e9) / 2;
	int64_t sample = (int64_t)llround(b->sample_s * 1e9);
	for (;;) {
		int64_t next = b->poll_arrival < b->next_sample ? b->poll_arrival : b->next_sample;
		if (next > to)
			break;
		vs_now = next;
		if (next == b->poll_arrival) {
			/* The poller's clock runs the fetch from its start
			 * (vb_schedule set it). */
			jst_bmc_poll_step(b->poll);
			b->polls++;
			/* Keep the phase; a poll slower than the interval is
			 * followed at once. */
			int64_t n = b->next_poll + interval;
			vb_schedule(b, n > vs_now ? n : vs_now);
		} else {
			jst_meter_read(b->m, JST_READ_SAMPLER | JST_READ_TELE, NULL);
			b->next_sample += sample;
		}
	}
	if (to > vs_now)
		vs_now = to;
}

void vb_close(struct vb_bmc *b)
{
	jst_meter_close(b->m);
	b->m = NULL;
	jst_clock_ns = jst_real_now_ns;
	vb_cur = NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int vb_windows(const struct vb_case *c, int meters, uint64_t seed, struct vb_stats *st)
{
	memset(st, 0, sizeof *st);
	char msg[128];
	struct sim_trace *tr = sim_trace_parse(c->trace, msg, sizeof msg);
	if (!tr) {
		fprintf(stderr, "vb_windows: %s\n", msg);
		return -1;
	}
	uint64_t rng = seed;
	double sum_err = 0, sum_u = 0;
	size_t nu = (size_t)meters * (size_t)c->windows_per_meter;
	double *us = calloc(nu ? nu : 1, sizeof *us);
	if (!us) {
		sim_trace_free(tr);
		return -1;
	}
	for (int k = 0; k < meters; k++) {
		struct vb_bmc b = {
		    .tr = tr,
		    .refresh_s = c->refresh_s,
		    .declared_s = c->declared_s,
		    .phase_s = vb_uniform(&rng, 0, c->refresh_s),
		    .latency_s = {0.02, c->latency_hi_s > 0 ? c->latency_hi_s : 0.25},
		    .late_share = c->late_share,
		    .late_s = c->declared_s > 0 ? c->declared_s : c->refresh_s,
		    .max_power_w = c->max_power_w,
		    /* The sampler reads a refresh at least twice (a 100 ms
		     * analyser's every 25 ms). */
		    .sample_s = c->sample_s > 0      ? c->sample_s
		                : c->refresh_s < 0.4 ? c->refresh_s / 4
		                                     : 0.1,
		    .rng = rng ^ 0x9e3779b97f4a7c15ULL,
		};
		vb_uniform(&rng, 0, 1);
		double t = 1 + vb_uniform(&rng, 0, 10);
		vs_reset();
		if (vb_open(&b, t))
			goto fail;
		for (int i = 0; i < c->windows_per_meter; i++) {
			/* The first as a run begins: soon after the meter opened. */
			double bgn =
			    t + vb_uniform(&rng, 0.05, i ? 2.0 : 1.0) + (i ? 0 : c->first_s);
			double end = bgn + c->len_s;
			jst_window *w = NULL;
			jst_measurement *ms = NULL;
			jst_domain_energy d = {.size = sizeof d};
			vb_advance(&b, bgn);
			if (jst_window_begin(b.m, "w", &w))
				goto fail;
			vb_advance(&b, end);
			if (jst_window_end(w, &ms) || jst_measurement_domain(ms, 0, &d))
				goto fail;
			double truth = sim_trace_energy(tr, bgn, end);
			double err = fabs(d.energy_j - truth);
			st->n++;
			st->covered += err <= d.uncertainty_j + 1e-9 * truth;
			sum_err += err / truth;
			sum_u += d.uncertainty_j / truth;
			us[st->n - 1] = d.uncertainty_j / truth;
			if (err / truth > st->worst_err)
				st->worst_err = err / truth;
			if (d.uncertainty_j > 0 && err / d.uncertainty_j > st->worst_ratio)
				st->worst_ratio = err / d.uncertainty_j;
			if (d.uncertainty_j / truth > st->worst_u)
				st->worst_u = d.uncertainty_j / truth;
			jst_measurement_free(ms);
			t = end;
		}
		st->polls += b.polls;
		st->late_polls += b.late_polls;
		vb_close(&b);
	}
	st->mean_err = st->n ? sum_err / st->n : 0;
	st->mean_u = st->n ? sum_u / st->n : 0;
	qsort(us, st->n, sizeof *us, cmp_double);
	st->median_u = st->n ? us[st->n / 2] : 0;
	free(us);
	sim_trace_free(tr);
	return 0;
fail:
	free(us);
	sim_trace_free(tr);
	return -1;
}
