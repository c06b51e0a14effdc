/*
 * Streamed intervals: resident set of `joulestat run -q --period 1 -I 1 --json
 * FILE -- sleep N` with 64 simulated GPUs, beside the same run without an output,
 * both at once, read from /proc/PID/status once a second. Every interval goes
 * to the file as it ends, so neither line may rise once the rings are full.
 */
#include "bench_env.h"
#include "bench_memory.h"
#include "bench_spawn.h"
#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GPUS 64
#define RUN_S 60
#define STEADY_FROM_S 10
#define TARGET_KIB_MIN 1024.0 /* 1 MiB a minute */

struct side {
	const char *label;
	pid_t pid;
	double t[RUN_S + 30], kib[RUN_S + 30];
	size_t n;
	int done;
	struct bench_run r;
};

/* Intervals in the document: one `"run": K` line each, at their depth. */
static long count_intervals(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	long n = 0;
	while (fgets(line, sizeof line, f))
		n += !strncmp(line, "      \"run\": ", 13);
	fclose(f);
	return n;
}

static void row(const struct side *s, const char *what)
{
	size_t s0 = 0;
	while (s0 < s->n && s->t[s0] < STEADY_FROM_S)
		s0++;
	double slope = s0 + 2 < s->n ? bench_slope(s->t + s0, s->kib + s0, s->n - s0) * 60 : 0;
	int met = s0 + 2 < s->n && slope <= TARGET_KIB_MIN;
	printf("| %s | %.0f KiB | %.0f KiB | %.0f KiB | %ld KiB | %.1f KiB/min | %s |\n", what,
	       s->kib[0], s->kib[s0 < s->n ? s0 : s->n - 1], s->kib[s->n - 1], s->r.maxrss_kb,
	       slope, bench_verdict(met));
}

