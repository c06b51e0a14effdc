/*
 * Memory in fast-forward: the sampler's readings driven back to back in this
 * process (through the core's own jst_meter_read_locked, as the sampler calls
 * it), so that far more samples fit in the time than the CLI's real-time run
 * allows. One window per 1000 readings, as an application measuring a request
 * a second would open.
 */
#include "bench_env.h"
#include "bench_memory.h"
#include "bench_stats.h"
#include "meter_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FF_MAX_READINGS 3600000 /* an hour at 1 kHz */
#define FF_CHUNK 20000
#define FF_MAX_POINTS (FF_MAX_READINGS / FF_CHUNK + 1)

long bench_vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kib = -1;
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "State:", 6) && strchr(line, 'Z'))
			break;
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

int bench_memory_ff(const char *sysfs_root, double budget_s, struct bench_ff *out)
{
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = sysfs_root ? "nvml,rapl" : "nvml";
	if (sysfs_root)
		jst_config_set(&cfg, "sysfs.root", sysfs_root);
	jst_config_set(&cfg, "nvml.library", bench_sim_nvml());
	cfg.allow_estimate = 0;
	cfg.sample_period_ms = 60000; /* this loop is the sampler */
	jst_meter *m;
	int rc = jst_meter_open(&cfg, &m);
	if (rc)
		return rc;
	*out = (struct bench_ff){.domains = jst_meter_domain_count(m)};
	static double x[FF_MAX_POINTS], y[FF_MAX_POINTS];
	size_t np = 0;
	int64_t t0 = bench_now_ns(), deadline = t0 + (int64_t)(budget_s * 1e9);
	pid_t self = getpid();
	while (out->readings < FF_MAX_READINGS && bench_now_ns() < deadline) {
		jst_window *w = NULL;
		for (int i = 0; i < FF_CHUNK; i++) {
			if (i % 1000 == 0)
				jst_window_begin(m, "request", &w);
			jst_meter_read(m, JST_READ_SAMPLER | JST_READ_TELE, NULL);
			if (i % 1000 == 999) {
				jst_measurement *ms;
				jst_window_end(w, &ms);
				jst_measurement_free(ms);
			}
		}
		out->readings += FF_CHUNK;
		x[np] = (double)out->readings / 1e6;
		y[np++] = (double)bench_vm_rss_kib(self);
	}
	out->seconds = (double)(bench_now_ns() - t0) * 1e-9;
	jst_meter_close(m);
	/* The first chunk fills the ring (4096 samples a domain) and warms the allocator. */
	size_t s0 = np > 2 ? 1 : 0;
	out->first_kib = y[s0];
	out->last_kib = y[np - 1];
	out->peak_kib = bench_max(y, np);
	out->slope_kib_per_m = bench_slope(x + s0, y + s0, np - s0);
	return 0;
}
