/*
 * A loop of window pairs on the NVML simulator, for instruction counts
 * (valgrind --tool=callgrind --toggle-collect=bench_pairs_loop): deterministic
 * where bench_overhead's times are not. Two states of the sensor model count
 * differently, so either can be asked for: "measuring" (the meter's first
 * moments, while each counter's refresh is measured: what bench_overhead's
 * trials mostly see) or "settled" (after it, with the latch grid and the latch
 * history in use: where a meter spends its life).
 *
 * A last argument "always" sets edge_read=always (every edge reads the GPUs);
 * else edge_read=auto: a settled meter's edges between latches read nothing.
 *
 * usage: bench_pairs GPUS PAIRS [measuring|settled] [auto|always]
 */
#include "bench_env.h"
#include "joulestat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int pair(jst_meter *m)
{
	jst_window *w = NULL;
	jst_measurement *ms = NULL;
	int rc = jst_window_begin(m, "pair", &w);
	if (!rc)
		rc = jst_window_end(w, &ms);
	jst_measurement_free(ms);
	return rc;
}

/* The loop counted: its own function, so that callgrind can toggle on it. */
__attribute__((noinline, noipa)) int bench_pairs_loop(jst_meter *m, long n)
{
	for (long i = 0; i < n; i++)
		if (pair(m))
			return -1;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5 || atoi(argv[1]) <= 0 || atol(argv[2]) <= 0 ||
	    (argc > 3 && strcmp(argv[3], "measuring") != 0 && strcmp(argv[3], "settled") != 0) ||
	    (argc > 4 && strcmp(argv[4], "auto") != 0 && strcmp(argv[4], "always") != 0)) {
		fprintf(stderr,
		        "usage: bench_pairs GPUS PAIRS [measuring|settled] [auto|always]\n");
		return 2;
	}
	const char *edge_read = argc > 4 ? argv[4] : "auto";
	int settled = argc > 3 && strcmp(argv[3], "settled") == 0;
	bench_nvml_env((unsigned)atoi(argv[1]), BENCH_TRACE);
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = "nvml";
	jst_config_set(&cfg, "nvml.library", bench_sim_nvml());
	cfg.allow_estimate = 0;
	cfg.sample_period_ms = 60000; /* no sampler reading inside the loop */
	jst_config_set(&cfg, "edge_read", edge_read);
	jst_meter *m = NULL;
	int rc = jst_meter_open(&cfg, &m);
	if (rc) {
		fprintf(stderr, "bench_pairs: %s\n",
		        *jst_config_error(&cfg) ? jst_config_error(&cfg) : jst_strerror(rc));
		return 1;
	}
	if (settled) {
		/* The refresh is measured within 1.5 s of opening; pairs for 6 s
		 * more fill the latch history as a long-lived meter's is. */
		struct timespec two = {.tv_sec = 2};
		nanosleep(&two, NULL);
		for (double t0 = now_s(); now_s() - t0 < 6;)
			if (pair(m))
				break;
	}
	long n = atol(argv[2]);
	double t0 = now_s();
	rc = bench_pairs_loop(m, n);
	printf("%ld pairs, %.0f ns each (%s, edge_read=%s)\n", n, (now_s() - t0) * 1e9 / (double)n,
	       settled ? "settled" : "measuring", edge_read);
	jst_meter_close(m);
	return rc ? 1 : 0;
}
