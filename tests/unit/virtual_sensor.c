/* A virtual clock and a trace-driven backend for the sensor model's tests and
 * the accuracy benchmark (see virtual_sensor.h). */
#include "virtual_sensor.h"

#include "meter_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct vs_backend vs_be;
int64_t vs_now = VS_ORIGIN_NS;

int64_t vs_clock(void)
{
	return vs_now;
}

void vs_reset(void)
{
	memset(&vs_be, 0, sizeof vs_be);
	vs_now = VS_ORIGIN_NS;
}

struct vs_dom *vs_add(const char *name, jst_kind kind, jst_method method,
                      const struct sim_trace *tr, double latch_s, double unit_j, double accuracy)
{
	struct vs_dom *d = &vs_be.dom[vs_be.n++];
	memset(d, 0, sizeof *d);
	snprintf(d->desc.name, sizeof d->desc.name, "%s", name);
	snprintf(d->desc.device, sizeof d->desc.device, "virtual:%s", name);
	snprintf(d->desc.source, sizeof d->desc.source, "virtual");
	d->desc.kind = kind;
	d->desc.method = method;
	d->desc.accuracy = accuracy;
	d->desc.parent = -1;
	d->desc.unit_j = method == JST_METHOD_POWER ? 0 : unit_j;
	d->desc.refresh_s = latch_s;
	d->tr = tr;
	d->latch_s = latch_s;
	d->stamp = 1;
	return d;
}

/* A wrapping counter (desc.modulus set) shows its count modulo its range. */
static uint64_t units(const struct vs_dom *d, double e)
{
	uint64_t u = e > 0 ? (uint64_t)floor(e / d->desc.unit_j) : 0;
	return d->desc.modulus ? u % d->desc.modulus : u;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A pseudo-random number in [0, 1) from x. */
static double unit(uint64_t x)
{
	return (double)(mix(x) >> 11) * 0x1p-53;
}

double vs_latch_at(const struct vs_dom *d, int64_t k)
{
	double l = d->phase_s + (double)k * d->latch_s;
	if (d->jitter_s > 0)
		l += (2 * unit(d->jitter_seed * 0x100000001b3ULL + (uint64_t)k) - 1) * d->jitter_s;
	return l;
}

uint64_t vs_counter_at(const struct vs_dom *d, double t)
{
	double latch = t;
	double until = d->shift_s > 0 && t >= d->shift_s ? d->shift_s : t;
	if (d->latch_s > 0 && d->jitter_s > 0) {
		/* The jitter below half a refresh: the latch is k + 1, k or k - 1. */
		int64_t k = (int64_t)floor((until - d->phase_s) / d->latch_s) + 1;
		while (vs_latch_at(d, k) > until)
			k--;
		latch = vs_latch_at(d, k);
	} else if (d->latch_s > 0)
		latch = d->phase_s + floor((until - d->phase_s) / d->latch_s) * d->latch_s;
	if (until < t) {
		/* The moved grid's latest latch, where one came since the move. */
		double l2 = d->shift_phase_s +
		            floor((t - d->shift_phase_s) / d->shift_latch_s) * d->shift_latch_s;
		if (l2 >= d->shift_s)
			latch = l2;
	}
	if (latch < 0)
		latch = 0;
	if (d->reset_s > 0 && latch >= d->reset_s)
		return units(d, sim_trace_energy(d->tr, d->reset_s, latch));
	if (d->reset_s > 0 && d->reset_now && t >= d->reset_s)
		return 0;
	return units(d, sim_trace_energy(d->tr, 0, latch));
}

static int probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	(void)ctx;
	(void)reason;
	(void)len;
	*state = &vs_be;
	return 0;
}

/* The descriptors are copied out of the domains into one array. */
static struct jst_domain_desc descs[VS_MAX];

static size_t domains(void *state, const struct jst_domain_desc **out)
{
	struct vs_backend *b = state;
	for (size_t i = 0; i < b->n; i++)
		descs[i] = b->dom[i].desc;
	*out = descs;
	return b->n;
}

