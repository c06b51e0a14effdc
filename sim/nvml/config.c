/* The simulator's configuration, from JSTSIM_NVML_* at nvmlInit_v2, and its
 * clock model: what each reading shows at a given instant. */
#include "simnvml.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char sim_config_error[256];

int64_t sim_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static nvmlReturn_t bad(const char *fmt, const char *value)
{
	snprintf(sim_config_error, sizeof sim_config_error, fmt, value);
	fprintf(stderr, "libnvidia-ml (joulestat simulator): %s\n", sim_config_error);
	return NVML_ERROR_UNKNOWN;
}

static int parse_index(const char *p, char **end, unsigned ngpus, unsigned *out)
{
	errno = 0;
	unsigned long v = strtoul(p, end, 10);
	if (errno || *end == p || v >= ngpus)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* "normal", "nocounter", "noinstant", or a comma list of them. */
static nvmlReturn_t parse_mode(struct sim_nvml *s, const char *mode)
{
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s", mode);
	for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "nocounter"))
			s->nocounter = 1;
		else if (!strcmp(t, "noinstant"))
			s->noinstant = 1;
		else if (strcmp(t, "normal") != 0)
			return bad("JSTSIM_NVML_MODE: unknown mode '%s' (normal, nocounter, "
			           "noinstant)",
			           t);
	}
	return NVML_SUCCESS;
}

/* "K@S[,K@S...]" (with_span: "K@S+D[,...]") into GPU K's field at offset
 * off (and off2 = S + D). */
static nvmlReturn_t parse_at(struct sim_nvml *s, const char *var, const char *spec, size_t off,
                             size_t off2)
{
	for (const char *p = spec; *p;) {
		char *end;
		unsigned k;
		if (parse_index(p, &end, s->ngpus, &k) || *end != '@')
			return bad("%s: expected K@SECONDS with K a GPU index", var);
		p = end + 1;
		double at = strtod(p, &end), span = 0;
		if (end == p || !(at >= 0))
			return bad("%s: expected K@SECONDS", var);
		if (off2) {
			p = end;
			if (*p != '+')
				return bad("%s: expected K@SECONDS+DURATION", var);
			span = strtod(p + 1, &end);
			if (end == p + 1 || !(span >= 0))
				return bad("%s: expected K@SECONDS+DURATION", var);
		}
		if (*end && *end != ',')
			return bad("%s: expected a comma list", var);
		char *g = (char *)&s->gpu[k];
		*(int64_t *)(g + off) = (int64_t)llround(at * 1e9);
		if (off2)
			*(int64_t *)(g + off2) = (int64_t)llround((at + span) * 1e9);
		p = *end ? end + 1 : end;
	}
	return NVML_SUCCESS;
}

static nvmlReturn_t parse_tick(const char *var, const char *dflt_ms, int64_t *out)
{
	const char *v = getenv(var);
	if (!v || !*v)
		v = dflt_ms;
	char *end;
	double ms = strtod(v, &end);
	if (*end || end == v || !(ms >= 1 && ms <= 10000))
		return bad("%s must be 1 to 10000 (ms), got '%s'", var);
	*out = (int64_t)llround(ms * 1e6);
	return NVML_SUCCESS;
}

/* "K@S[,K@S...]": GPU K is lost S seconds after init. */
static nvmlReturn_t parse_lost(struct sim_nvml *s, const char *spec)
{
	for (const char *p = spec; *p;) {
		char *end;
		unsigned k;
		if (parse_index(p, &end, s->ngpus, &k) || *end != '@')
			return bad(
			    "JSTSIM_NVML_LOST: expected K@SECONDS with K a GPU index, got '%s'",
			    spec);
		p = end + 1;
		double after = strtod(p, &end);
		if (end == p || !(after >= 0) || (*end && *end != ','))
			return bad("JSTSIM_NVML_LOST: expected K@SECONDS, got '%s'", spec);
		s->gpu[k].lost_after_ns = (int64_t)llround(after * 1e9);
		p = *end ? end + 1 : end;
	}
	return NVML_SUCCESS;
}

