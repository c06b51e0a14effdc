/* The simulator's configuration, from JSTSIM_DCGM_* at dcgmInit, and its
 * clock model: what each field shows at a given instant. */
#include "simdcgm.h"

#include <errno.h>
#include <math.h>
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

static dcgmReturn_t bad(const char *fmt, const char *value)
{
	snprintf(sim_config_error, sizeof sim_config_error, fmt, value);
	fprintf(stderr, "libdcgm (joulestat simulator): %s\n", sim_config_error);
	return DCGM_ST_BADPARAM;
}

static const char *env(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* "K@S[,K@S...]" (with a span: "K@S+D[,...]") into GPU K's field at offset
 * off (and off2 = S + D). */
static dcgmReturn_t parse_at(struct sim_dcgm *s, const char *var, size_t off, size_t off2)
{
	const char *spec = env(var, "");
	for (const char *p = spec; *p;) {
		char *end;
		errno = 0;
		unsigned long k = strtoul(p, &end, 10);
		if (errno || end == p || k >= s->ngpus || *end != '@')
			return bad("%s: expected K@SECONDS with K a GPU index", var);
		p = end + 1;
		double at = strtod(p, &end), span = 0;
		if (end == p || !(at >= 0 && at < 1e6))
			return bad("%s: expected K@SECONDS", var);
		if (off2) {
			p = end;
			if (*p != '+')
				return bad("%s: expected K@SECONDS+DURATION", var);
			span = strtod(p + 1, &end);
			if (end == p + 1 || !(span >= 0 && span < 1e6))
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
	return DCGM_ST_OK;
}

static dcgmReturn_t parse_ms(const char *var, const char *dflt_ms, int64_t *out)
{
	const char *v = env(var, dflt_ms);
	char *end;
	double ms = strtod(v, &end);
	if (*end || end == v || !(ms >= 1 && ms <= 10000))
		return bad("%s must be 1 to 10000 (ms), got '%s'", var);
	*out = (int64_t)llround(ms * 1e6);
	return DCGM_ST_OK;
}

dcgmReturn_t sim_config_load(struct sim_dcgm *s)
{
	memset(s, 0, sizeof *s);
	sim_config_error[0] = 0;
	if (strcmp(env("JSTSIM_DCGM_FAIL_INIT", "0"), "0") != 0)
		return DCGM_ST_INIT_ERROR;
	const char *n = env("JSTSIM_DCGM_GPUS", "1");
	char *end;
	long ngpus = strtol(n, &end, 10);
	if (*end || ngpus < 1 || ngpus > SIM_MAX_GPUS)
		return bad("JSTSIM_DCGM_GPUS must be 1 to 32, got '%s'", n);
	s->ngpus = (unsigned)ngpus;
	snprintf(s->spec, sizeof s->spec, "%s", env("JSTSIM_DCGM_TRACE", "const:300"));
	char err[200];
	s->trace = sim_trace_parse(s->spec, err, sizeof err);
	if (!s->trace)
		return bad("JSTSIM_DCGM_TRACE: %s", err);
	snprintf(s->truth_path, sizeof s->truth_path, "%s", env("JSTSIM_DCGM_TRUTH", ""));
	snprintf(s->hostengine, sizeof s->hostengine, "%s", env("JSTSIM_DCGM_HOSTENGINE", ""));
	snprintf(s->name, sizeof s->name, "%s",
	         env("JSTSIM_DCGM_NAME", "NVIDIA H100 80GB HBM3 (sim)"));
	const char *mode = env("JSTSIM_DCGM_MODE", "normal");
	if (!strcmp(mode, "nocounter"))
		s->nocounter = 1;
	else if (strcmp(mode, "normal") != 0) {
		sim_config_free(s);
		return bad("JSTSIM_DCGM_MODE: unknown mode '%s' (normal, nocounter)", mode);
	}
	for (unsigned k = 0; k < SIM_MAX_GPUS; k++) {
		struct sim_gpu *g = &s->gpu[k];
		/* As sim/nvml: 1.0 down to 0.25 in steps of 0.05, again from 16. */
		g->scale = 1.0 - 0.05 * (k % 16);
		g->base_mj = SIM_BASE_MJ + 1000003ULL * k;
		g->lost_after_ns = g->reset_at_ns = INT64_MAX;
		g->err_from_ns = g->err_until_ns = INT64_MAX;
		snprintf(g->uuid, sizeof g->uuid, "GPU-5a1c0000-0000-4000-8000-%012x", k);
	}
	s->disconnect_ns = s->pid_watch_ns = INT64_MAX;
	const char *disc = env("JSTSIM_DCGM_DISCONNECT", "");
	if (*disc) {
		double at = strtod(disc, &end);
		if (*end || end == disc || !(at >= 0 && at < 1e6)) {
			sim_config_free(s);
			return bad("JSTSIM_DCGM_DISCONNECT must be seconds, got '%s'", disc);
		}
		s->disconnect_ns = (int64_t)llround(at * 1e9);
	}
	dcgmReturn_t r =
	    parse_at(s, "JSTSIM_DCGM_LOST", offsetof(struct sim_gpu, lost_after_ns), 0);
	if (!r)
		r = parse_at(s, "JSTSIM_DCGM_RESET", offsetof(struct sim_gpu, reset_at_ns), 0);
	if (!r)
		r = parse_at(s, "JSTSIM_DCGM_ERRORS", offsetof(struct sim_gpu, err_from_ns),
		             offsetof(struct sim_gpu, err_until_ns));
	if (!r)
		r = parse_ms("JSTSIM_DCGM_COUNTER_TICK_MS", "100", &s->counter_tick_ns);
	if (!r)
		r = parse_ms("JSTSIM_DCGM_POWER_TICK_MS", "100", &s->power_tick_ns);
	if (r) {
		sim_config_free(s);
		return r;
	}
	s->pid = getpid();
	struct timespec rt;
	s->start_ns = sim_now_ns();
	clock_gettime(CLOCK_REALTIME, &rt);
	s->start_rt_us = (int64_t)rt.tv_sec * 1000000LL + rt.tv_nsec / 1000;
	return DCGM_ST_OK;
}

void sim_config_free(struct sim_dcgm *s)
{
	sim_trace_free(s->trace);
	s->trace = NULL;
}

/* The last tick at or before now, as trace time in ns. Integer nanoseconds, so
 * that a tick on a whole second lands exactly on it. */
static int64_t tick_ns(const struct sim_dcgm *s, int64_t now_ns, int64_t tick)
{
	int64_t t = now_ns - s->start_ns;
	if (t < 0)
		t = 0;
	return t - t % tick;
}

int64_t sim_energy_tick_ns(const struct sim_dcgm *s)
{
	return s->watch_ns > s->counter_tick_ns ? s->watch_ns : s->counter_tick_ns;
}

uint64_t sim_energy_mj(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns, int64_t *at_ns)
{
	const struct sim_gpu *g = &s->gpu[gpu];
	int64_t at = tick_ns(s, now_ns, sim_energy_tick_ns(s));
	double t = (double)at / 1e9;
	if (at_ns)
		*at_ns = at;
	if (now_ns - s->start_ns >= g->reset_at_ns) {
		double t0 = (double)g->reset_at_ns / 1e9;
		double mj = t > t0 ? g->scale * sim_trace_energy(s->trace, t0, t) * 1e3 : 0;
		return (uint64_t)floor(mj);
	}
	return g->base_mj + (uint64_t)floor(g->scale * sim_trace_energy(s->trace, 0, t) * 1e3);
}

double sim_power_w(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns, int64_t *at_ns)
{
	int64_t at = tick_ns(s, now_ns, s->power_tick_ns);
	if (at_ns)
		*at_ns = at;
	return s->gpu[gpu].scale * sim_trace_power(s->trace, (double)at / 1e9);
}

/* DCGM_FI_DEV_POWER_USAGE is NVML's 1-second average on newer GPUs. */
double sim_average_w(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns)
{
	double t1 = (double)tick_ns(s, now_ns, s->power_tick_ns) / 1e9;
	double t0 = t1 > 1.0 ? t1 - 1.0 : 0.0;
	if (t1 <= t0)
		return sim_power_w(s, gpu, now_ns, NULL);
	return s->gpu[gpu].scale * sim_trace_energy(s->trace, t0, t1) / (t1 - t0);
}

int sim_energy_blank(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns)
{
	int64_t t = now_ns - s->start_ns;
	return s->nocounter || (t >= s->gpu[gpu].err_from_ns && t < s->gpu[gpu].err_until_ns);
}

int sim_lost(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns)
{
	return now_ns - s->start_ns >= s->gpu[gpu].lost_after_ns;
}
