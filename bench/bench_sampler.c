/*
 * Sampler cost and timing at 10 Hz, 100 Hz and 1 kHz with 8 GPUs + 2 packages,
 * next to a floor: a bare thread that sleeps to the same absolute deadlines and
 * makes the same raw reads (energy and the telemetry a sample records). CPU is
 * the process's CPU time while the main thread sleeps; the period and jitter
 * come from the timestamps of the samples themselves.
 */
#include "bench_env.h"
#include "bench_nvml.h"
#include "bench_stats.h"
#include "joulestat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_S 0.2
#define CPU_TARGET_PCT 1.0 /* of one core, at 100 Hz */
#define JITTER_TARGET 0.10 /* p99, of the period, at 1 kHz */

static const unsigned rates_hz[] = {10, 100, 1000};
static const double seconds[] = {9, 6, 6};
#define NRATES (sizeof rates_hz / sizeof rates_hz[0])

#define ROUNDS 6 /* per rate, alternating joulestat and floor: noise falls on both */

struct timing {
	size_t samples;
	double cpu_pct;
	double cpu_per_read_us;
	double period_p50_us, jit_p50_us, jit_p99_us, jit_max_us;
	size_t missed; /* intervals longer than 1.5 periods */
};

/* Intervals and CPU pooled over the rounds of one rate. */
struct pool {
	double *iv; /* ns */
	size_t n, cap;
	int64_t cpu_ns, wall_ns;
};

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts))
		;
}

/* Add the intervals between timestamps t[0..n-1] that lie in [w0, w1]. */
static void pool_add(struct pool *p, const int64_t *t, size_t n, int64_t w0, int64_t w1)
{
	int64_t prev = -1;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < w0 || t[i] > w1)
			continue;
		if (prev >= 0 && p->n < p->cap)
			p->iv[p->n++] = (double)(t[i] - prev);
		prev = t[i];
	}
}

static void pool_stats(struct pool *p, double period_ns, struct timing *out)
{
	*out = (struct timing){.samples = p->n};
	out->cpu_pct = p->wall_ns ? 100.0 * (double)p->cpu_ns / (double)p->wall_ns : 0;
	out->cpu_per_read_us = p->n ? (double)p->cpu_ns / (double)p->n / 1e3 : 0;
	if (p->n < 2)
		return;
	double *j = malloc(p->n * sizeof *j);
	for (size_t i = 0; i < p->n; i++) {
		j[i] = p->iv[i] > period_ns ? p->iv[i] - period_ns : period_ns - p->iv[i];
		out->missed += p->iv[i] > 1.5 * period_ns;
	}
	out->period_p50_us = bench_median(p->iv, p->n) / 1e3;
	out->jit_p50_us = bench_percentile(j, p->n, 50) / 1e3;
	out->jit_p99_us = bench_percentile(j, p->n, 99) / 1e3;
	out->jit_max_us = bench_max(j, p->n) / 1e3;
	free(j);
}

static int run_meter(const char *root, unsigned hz, double secs, struct pool *out)
{
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = root ? "nvml,rapl" : "nvml";
	if (root)
		jst_config_set(&cfg, "sysfs.root", root);
	jst_config_set(&cfg, "nvml.library", bench_sim_nvml());
	cfg.allow_estimate = 0;
	cfg.sample_period_ms = 1000 / hz;
	cfg.series_capacity = (size_t)(hz * (secs + WARMUP_S + 1)) + 1024;
	jst_meter *m;
	int rc = jst_meter_open(&cfg, &m);
	if (rc || jst_meter_domain_count(m) == 0) {
		fprintf(stderr, "bench_sampler: %s\n",
		        rc ? (*jst_config_error(&cfg) ? jst_config_error(&cfg) : jst_strerror(rc))
		           : "no domains");
		jst_meter_close(m);
		return -1;
	}
	/* The steady state: the sampler polls fast while it measures how often
	 * each counter refreshes (the sensor model), then at its period. */
	jst_meter_settle(m, 5000);
	sleep_s(WARMUP_S);
	int64_t w0 = bench_now_ns(), c0 = bench_cpu_ns();
	sleep_s(secs);
	int64_t w1 = bench_now_ns(), c1 = bench_cpu_ns();
	out->cpu_ns += c1 - c0;
	out->wall_ns += w1 - w0;

	jst_sample *s = malloc(cfg.series_capacity * sizeof *s);
	for (size_t i = 0; i < cfg.series_capacity; i++)
		s[i].size = sizeof *s; /* the ABI's version of each element */
	int n = jst_meter_series(m, 0, s, cfg.series_capacity);
	if (n < 0)
		fprintf(stderr, "bench_sampler: jst_meter_series: %s\n", jst_strerror(n));
	jst_meter_close(m);
	int64_t *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
	for (int i = 0; i < n; i++)
		t[i] = s[i].t_ns;
	pool_add(out, t, n > 0 ? (size_t)n : 0, w0, w1);
	free(s);
	free(t);
	return 0;
}

