#include "fake_backend.h"
#include "named_windows.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct fake fake_a = {.mu = PTHREAD_MUTEX_INITIALIZER};
struct fake fake_b = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void fake_reset(struct fake *f)
{
	/* A test's windows died with its meter: forget their names. */
	tw_forget();
	pthread_mutex_lock(&f->mu);
	f->probe_rc = 0;
	f->reason = NULL;
	f->n = 0;
	f->reads = f->telemetry_reads = 0;
	f->temperature_c = 42.0;
	memset(f->counter, 0, sizeof f->counter);
	memset(f->clock_power_w, 0, sizeof f->clock_power_w);
	memset(f->status, 0, sizeof f->status);
	f->read_rc = 0;
	pthread_mutex_unlock(&f->mu);
}

size_t fake_add(struct fake *f, const char *name, jst_kind kind, const char *device,
                jst_method method, double accuracy, double unit_j, uint64_t modulus)
{
	pthread_mutex_lock(&f->mu);
	size_t i = f->n++;
	struct jst_domain_desc *d = &f->desc[i];
	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "%s", name);
	snprintf(d->device, sizeof d->device, "%s", device);
	snprintf(d->source, sizeof d->source, "fake");
	d->kind = kind;
	d->method = method;
	d->accuracy = accuracy;
	d->unit_j = unit_j;
	d->modulus = modulus;
	d->parent = -1;
	f->power_w[i] = 0;
	pthread_mutex_unlock(&f->mu);
	return i;
}

void fake_set_counter(struct fake *f, size_t i, uint64_t v)
{
	pthread_mutex_lock(&f->mu);
	f->counter[i] = v;
	pthread_mutex_unlock(&f->mu);
}

void fake_set_power(struct fake *f, size_t i, double w)
{
	pthread_mutex_lock(&f->mu);
	f->power_w[i] = w;
	pthread_mutex_unlock(&f->mu);
}

void fake_set_status(struct fake *f, size_t i, int status)
{
	pthread_mutex_lock(&f->mu);
	f->status[i] = status;
	pthread_mutex_unlock(&f->mu);
}

void fake_set_read_rc(struct fake *f, int rc)
{
	pthread_mutex_lock(&f->mu);
	f->read_rc = rc;
	pthread_mutex_unlock(&f->mu);
}

static int probe(struct fake *f, void **state, char *reason, size_t len)
{
	pthread_mutex_lock(&f->mu);
	int rc = f->probe_rc;
	if (rc && f->reason)
		snprintf(reason, len, "%s", f->reason);
	pthread_mutex_unlock(&f->mu);
	*state = f;
	return rc;
}

static int probe_a(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	(void)ctx;
	return probe(&fake_a, state, reason, len);
}

static int probe_b(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	(void)ctx;
	return probe(&fake_b, state, reason, len);
}

static size_t domains(void *state, const struct jst_domain_desc **out)
{
	struct fake *f = state;
	*out = f->desc;
	return f->n;
}

static int64_t clock_base;

static int read_all(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct fake *f = state;
	pthread_mutex_lock(&f->mu);
	if (!clock_base)
		clock_base = now_ns();
	f->reads++;
	if (flags & JST_READ_TELEMETRY)
		f->telemetry_reads++;
	for (size_t i = 0; i < n && i < f->n; i++) {
		jst_raw_clear(&out[i]);
		out[i].status = f->status[i];
		if (f->status[i])
			snprintf(out[i].error, sizeof out[i].error, "%s: fake device lost",
			         f->desc[i].name);
		if (f->clock_power_w[i] > 0)
			out[i].counter = (uint64_t)((double)(now_ns() - clock_base) * 1e-9 *
			                            f->clock_power_w[i] / f->desc[i].unit_j);
		else
			out[i].counter = f->counter[i];
		out[i].power_w = f->power_w[i];
		if (flags & JST_READ_TELEMETRY)
			out[i].temperature_c = f->temperature_c;
	}
	int rc = f->read_rc;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void close_fake(void *state)
{
	(void)state;
}

const struct jst_backend_ops fake_ops_a = {
    .name = "fake-a",
    .description = "test backend A",
    .accuracy = 0.05,
    .probe = probe_a,
    .domains = domains,
    .read = read_all,
    .close = close_fake,
};
const struct jst_backend_ops fake_ops_b = {
    .name = "fake-b",
    .description = "test backend B",
    .accuracy = 0.10,
    .probe = probe_b,
    .domains = domains,
    .read = read_all,
    .close = close_fake,
};
