/* Piecewise-constant power traces: the ground truth every simulator shares. */
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_trace {
	size_t n;
	double *start; /* segment start times, start[0] == 0 */
	double *watts;
	double *cum;    /* energy before each segment */
	double cycle;   /* length of one cycle; 0: the last segment lasts forever */
	double cycle_j; /* energy of one cycle */
	double max_w;
};

/* Watts a simulated device may draw: finite, never negative, at most a
 * megawatt. NaN or infinity would make every energy after it meaningless. */
#define SIM_MAX_WATTS 1e6
/* A step or a file's time: a microsecond to about 11 days, so that cycles and
 * energies stay finite and a time within a cycle keeps its precision. */
#define SIM_MIN_STEP_S 1e-6
#define SIM_MAX_TIME_S 1e6

static int valid_watts(double w)
{
	return w >= 0 && w <= SIM_MAX_WATTS; /* false for NaN */
}

static int trace_push(struct sim_trace *tr, size_t *cap, double start, double watts)
{
	if (tr->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		double *s = realloc(tr->start, ncap * sizeof *s);
		if (!s)
			return -ENOMEM;
		tr->start = s;
		double *w = realloc(tr->watts, ncap * sizeof *w);
		if (!w)
			return -ENOMEM;
		tr->watts = w;
		*cap = ncap;
	}
	tr->start[tr->n] = start;
	tr->watts[tr->n] = watts;
	tr->n++;
	return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(splitmix64(s) >> 11) / 9007199254740992.0);
}

static int parse_steps(struct sim_trace *tr, size_t *cap, const char *arg, char *err, size_t errlen)
{
	const char *at = strchr(arg, '@');
	if (!at) {
		snprintf(err, errlen, "steps trace needs '@SECONDS': steps:W1,W2,...@S");
		return -EINVAL;
	}
	char *end;
	double step = strtod(at + 1, &end);
	if (*end || !(step >= SIM_MIN_STEP_S && step <= SIM_MAX_TIME_S)) {
		snprintf(err, errlen, "bad step length '%s'", at + 1);
		return -EINVAL;
	}
	const char *p = arg;
	double t = 0;
	while (p < at) {
		double w = strtod(p, &end);
		if (end == p || (*end != ',' && end != at) || !valid_watts(w) ||
		    t > SIM_MAX_TIME_S) {
			snprintf(err, errlen, "bad watts in steps trace near '%s'", p);
			return -EINVAL;
		}
		if (trace_push(tr, cap, t, w))
			return -ENOMEM;
		t += step;
		p = end + (*end == ',');
	}
	if (tr->n == 0) {
		snprintf(err, errlen, "steps trace has no steps");
		return -EINVAL;
	}
	tr->cycle = t;
	return 0;
}

/* Bursts of 50-300 ms at peak between gaps of 50-500 ms at idle, like a server
 * answering LLM requests; one hour is generated, then it cycles. */
static int parse_bursty(struct sim_trace *tr, size_t *cap, const char *arg, char *err,
                        size_t errlen)
{
	char *end;
	uint64_t seed = strtoull(arg, &end, 10);
	double idle = 60, peak = 400;
	if (*end == ':') {
		idle = strtod(end + 1, &end);
		if (*end != ':') {
			snprintf(err, errlen, "bursty trace: bursty:SEED[:IDLE:PEAK]");
			return -EINVAL;
		}
		peak = strtod(end + 1, &end);
	}
	if (*end || !valid_watts(idle) || !valid_watts(peak) || peak < idle) {
		snprintf(err, errlen,
		         "bursty trace: bursty:SEED[:IDLE:PEAK] with 0 <= IDLE <= PEAK");
		return -EINVAL;
	}
	uint64_t s = seed * 7919 + 1;
	double t = 0;
	while (t < 3600.0) {
		if (trace_push(tr, cap, t, idle))
			return -ENOMEM;
		t += uniform(&s, 0.050, 0.500);
		if (trace_push(tr, cap, t, uniform(&s, 0.8, 1.0) * peak))
			return -ENOMEM;
		t += uniform(&s, 0.050, 0.300);
	}
	tr->cycle = t;
	return 0;
}