static nvmlReturn_t parse_mig(struct sim_nvml *s, const char *list)
{
	for (const char *p = list; *p;) {
		char *end;
		unsigned k;
		if (parse_index(p, &end, s->ngpus, &k) || (*end && *end != ','))
			return bad("JSTSIM_NVML_MIG: expected GPU indices, got '%s'", list);
		s->gpu[k].mig = 1;
		p = *end ? end + 1 : end;
	}
	return NVML_SUCCESS;
}

/* "US" or "US:SPREAD_US": each energy or power call's duration. */
static nvmlReturn_t parse_read_us(struct sim_nvml *s, const char *v)
{
	if (!*v)
		return NVML_SUCCESS;
	char *end;
	double us = strtod(v, &end), spread = 0;
	if (end != v && *end == ':') {
		const char *p = end + 1;
		spread = strtod(p, &end);
		if (end == p)
			spread = -1;
	}
	if (end == v || *end || !(us >= 0 && us <= 1e6) || !(spread >= 0 && spread <= 1e6))
		return bad("JSTSIM_NVML_READ_US: expected US or US:SPREAD_US (0 to 1000000), got "
		           "'%s'",
		           v);
	s->read_ns = (int64_t)llround(us * 1e3);
	s->read_spread_ns = (int64_t)llround(spread * 1e3);
	return NVML_SUCCESS;
}

/* "J" or "J:SEED": each counter latch displaced within +-J ms, below half a
 * tick so that latches keep their order. */
static nvmlReturn_t parse_jitter(struct sim_nvml *s, const char *v)
{
	if (!*v)
		return NVML_SUCCESS;
	char *end;
	double ms = strtod(v, &end);
	unsigned long long seed = 1;
	if (end != v && *end == ':') {
		const char *p = end + 1;
		seed = strtoull(p, &end, 10);
		if (end == p)
			end = (char *)v;
	}
	if (end == v || *end || !(ms >= 0) || ms * 1e6 >= (double)s->counter_tick_ns / 2)
		return bad("JSTSIM_NVML_LATCH_JITTER_MS: expected J or J:SEED with J (ms) below "
		           "half of JSTSIM_NVML_COUNTER_TICK_MS, got '%s'",
		           v);
	s->latch_jitter_ns = (int64_t)llround(ms * 1e6);
	s->jitter_seed = seed;
	return NVML_SUCCESS;
}