struct floor_run {
	const struct bench_nvml *nv;
	const int *fds;
	size_t nfds;
	int64_t period_ns;
	int64_t *t;
	size_t n, cap;
	atomic_int stop;
};

static volatile unsigned long long sink;

static void *floor_main(void *arg)
{
	struct floor_run *fr = arg;
	int64_t next = bench_now_ns();
	while (!atomic_load(&fr->stop) && fr->n < fr->cap) {
		next += fr->period_ns;
		struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		int64_t a = bench_now_ns();
		sink += bench_rapl_read(fr->fds, fr->nfds);
		if (fr->nv)
			sink += bench_nvml_read_all(fr->nv);
		fr->t[fr->n++] = a + (bench_now_ns() - a) / 2;
	}
	return NULL;
}

static int run_floor(const struct bench_nvml *nv, const int *fds, size_t nfds, unsigned hz,
                     double secs, struct pool *out)
{
	struct floor_run fr = {.nv = nv, .fds = fds, .nfds = nfds, .period_ns = 1000000000LL / hz};
	fr.cap = (size_t)(hz * (secs + WARMUP_S + 1)) + 1024;
	fr.t = malloc(fr.cap * sizeof *fr.t);
	pthread_t th;
	if (!fr.t || pthread_create(&th, NULL, floor_main, &fr)) {
		free(fr.t);
		return -1;
	}
	sleep_s(WARMUP_S);
	int64_t w0 = bench_now_ns(), c0 = bench_cpu_ns();
	sleep_s(secs);
	int64_t w1 = bench_now_ns(), c1 = bench_cpu_ns();
	atomic_store(&fr.stop, 1);
	pthread_join(th, NULL);
	out->cpu_ns += c1 - c0;
	out->wall_ns += w1 - w0;
	pool_add(out, fr.t, fr.n, w0, w1);
	free(fr.t);
	return 0;
}

static void timing_row(unsigned hz, const char *who, const struct timing *t)
{
	double period_us = 1e6 / hz;
	printf("| %u Hz | %s | %zu | %.1f µs | %.1f µs | %.1f µs (%.1f%%) | %.1f µs | %zu |\n", hz,
	       who, t->samples, t->period_p50_us, t->jit_p50_us, t->jit_p99_us,
	       100 * t->jit_p99_us / period_us, t->jit_max_us, t->missed);
}