int main(void)
{
	const char *js = bench_joulestat(), *nvml = bench_sim_nvml();
	printf("## 6. Memory of streamed intervals: 64 GPUs at -I 1 with --json\n\n");
	if (!js || !nvml) {
		printf("not run: %s missing\n\n", js ? "NVML simulator" : "joulestat CLI");
		return 1;
	}
	int run_s = RUN_S;
	const char *env_s = getenv("BENCH_STREAM_SECONDS"); /* a shorter trial by hand */
	if (env_s && atoi(env_s) > STEADY_FROM_S + 2 && atoi(env_s) <= RUN_S)
		run_s = atoi(env_s);
	bench_nvml_env(GPUS, "const:300");
	setenv("JOULESTAT_NVML_LIBRARY", nvml, 1);
	char dir[] = "/tmp/jst-bench-stream-XXXXXX";
	if (!mkdtemp(dir)) {
		printf("not run: no temporary directory\n\n");
		return 1;
	}
	/* No RAPL: the GPUs and the CPU estimate are the whole meter. */
	setenv("JOULESTAT_SYSFS_ROOT", dir, 1);
	char json[96], log[2][96], secs[16];
	snprintf(json, sizeof json, "%s/out.json", dir);
	snprintf(log[0], sizeof log[0], "%s/json.log", dir);
	snprintf(log[1], sizeof log[1], "%s/bare.log", dir);
	snprintf(secs, sizeof secs, "%d", run_s);
	/* --period 1: the sampler's series rings (4096 readings a domain, a fixed
	 * size) are full after 4.1 s instead of 7 minutes at the default 100 ms,
	 * so that what rises after 10 s can only be a leak. */
	/* --no-history: the streamed path alone. The history keeps every row too,
	 * spooled to a file and recorded when the command ends (section "History
	 * cost": some 0.6 s after 5 s of 64 GPUs at -I 1). */
	char *with[] = {(char *)js, "run",    "-q", "--no-history", "--period",   "1",  "-I",
	                "1",        "--json", json, "--",           "/bin/sleep", secs, NULL};
	char *bare[] = {(char *)js, "run", "-q", "--no-history", "--period", "1",
	                "-I",       "1",   "--", "/bin/sleep",   secs,       NULL};
	static struct side side[2] = {{.label = "--json"}, {.label = "no output"}};

	int64_t t0 = bench_now_ns();
	side[0].pid = bench_spawn(with, NULL, log[0]);
	side[1].pid = bench_spawn(bare, NULL, log[1]);
	for (int64_t next = t0 + 1000000000LL; !(side[0].done && side[1].done);
	     next += 1000000000LL) {
		struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		for (int k = 0; k < 2; k++) {
			struct side *s = &side[k];
			long v = s->done ? -1 : bench_vm_rss_kib(s->pid);
			if (v < 0 || s->n == sizeof s->t / sizeof s->t[0]) {
				s->done = 1;
				continue;
			}
			s->t[s->n] = (double)(bench_now_ns() - t0) * 1e-9;
			s->kib[s->n++] = (double)v;
		}
	}
	bench_reap(side[0].pid, t0, &side[0].r);
	bench_reap(side[1].pid, t0, &side[1].r);
	struct stat st;
	long long bytes = stat(json, &st) ? -1 : (long long)st.st_size;
	long intervals = count_intervals(json);

	printf("`joulestat run -q --no-history --period 1 -I 1 --json FILE -- sleep %d` and the "
	       "same without "
	       "`--json FILE`, at the same time, each against %d simulated NVML GPUs (no RAPL: the "
	       "CPU is the estimate), VmRSS of each joulestat process read once a second. "
	       "`--period 1` fills the sampler's fixed series rings (4096 readings a domain) in "
	       "4.1 s rather than the 7 minutes they take at the default 100 ms, which would "
	       "otherwise rise some 2 MiB a minute in both runs alike. Before intervals were "
	       "streamed they were all kept until the end: issue 10 measured 1.96 GB after "
	       "10 s.\n\n",
	       run_s, GPUS);
	int ok = side[0].r.status == 0 && side[1].r.status == 0 && side[0].n > STEADY_FROM_S + 2 &&
	         side[1].n > STEADY_FROM_S + 2 && intervals > 0;
	if (!ok) {
		printf("**run failed** (exit %d and %d, %zu and %zu readings, %ld intervals)\n\n",
		       side[0].r.status, side[1].r.status, side[0].n, side[1].n, intervals);
		return 1;
	}
	printf("| run | first (1 s) | at %d s | last | peak (ru_maxrss) | slope from %d s on | "
	       "target <= 1 MiB/min |\n",
	       STEADY_FROM_S, STEADY_FROM_S);
	printf("|---|---:|---:|---:|---:|---:|---|\n");
	row(&side[0], "`--json FILE`");
	row(&side[1], "no output");
	printf("\n");
	for (int k = 0; k < 2; k++) {
		printf("VmRSS every 5 s, %s (KiB):", side[k].label);
		for (size_t i = 0; i < side[k].n; i += 5)
			printf(" %.0f", side[k].kib[i]);
		printf("\n\n");
	}
	printf("The file: %ld intervals in %.1f MiB (%.1f KiB each, %.1f a second: at 64 GPUs "
	       "writing an interval takes longer than 1 ms, so ticks are skipped and the "
	       "intervals are longer than asked, none lost). joulestat ran %.1f s (the command: "
	       "%d s).\n\n",
	       intervals, (double)bytes / 1048576, (double)bytes / 1024 / (double)intervals,
	       (double)intervals / run_s, side[0].r.wall_s, run_s);
	int met = 1;
	for (int k = 0; k < 2; k++) {
		size_t s0 = 0;
		while (s0 < side[k].n && side[k].t[s0] < STEADY_FROM_S)
			s0++;
		met &= bench_slope(side[k].t + s0, side[k].kib + s0, side[k].n - s0) * 60 <=
		       TARGET_KIB_MIN;
	}
	printf("Target: RSS of `run -I 1 --json` with 64 GPUs flat (<= 1 MiB/min from %d s on), "
	       "as without an output: %s.\n\n",
	       STEADY_FROM_S, bench_verdict(met));
	unlink(json);
	unlink(log[0]);
	unlink(log[1]);
	rmdir(dir);
	return 0;
}
