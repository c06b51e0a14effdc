/*
 * jst-sim-truth: the exact energy of scale x trace over [T0, T1], computed by
 * the same code the simulators animate their counters with, so that tests
 * compare against the simulator's own arithmetic rather than a copy of it.
 *
 *   jst-sim-truth --trace SPEC [--scale S] --from T0 --to T1 [--tick S]
 *
 * Times are seconds since the trace's start. With --tick, T0 and T1 are first
 * floored to multiples of the tick: what a counter refreshed every tick shows.
 */
#include "trace.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *arg, const char *opt, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v)) {
		fprintf(stderr, "jst-sim-truth: bad value for %s: '%s'\n", opt, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* The last tick at or before t. The epsilon keeps a time that is a whole
 * number of ticks (1.0 / 0.001) from landing one tick early. */
static double floor_tick(double t, double tick)
{
	return floor(t / tick + 1e-9) * tick;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"trace", required_argument, 0, 'T'}, {"scale", required_argument, 0, 's'},
	    {"from", required_argument, 0, 'f'},  {"to", required_argument, 0, 't'},
	    {"tick", required_argument, 0, 'k'},  {0, 0, 0, 0},
	};
	const char *spec = NULL;
	double scale = 1, t0 = NAN, t1 = NAN, tick = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'T':
			spec = optarg;
			break;
		case 's':
			bad = parse(optarg, "--scale", &scale);
			break;
		case 'f':
			bad = parse(optarg, "--from", &t0);
			break;
		case 't':
			bad = parse(optarg, "--to", &t1);
			break;
		case 'k':
			bad = parse(optarg, "--tick", &tick);
			break;
		default:
			bad = 1;
		}
		if (bad)
			return 2;
	}
	if (!spec || isnan(t0) || isnan(t1) || optind < argc || tick < 0) {
		fprintf(
		    stderr,
		    "usage: jst-sim-truth --trace SPEC [--scale S] --from T0 --to T1 [--tick S]\n");
		return 2;
	}
	if (t0 < 0 || t1 < t0) {
		fprintf(stderr, "jst-sim-truth: need 0 <= T0 <= T1 (got %g, %g)\n", t0, t1);
		return 2;
	}
	char err[256];
	struct sim_trace *tr = sim_trace_parse(spec, err, sizeof err);
	if (!tr) {
		fprintf(stderr, "jst-sim-truth: %s\n", err);
		return 2;
	}
	if (tick > 0) {
		t0 = floor_tick(t0, tick);
		t1 = floor_tick(t1, tick);
	}
	/* As the simulator computes a counter: scale x the energy since the start. */
	double e = scale * sim_trace_energy(tr, 0, t1) - scale * sim_trace_energy(tr, 0, t0);
	printf("%.9f\n", e);
	sim_trace_free(tr);
	return 0;
}