static int read_all(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct vs_backend *b = state;
	for (size_t i = 0; i < n && i < b->n; i++) {
		struct vs_dom *d = &b->dom[i];
		struct jst_raw *raw = &out[i];
		double t = vs_trace_s(vs_now);
		d->reads++;
		if (d->stamp)
			raw->t_ns = vs_now;
		if (d->read_s > 0 || d->read_spread_s > 0) {
			/* The call lasts dur around vs_now; its value is taken
			 * somewhere inside. Drawn from the instant, so that two
			 * meters reading at one instant see the same. */
			uint64_t h = (uint64_t)vs_now * 31 + i;
			int64_t dur = vs_ns(d->read_s + d->read_spread_s * unit(h)) - VS_ORIGIN_NS;
			int64_t at = (int64_t)(unit(h ^ 0xabcdefULL) * (double)dur) - dur / 2;
			t = vs_trace_s(vs_now + at);
			raw->t_ns = vs_now;
			raw->t_err_ns = dur - dur / 2;
		}
		if (d->fail_from_s < d->fail_to_s && t >= d->fail_from_s && t < d->fail_to_s) {
			raw->status = d->fail_status ? d->fail_status : -EIO;
			snprintf(raw->error, sizeof raw->error, "%s: virtual read failed",
			         d->desc.name);
			continue;
		}
		if (d->desc.method == JST_METHOD_POWER && d->mean) {
			long k = (long)floor((t - d->phase_s) / d->latch_s);
			double end = d->phase_s + (double)k * d->latch_s;
			if (k + 1 == d->mean_k || end - d->latch_s < 0) {
				raw->status = JST_RAW_UNCHANGED;
				raw->t_ns = 0;
				continue;
			}
			d->mean_k = k + 1;
			raw->power_w = sim_trace_energy(d->tr, end - d->latch_s, end) / d->latch_s;
			raw->t_ns = vs_ns(end - 0.5 * d->latch_s);
		} else if (d->desc.method == JST_METHOD_POWER && d->sampled) {
			double k = floor((t - d->phase_s) / d->latch_s);
			double at = d->phase_s + k * d->latch_s;
			raw->power_w = sim_trace_power(d->tr, at > 0 ? at : 0);
		} else if (d->desc.method == JST_METHOD_POWER) {
			raw->power_w = sim_trace_power(d->tr, t);
		} else {
			double at = t;
			if (d->stale_s > 0 && !d->stale_reopened && t >= d->stale_s)
				at = d->stale_s; /* the file under the open fd no longer moves */
			raw->counter = vs_counter_at(d, at);
		}
		if (d->telemetry && (flags & JST_READ_TELEMETRY))
			raw->telemetry_power_w = sim_trace_power(d->tr, t);
		if (d->stall_s > 0 && t >= d->stall_at_s) {
			vs_now += vs_ns(d->stall_s) - VS_ORIGIN_NS;
			d->stall_s = 0;
		}
	}
	return 0;
}

static int reopen(void *state, size_t i)
{
	struct vs_backend *b = state;
	if (i >= b->n)
		return -EINVAL;
	b->dom[i].reopens++;
	b->dom[i].stale_reopened = 1;
	return 0;
}

static void close_vs(void *state)
{
	(void)state;
}

const struct jst_backend_ops vs_ops = {
    .name = "virtual",
    .description = "trace-driven sensors in virtual time",
    .accuracy = 0.05,
    .probe = probe,
    .domains = domains,
    .read = read_all,
    .close = close_vs,
};

const struct jst_backend_ops vs_ops_reopen = {
    .name = "virtual",
    .description = "trace-driven sensors in virtual time, reopenable",
    .accuracy = 0.05,
    .probe = probe,
    .domains = domains,
    .read = read_all,
    .close = close_vs,
    .reopen = reopen,
};

/* The virtual meter whose clock a settled end's pause advances. */
static struct vm *vs_current;
static void (*vs_real_sleep)(int64_t ns);

void vs_sleep(int64_t ns)
{
	vs_pauses++;
	if (vs_current)
		vm_advance(vs_current, vs_trace_s(vs_now + ns));
	else
		vs_now += ns;
}

unsigned vs_pauses;

int vm_open(struct vm *v, double open_s, double sample_s)
{
	*v = (struct vm){0};
	jst_clock_ns = vs_clock;
	if (jst_sleep_ns != vs_sleep)
		vs_real_sleep = jst_sleep_ns;
	jst_sleep_ns = vs_sleep;
	vs_current = v;
	vs_now = vs_ns(open_s);
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.sample_period_ms = 600000; /* the real sampler thread never reads */
	const struct jst_backend_ops *ops[] = {vs_be.with_reopen ? &vs_ops_reopen : &vs_ops};
	int r = jst_meter_open_backends(&cfg, ops, 1, &v->m);
	if (r)
		return r;
	v->sample_ns = sample_s > 0 ? (int64_t)llround(sample_s * 1e9) : 0;
	v->next_sample = vs_now + v->sample_ns;
	return 0;
}

void vm_advance(struct vm *v, double t)
{
	int64_t to = vs_ns(t);
	while (v->sample_ns && v->next_sample <= to) {
		/* Never back (a stalled read may have moved the clock past it). */
		if (v->next_sample > vs_now)
			vs_now = v->next_sample;
		jst_meter_read(v->m, JST_READ_SAMPLER | JST_READ_TELE, NULL);
		v->next_sample += v->sample_ns;
	}
	if (to > vs_now)
		vs_now = to;
}

void vm_close(struct vm *v)
{
	jst_meter_close(v->m);
	v->m = NULL;
	jst_clock_ns = jst_real_now_ns;
	if (vs_real_sleep)
		jst_sleep_ns = vs_real_sleep;
	vs_current = NULL;
}