static const char *env(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* "GPU:PID:SM[,...]": processes and their constant SM utilisation (%). */
static nvmlReturn_t parse_procs(struct sim_nvml *s, const char *list)
{
	s->nprocs = 0;
	for (const char *p = list; *p;) {
		unsigned gpu, pid, sm;
		int used = 0;
		if (sscanf(p, "%u:%u:%u%n", &gpu, &pid, &sm, &used) != 3 || gpu >= s->ngpus ||
		    sm > 100 || pid == 0 || s->nprocs == SIM_MAX_PROCS)
			return bad("JSTSIM_NVML_PROCS: expected GPU:PID:SM[,...] (GPU below "
			           "JSTSIM_NVML_GPUS, SM 0 to 100, at most 64), got '%s'",
			           list);
		s->proc[s->nprocs++] = (struct sim_proc){gpu, pid, sm};
		p += used;
		if (*p == ',')
			p++;
		else if (*p)
			return bad("JSTSIM_NVML_PROCS: expected GPU:PID:SM[,...], got '%s'", list);
	}
	return NVML_SUCCESS;
}

nvmlReturn_t sim_config_load(struct sim_nvml *s)
{
	memset(s, 0, sizeof *s);
	sim_config_error[0] = 0;
	const char *fail = env("JSTSIM_NVML_FAIL_INIT", "0");
	if (strcmp(fail, "0") != 0)
		return !strcmp(fail, "permission") ? NVML_ERROR_NO_PERMISSION
		                                   : NVML_ERROR_DRIVER_NOT_LOADED;

	const char *n = env("JSTSIM_NVML_GPUS", "1");
	char *end;
	long ngpus = strtol(n, &end, 10);
	if (*end || ngpus < 1 || ngpus > SIM_MAX_GPUS)
		return bad("JSTSIM_NVML_GPUS must be 1 to 64, got '%s'", n);
	s->ngpus = (unsigned)ngpus;

	snprintf(s->spec, sizeof s->spec, "%s", env("JSTSIM_NVML_TRACE", "const:300"));
	char err[200];
	s->trace = sim_trace_parse(s->spec, err, sizeof err);
	if (!s->trace)
		return bad("JSTSIM_NVML_TRACE: %s", err);
	snprintf(s->truth_path, sizeof s->truth_path, "%s", env("JSTSIM_NVML_TRUTH", ""));

	for (unsigned k = 0; k < SIM_MAX_GPUS; k++) {
		struct sim_gpu *g = &s->gpu[k];
		/* 1.0 down to 0.25 in steps of 0.05, again from GPU 16 on: every
		 * GPU draws a positive power however many there are. */
		g->scale = 1.0 - 0.05 * (k % 16);
		/* Distinct per GPU, and far from zero, so a leak shows. */
		g->base_mj = SIM_BASE_MJ + 1000003ULL * k;
		g->lost_after_ns = INT64_MAX;
		g->reset_at_ns = INT64_MAX;
		g->err_from_ns = g->err_until_ns = INT64_MAX;
		snprintf(g->uuid, sizeof g->uuid, "GPU-5a1c0000-0000-4000-8000-%012x", k);
		snprintf(g->mig_uuid, sizeof g->mig_uuid, "MIG-5a1c0000-0000-4000-9000-%012x", k);
		/* 16 buses a PCI domain: a bus number stays within 0x00-0xff. */
		snprintf(g->bus_id, sizeof g->bus_id, "%08X:%02X:00.0", k / 16,
		         0x10 + 8 * (k % 16));
		s->dev[k] = (struct nvmlDevice_st){.index = k};
		s->mig_dev[k] = (struct nvmlDevice_st){.index = k, .is_mig = 1};
	}
	const char *name = env("JSTSIM_NVML_NAME", "NVIDIA H100 80GB HBM3 (sim)");
	if (strlen(name) >= sizeof s->name) {
		sim_config_free(s);
		return bad("JSTSIM_NVML_NAME is too long: '%s'", name);
	}
	snprintf(s->name, sizeof s->name, "%s", name);
	const char *arch = env("JSTSIM_NVML_ARCH", "9"); /* NVML_DEVICE_ARCH_HOPPER */
	unsigned long a = strtoul(arch, &end, 10);
	if (*end || end == arch || a > 0xffffffffUL) {
		sim_config_free(s);
		return bad("JSTSIM_NVML_ARCH must be an nvmlDeviceArchitecture_t number, got '%s'",
		           arch);
	}
	s->arch = (unsigned)a;
	nvmlReturn_t r = parse_mode(s, env("JSTSIM_NVML_MODE", "normal"));
	if (!r)
		r = parse_lost(s, env("JSTSIM_NVML_LOST", ""));
	if (!r)
		r = parse_mig(s, env("JSTSIM_NVML_MIG", ""));
	if (!r)
		r = parse_at(s, "JSTSIM_NVML_RESET", env("JSTSIM_NVML_RESET", ""),
		             offsetof(struct sim_gpu, reset_at_ns), 0);
	if (!r)
		r = parse_at(s, "JSTSIM_NVML_ERRORS", env("JSTSIM_NVML_ERRORS", ""),
		             offsetof(struct sim_gpu, err_from_ns),
		             offsetof(struct sim_gpu, err_until_ns));
	if (!r)
		r = parse_procs(s, env("JSTSIM_NVML_PROCS", ""));
	if (!r)
		r = parse_tick("JSTSIM_NVML_COUNTER_TICK_MS", "100", &s->counter_tick_ns);
	if (!r)
		r = parse_tick("JSTSIM_NVML_POWER_TICK_MS", "100", &s->power_tick_ns);
	if (!r)
		r = parse_read_us(s, env("JSTSIM_NVML_READ_US", ""));
	if (!r)
		r = parse_jitter(s, env("JSTSIM_NVML_LATCH_JITTER_MS", ""));
	if (r) {
		sim_config_free(s);
		return r;
	}
	s->pid = getpid();
	s->start_ns = sim_now_ns();
	return NVML_SUCCESS;
}

void sim_config_free(struct sim_nvml *s)
{
	sim_trace_free(s->trace);
	s->trace = NULL;
}

/* The last tick at or before now, in seconds since the trace began. Integer
 * nanoseconds, so that a tick on a whole second lands exactly on it. */
static double tick_s(const struct sim_nvml *s, int64_t now_ns, int64_t tick_ns)
{
	int64_t t = now_ns - s->start_ns;
	if (t < 0)
		t = 0;
	int64_t last_tick = t - t % tick_ns;
	return (double)last_tick / 1e9;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int64_t sim_latch_ns(const struct sim_nvml *s, int64_t k)
{
	int64_t t = k * s->counter_tick_ns;
	if (k <= 0 || !s->latch_jitter_ns)
		return k < 0 ? 0 : t; /* the first latch is t = 0 itself */
	uint64_t h = mix64(s->jitter_seed * 0x100000001b3ULL + (uint64_t)k);
	int64_t j = (int64_t)(h % (uint64_t)(2 * s->latch_jitter_ns + 1)) - s->latch_jitter_ns;
	return t + j;
}

/* The last counter latch at or before now, in seconds since the trace
 * began. Without jitter, exactly tick_s's. */
static double latch_s(const struct sim_nvml *s, int64_t now_ns)
{
	if (!s->latch_jitter_ns)
		return tick_s(s, now_ns, s->counter_tick_ns);
	int64_t t = now_ns - s->start_ns;
	if (t < 0)
		t = 0;
	/* Jitter below half a tick: the latch is tick k + 1, k or k - 1. */
	int64_t k = t / s->counter_tick_ns + 1;
	while (k > 0 && sim_latch_ns(s, k) > t)
		k--;
	return (double)sim_latch_ns(s, k) / 1e9;
}

/* Pseudo-random draws for the calls' delays: deterministic in their order. */
static _Atomic uint64_t read_draws;

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int64_t sim_read_delay_begin(const struct sim_nvml *s)
{
	if (!s->read_ns && !s->read_spread_ns)
		return 0;
	int64_t t0 = sim_now_ns();
	uint64_t h = mix64(atomic_fetch_add(&read_draws, 1) + 0x5eedULL);
	int64_t total = s->read_ns;
	if (s->read_spread_ns)
		total += (int64_t)(h % (uint64_t)(s->read_spread_ns + 1));
	/* The value is taken anywhere inside the call (a driver's call waits for
	 * its lock before it asks the GPU, and for the answer after). */
	int64_t at = (int64_t)(mix64(h) % (uint64_t)(total + 1));
	sleep_until(t0 + at);
	return t0 + total;
}

void sim_read_delay_end(int64_t until_ns)
{
	if (until_ns)
		sleep_until(until_ns);
}

uint64_t sim_energy_mj(const struct sim_nvml *s, unsigned gpu, int64_t now_ns)
{
	const struct sim_gpu *g = &s->gpu[gpu];
	double t = latch_s(s, now_ns);
	if (now_ns - s->start_ns >= g->reset_at_ns) {
		/* Reloaded: counting again from zero since the reset. */
		double t0 = (double)g->reset_at_ns / 1e9;
		double mj = t > t0 ? g->scale * sim_trace_energy(s->trace, t0, t) * 1e3 : 0;
		return (uint64_t)floor(mj);
	}
	double mj = g->scale * sim_trace_energy(s->trace, 0, t) * 1e3;
	return g->base_mj + (uint64_t)floor(mj);
}

int sim_energy_error(const struct sim_nvml *s, unsigned gpu, int64_t now_ns)
{
	int64_t t = now_ns - s->start_ns;
	return t >= s->gpu[gpu].err_from_ns && t < s->gpu[gpu].err_until_ns;
}

double sim_instant_w(const struct sim_nvml *s, unsigned gpu, int64_t now_ns)
{
	double t = tick_s(s, now_ns, s->power_tick_ns);
	return s->gpu[gpu].scale * sim_trace_power(s->trace, t);
}

/* What nvmlDeviceGetPowerUsage shows on Ampere and newer: the mean over the
 * second before the last refresh (less at the very start). */
double sim_average_w(const struct sim_nvml *s, unsigned gpu, int64_t now_ns)
{
	double t1 = tick_s(s, now_ns, s->power_tick_ns);
	double t0 = t1 > 1.0 ? t1 - 1.0 : 0.0;
	if (t1 <= t0)
		return sim_instant_w(s, gpu, now_ns);
	return s->gpu[gpu].scale * sim_trace_energy(s->trace, t0, t1) / (t1 - t0);
}