int main(void)
{
	struct bench_powercap pc;
	struct bench_nvml nv;
	char err[512];
	static int fds[64];
	static char names[64][64];

	bench_nvml_env(BENCH_GPUS, BENCH_TRACE);
	if (!bench_sim_nvml() || bench_nvml_open(&nv, bench_sim_nvml(), err, sizeof err)) {
		printf("## 2. Sampler cost\n\nnot run: NVML simulator unavailable (%s)\n\n",
		       bench_sim_nvml() ? err : "set SIM_NVML");
		return 1;
	}
	int have_rapl = bench_powercap_start(&pc, BENCH_PACKAGES, BENCH_TRACE) == 0;
	size_t nfds = have_rapl ? bench_rapl_open(pc.root, fds, names, 64) : 0;

	struct timing js[NRATES] = {0}, fl[NRATES] = {0};
	int ok[NRATES];
	for (size_t i = 0; i < NRATES; i++) {
		size_t cap = (size_t)(rates_hz[i] * seconds[i]) + 1024;
		struct pool pj = {.iv = malloc(cap * sizeof(double)), .cap = cap};
		struct pool pf = {.iv = malloc(cap * sizeof(double)), .cap = cap};
		double slice = seconds[i] / ROUNDS;
		ok[i] = pj.iv && pf.iv;
		for (int r = 0; ok[i] && r < ROUNDS; r++) {
			ok[i] &=
			    run_meter(have_rapl ? pc.root : NULL, rates_hz[i], slice, &pj) == 0;
			ok[i] &= run_floor(&nv, fds, nfds, rates_hz[i], slice, &pf) == 0;
		}
		pool_stats(&pj, 1e9 / rates_hz[i], &js[i]);
		pool_stats(&pf, 1e9 / rates_hz[i], &fl[i]);
		free(pj.iv);
		free(pf.iv);
	}

	printf("## 2. Sampler cost and timing\n\n");
	printf(
	    "Meter with 8 simulated NVML GPUs%s; the main thread sleeps while the "
	    "sampler runs: %.0f/%.0f/%.0f s at 10 Hz/100 Hz/1 kHz, in %d rounds alternating with "
	    "the floor, each after %.1f s of warm-up. "
	    "CPU = process CPU time / wall time, in %% of one core. Floor = a bare thread "
	    "sleeping to the same absolute deadlines (`clock_nanosleep`) and making the "
	    "same raw reads: energy of every domain plus the GPU telemetry a sample "
	    "records (power, temperature, utilisation, SM clock, power limit).\n\n",
	    have_rapl ? " + 2 RAPL packages (powercap simulator)" : " (RAPL simulator missing)",
	    seconds[0], seconds[1], seconds[2], ROUNDS, WARMUP_S);
	printf(
	    "| rate | joulestat sampler CPU | per reading | floor CPU | per reading | joulestat / "
	    "floor | target |\n");
	printf("|---|---:|---:|---:|---:|---:|---|\n");
	int cpu_met = 1, jit_met = 1;
	double floor_jit_pct = 0;
	for (size_t i = 0; i < NRATES; i++) {
		if (!ok[i]) {
			printf("| %u Hz | not run | | | |\n", rates_hz[i]);
			cpu_met = jit_met = 0;
			continue;
		}
		const char *target = "";
		if (rates_hz[i] == 100) {
			cpu_met = js[i].cpu_pct <= CPU_TARGET_PCT;
			target = cpu_met ? "<= 1% of a core: met" : "<= 1% of a core: **MISSED**";
		}
		printf("| %u Hz | %.3f%% | %.1f µs | %.3f%% | %.1f µs | %.2fx | %s |\n",
		       rates_hz[i], js[i].cpu_pct, js[i].cpu_per_read_us, fl[i].cpu_pct,
		       fl[i].cpu_per_read_us, fl[i].cpu_pct > 0 ? js[i].cpu_pct / fl[i].cpu_pct : 0,
		       target);
		if (rates_hz[i] == 100 && !cpu_met && fl[i].cpu_pct > 0.8 * CPU_TARGET_PCT)
			printf("| | the floor itself costs %.2f%%: most of a reading's CPU is the "
			       "wakeup and the raw reads, which any sampler pays | | | | | |\n",
			       fl[i].cpu_pct);
	}
	printf(
	    "\n| rate | who | intervals | period p50 | jitter p50 | jitter p99 (of period) "
	    "| jitter max | missed (> 1.5 periods) |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < NRATES; i++) {
		if (!ok[i])
			continue;
		timing_row(rates_hz[i], "joulestat", &js[i]);
		timing_row(rates_hz[i], "floor", &fl[i]);
		if (rates_hz[i] == 1000) {
			jit_met = js[i].jit_p99_us <= JITTER_TARGET * 1000.0;
			floor_jit_pct = fl[i].jit_p99_us / 10.0;
		}
	}
	printf("\nJitter = |interval - nominal period| between consecutive samples of one GPU "
	       "domain (timestamp: the middle of the read).\n\n");
	printf("Targets: sampler CPU <= %.0f%% of one core at 100 Hz: %s; p99 jitter <= %.0f%% "
	       "of the period at 1 kHz: %s.\n\n",
	       CPU_TARGET_PCT, bench_verdict(cpu_met), 100 * JITTER_TARGET, bench_verdict(jit_met));
	if (!jit_met && floor_jit_pct > 100 * JITTER_TARGET)
		printf(
		    "The floor misses the jitter target too (p99 %.0f%% of the period at 1 kHz): "
		    "on this machine a thread sleeping to an absolute deadline is woken up to "
		    "milliseconds late, and no sampler can be steadier than its wake-ups. Run "
		    "on an idle machine (or a real-time kernel) to see joulestat's own jitter.\n\n",
		    floor_jit_pct);

	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	bench_nvml_close(&nv);
	if (have_rapl)
		bench_powercap_stop(&pc);
	return 0;
}
