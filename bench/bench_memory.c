/*
 * Memory: resident set of `joulestat run --period 1 -- sleep N` (sampler at
 * 1 kHz, 8 simulated GPUs + 2 RAPL packages), read from /proc/PID/status once a
 * second. The series is a fixed ring, so once it is full the line must be flat.
 */
#include "bench_memory.h"
#include "bench_env.h"
#include "bench_spawn.h"
#include "bench_stats.h"
#include "joulestat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUN_S 45
#define FF_BUDGET_S 60
#define STEADY_FROM_S 10 /* the default 4096-sample ring is full after 4.1 s at 1 kHz */
#define TARGET_KIB_MIN 1.0

static void print_log_tail(const char *log)
{
	char text[2048] = "";
	FILE *f = fopen(log, "r");
	if (f) {
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, len > (long)sizeof text - 1 ? len - (long)sizeof text + 1 : 0, SEEK_SET);
		text[fread(text, 1, sizeof text - 1, f)] = 0;
		fclose(f);
	}
	printf("```\n%s\n```\n\n", text);
}

int main(void)
{
	const char *js = bench_joulestat(), *nvml = bench_sim_nvml();
	struct bench_powercap pc;
	printf("## 4. Memory over a long run at 1 kHz\n\n");
	if (!js || !nvml) {
		printf("not run: %s missing\n\n", js ? "NVML simulator" : "joulestat CLI");
		return 1;
	}
	bench_nvml_env(BENCH_GPUS, BENCH_TRACE);
	setenv("JOULESTAT_NVML_LIBRARY", nvml, 1);
	int have_rapl = bench_powercap_start(&pc, BENCH_PACKAGES, BENCH_TRACE) == 0;
	if (have_rapl)
		setenv("JOULESTAT_SYSFS_ROOT", pc.root, 1);

	char secs[16], log[] = "/tmp/jst-bench-mem-XXXXXX";
	int lfd = mkstemp(log);
	if (lfd >= 0)
		close(lfd);
	snprintf(secs, sizeof secs, "%d", RUN_S);
	char *argv[] = {(char *)js, "run", "--period", "1", "--", "/bin/sleep", secs, NULL};
	static double t[RUN_S + 30], kib[RUN_S + 30];
	size_t n = 0;

	int64_t t0 = bench_now_ns();
	pid_t pid = bench_spawn(argv, NULL, log);
	for (int64_t next = t0 + 1000000000LL; n < sizeof t / sizeof t[0]; next += 1000000000LL) {
		struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		long v = bench_vm_rss_kib(pid);
		if (v < 0)
			break;
		t[n] = (double)(bench_now_ns() - t0) * 1e-9;
		kib[n++] = (double)v;
	}
	struct bench_run r;
	bench_reap(pid, t0, &r);
	struct bench_ff ff;
	int ffrc = bench_memory_ff(have_rapl ? pc.root : NULL, FF_BUDGET_S, &ff);
	if (have_rapl)
		bench_powercap_stop(&pc);

	printf("`joulestat run --period 1 -- sleep %d` against 8 simulated NVML GPUs%s, "
	       "VmRSS of the joulestat process read once a second (%zu readings).\n\n",
	       RUN_S, have_rapl ? " + 2 RAPL packages" : "", n);
	if (r.status != 0 || n < STEADY_FROM_S + 2) {
		printf("**run failed** (exit %d, %zu readings); its output:\n\n", r.status, n);
		print_log_tail(log);
		unlink(log);
		return 1;
	}
	unlink(log);
	size_t s0 = 0;
	while (s0 < n && t[s0] < STEADY_FROM_S)
		s0++;
	double slope_all = bench_slope(t, kib, n) * 60,
	       slope = bench_slope(t + s0, kib + s0, n - s0) * 60;
	int met = slope <= TARGET_KIB_MIN;
	printf("| first (1 s) | at %d s | last (%.0f s) | peak sampled | peak (ru_maxrss) | slope, "
	       "whole run | slope from %d s on | projected growth over 1 h | target |\n",
	       STEADY_FROM_S, t[n - 1], STEADY_FROM_S);
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	printf(
	    "| %.0f KiB | %.0f KiB | %.0f KiB | %.0f KiB | %ld KiB | %.1f KiB/min | %.2f KiB/min "
	    "| %.0f KiB | flat (<= %.0f KiB/min): %s |\n\n",
	    kib[0], kib[s0 < n ? s0 : n - 1], kib[n - 1], bench_max(kib, n), r.maxrss_kb, slope_all,
	    slope, slope * 60, TARGET_KIB_MIN, bench_verdict(met));
	printf("VmRSS every 5 s (KiB):");
	for (size_t i = 0; i < n; i += 5)
		printf(" %.0f", kib[i]);
	printf("\n\n");
	printf("Target: memory flat once the series ring is full (slope <= %.0f KiB/min from %d s "
	       "on): %s.\n\n",
	       TARGET_KIB_MIN, STEADY_FROM_S, bench_verdict(met));
	printf("%d s at 1 kHz is %d samples per domain, %.0fx the default series ring (4096). "
	       "Any rise in the first seconds is the rings being touched as they fill (4096 "
	       "samples of %zu bytes per domain); after that the line must stay flat.\n\n",
	       RUN_S, RUN_S * 1000, RUN_S * 1000 / 4096.0, sizeof(jst_sample));

	printf("**Fast-forward, in process.** The same meter (same simulators) with the "
	       "sampler's readings driven back to back through the core's "
	       "`jst_meter_read_locked`, one window per 1000 readings, VmRSS after every "
	       "20000 readings, for at most %d s or an hour's worth at 1 kHz.\n\n",
	       FF_BUDGET_S);
	if (ffrc) {
		printf("not run: %s\n\n", strerror(-ffrc));
		return 1;
	}
	int ffmet = ff.slope_kib_per_m * 3.6 <= TARGET_KIB_MIN * 60;
	printf(
	    "| domains | readings | = at 1 kHz | RSS after the first 20000 | last | peak | slope "
	    "| projected over 1 h at 1 kHz | target "
	    "|\n|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	    "\n");
	printf("| %zu | %zu in %.1f s | %.1f min | %.0f KiB | %.0f KiB | %.0f KiB | %.2f KiB per "
	       "million readings | %.0f KiB | %s |\n\n",
	       ff.domains, ff.readings, ff.seconds, ff.readings / 60000.0, ff.first_kib,
	       ff.last_kib, ff.peak_kib, ff.slope_kib_per_m, ff.slope_kib_per_m * 3.6,
	       bench_verdict(ffmet));
	printf("Target: flat in fast-forward too (<= %.0f KiB over an hour's readings): %s.\n\n",
	       TARGET_KIB_MIN * 60, bench_verdict(ffmet));
	return 0;
}
