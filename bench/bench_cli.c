/*
 * CLI cost: what `joulestat run -- true` adds to `true`, next to what
 * `/usr/bin/time true` and `perf stat true` add. Rounds run every command once,
 * in a rotating order, so drift in the machine's load falls on all alike.
 */
#include "bench_env.h"
#include "bench_spawn.h"
#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 60
#define MAX_ENV 512

struct variant {
	const char *label;
	char *argv[8];
	char **envp; /* NULL: ours */
	int ok;
	double wall[ROUNDS], cpu[ROUNDS];
	double wall_p50, cpu_p50;
};

/* Our environment plus the simulated machine: 8 NVML GPUs, 2 RAPL packages. */
static char **sim_env(const char *nvml, const char *root)
{
	static char *env[MAX_ENV];
	static char lib[600], sys[200];
	size_t n = 0;
	for (char **e = environ; *e && n < MAX_ENV - 8; e++)
		if (strncmp(*e, "JOULESTAT_", 10) != 0 && strncmp(*e, "JSTSIM_", 7) != 0)
			env[n++] = *e;
	snprintf(lib, sizeof lib, "JOULESTAT_NVML_LIBRARY=%s", nvml);
	env[n++] = lib;
	env[n++] = "JSTSIM_NVML_GPUS=8";
	env[n++] = "JSTSIM_NVML_TRACE=" BENCH_TRACE;
	if (root) {
		snprintf(sys, sizeof sys, "JOULESTAT_SYSFS_ROOT=%s", root);
		env[n++] = sys;
	}
	env[n] = NULL;
	return env;
}

static int works(struct variant *v)
{
	struct bench_run r;
	return bench_run(v->argv, v->envp, &r) == 0 && r.status == 0;
}

static void row(const struct variant *v, const struct variant *bare, const struct variant *time_,
                const struct variant *perf)
{
	if (!v->ok) {
		printf("| `%s` | not run: it failed or is not installed | | | | | |\n", v->label);
		return;
	}
	double xw = v->wall_p50 - bare->wall_p50, xc = v->cpu_p50 - bare->cpu_p50;
	char vs_time[32] = "", vs_perf[32] = "";
	if (v > perf && time_->ok && time_->wall_p50 > bare->wall_p50)
		snprintf(vs_time, sizeof vs_time, "%.1fx", xw / (time_->wall_p50 - bare->wall_p50));
	if (v > perf && perf->ok && perf->wall_p50 > bare->wall_p50)
		snprintf(vs_perf, sizeof vs_perf, "%.1fx", xw / (perf->wall_p50 - bare->wall_p50));
	printf("| `%s` | %.2f ms | %+.2f ms | %.2f ms | %+.2f ms | %s | %s |\n", v->label,
	       v->wall_p50 * 1e3, xw * 1e3, v->cpu_p50 * 1e3, xc * 1e3, vs_time, vs_perf);
}

int main(void)
{
	const char *js = bench_joulestat(), *nvml = bench_sim_nvml();
	struct bench_powercap pc;
	int have_rapl = bench_powercap_start(&pc, BENCH_PACKAGES, BENCH_TRACE) == 0;
	static struct variant v[] = {
	    {"true", .argv = {"/bin/true"}},
	    {"/usr/bin/time true", .argv = {"/usr/bin/time", "/bin/true"}},
	    {"perf stat true", .argv = {"/usr/bin/perf", "stat", "/bin/true"}},
	    {"joulestat run -- true (this machine's own sensors)",
	     .argv = {NULL, "run", "--", "/bin/true"}},
	    {"joulestat run -- true (8 simulated GPUs + 2 RAPL packages)",
	     .argv = {NULL, "run", "--", "/bin/true"}},
	};
	size_t nv = sizeof v / sizeof v[0];
	v[3].argv[0] = v[4].argv[0] = (char *)js;
	if (nvml)
		v[4].envp = sim_env(nvml, have_rapl ? pc.root : NULL);
	for (size_t i = 0; i < nv; i++)
		v[i].ok = v[i].argv[0] && access(v[i].argv[0], X_OK) == 0 && works(&v[i]);
	v[4].ok &= nvml != NULL;

	for (int r = 0; r < ROUNDS; r++)
		for (size_t k = 0; k < nv; k++) {
			struct variant *x = &v[(k + (size_t)r) % nv];
			struct bench_run run = {0};
			if (x->ok && bench_run(x->argv, x->envp, &run) == 0) {
				x->wall[r] = run.wall_s;
				x->cpu[r] = run.cpu_s;
			}
		}
	for (size_t i = 0; i < nv; i++) {
		v[i].wall_p50 = bench_median(v[i].wall, ROUNDS);
		v[i].cpu_p50 = bench_median(v[i].cpu, ROUNDS);
	}
	if (have_rapl)
		bench_powercap_stop(&pc);

	printf("## 5. CLI cost\n\n");
	printf("Each command run %d times, interleaved; medians of wall time (spawn to reaped) "
	       "and CPU time (user + system of it and its children, from `wait4`). Extra = "
	       "median minus that of bare `true`. Output goes to /dev/null.\n\n",
	       ROUNDS);
	printf("| command | wall p50 | extra wall | CPU p50 | extra CPU | extra wall vs "
	       "/usr/bin/time | extra wall vs perf stat |\n|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < nv; i++)
		row(&v[i], &v[0], &v[1], &v[2]);
	printf("\n");
	return 0;
}