static int parse_file(struct sim_trace *tr, size_t *cap, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open trace file %s: %s", path, strerror(errno));
		return -errno;
	}
	char line[256];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == 0)
			continue;
		double t, w;
		if (sscanf(p, "%lf %lf", &t, &w) != 2 || !valid_watts(w) ||
		    !(t <= SIM_MAX_TIME_S) || (tr->n == 0 ? t != 0 : t <= tr->start[tr->n - 1])) {
			snprintf(err, errlen,
			         "%s:%d: expected 'SECONDS WATTS', times rising from 0", path,
			         lineno);
			rc = -EINVAL;
			break;
		}
		if ((rc = trace_push(tr, cap, t, w)))
			break;
	}
	fclose(f);
	if (!rc && tr->n == 0) {
		snprintf(err, errlen, "%s: no samples", path);
		rc = -EINVAL;
	}
	return rc;
}

struct sim_trace *sim_trace_parse(const char *spec, char *err, size_t errlen)
{
	struct sim_trace *tr = calloc(1, sizeof *tr);
	size_t cap = 0;
	int rc;
	if (!tr)
		return NULL;
	if (!strncmp(spec, "const:", 6)) {
		char *end;
		double w = strtod(spec + 6, &end);
		rc = (*end || !valid_watts(w)) ? -EINVAL : trace_push(tr, &cap, 0, w);
		if (rc == -EINVAL)
			snprintf(err, errlen, "bad constant trace '%s'", spec);
	} else if (!strncmp(spec, "steps:", 6)) {
		rc = parse_steps(tr, &cap, spec + 6, err, errlen);
	} else if (!strncmp(spec, "bursty:", 7)) {
		rc = parse_bursty(tr, &cap, spec + 7, err, errlen);
	} else if (!strncmp(spec, "file:", 5)) {
		rc = parse_file(tr, &cap, spec + 5, err, errlen);
	} else {
		snprintf(err, errlen,
		         "unknown trace '%s' (const:W, steps:W,W@S, bursty:SEED, file:PATH)", spec);
		rc = -EINVAL;
	}
	if (!rc && tr->n == 0) {
		snprintf(err, errlen, "trace '%s' has no point", spec);
		rc = -EINVAL;
	}
	if (!rc && !(tr->cum = malloc(tr->n * sizeof *tr->cum)))
		rc = -ENOMEM;
	if (rc) {
		sim_trace_free(tr);
		return NULL;
	}
	double acc = 0;
	for (size_t i = 0; i < tr->n; i++) {
		tr->cum[i] = acc;
		if (tr->watts[i] > tr->max_w)
			tr->max_w = tr->watts[i];
		if (i + 1 < tr->n)
			acc += tr->watts[i] * (tr->start[i + 1] - tr->start[i]);
	}
	if (tr->cycle > 0)
		tr->cycle_j = acc + tr->watts[tr->n - 1] * (tr->cycle - tr->start[tr->n - 1]);
	return tr;
}

void sim_trace_free(struct sim_trace *tr)
{
	if (!tr)
		return;
	free(tr->start);
	free(tr->watts);
	free(tr->cum);
	free(tr);
}

static size_t segment_at(const struct sim_trace *tr, double t)
{
	size_t lo = 0, hi = tr->n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (tr->start[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Energy from 0 to t. */
static double energy_to(const struct sim_trace *tr, double t)
{
	double base = 0;
	if (tr->cycle > 0 && t >= tr->cycle) {
		double k = floor(t / tr->cycle);
		base = k * tr->cycle_j;
		t -= k * tr->cycle;
	}
	size_t i = segment_at(tr, t);
	return base + tr->cum[i] + tr->watts[i] * (t - tr->start[i]);
}

double sim_trace_power(const struct sim_trace *tr, double t)
{
	if (t < 0)
		t = 0;
	if (tr->cycle > 0 && t >= tr->cycle)
		t = fmod(t, tr->cycle);
	return tr->watts[segment_at(tr, t)];
}

double sim_trace_energy(const struct sim_trace *tr, double t0, double t1)
{
	if (t0 < 0)
		t0 = 0;
	if (t1 <= t0)
		return 0;
	return energy_to(tr, t1) - energy_to(tr, t0);
}

double sim_trace_max_power(const struct sim_trace *tr)
{
	return tr->max_w;
}
