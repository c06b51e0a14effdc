/*
 * The backends of issue 12 (rapl-msr, rapl-perf, hwmon, jetson, amdsmi), each
 * alone against its simulator: the cost of one window begin + end pair and of
 * the sampler at 100 Hz, next to the raw-read floor, the same reads done
 * directly (pread of the same files at the same offsets; the same library
 * calls). Trials of meter and floor alternate so that noise falls on both.
 */
#include "amdsmi_api.h"
#include "bench_env.h"
#include "bench_stats.h"
#include "joulestat.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRIALS 101
#define PAIRS 200     /* window pairs (or floor pairs) per trial */
#define SAMPLER_S 2.0 /* per sampler round */
#define ROUNDS 3
#define MAX_READS 32
#define AMD_GPUS 8

/* One raw read of the floor: a file at an offset, binary (8 bytes) or text. */
struct raw_read {
	int fd;
	off_t off;
	int binary;
};

struct floor {
	struct raw_read r[MAX_READS];
	size_t n;
	struct jst_amd_api amd; /* amdsmi: the library calls instead of files */
	amdsmi_processor_handle gpu[AMD_GPUS];
	size_t ngpus;
};

static volatile unsigned long long sink;

static void floor_read(const struct floor *f)
{
	unsigned long long s = 0;
	for (size_t i = 0; i < f->n; i++) {
		char buf[32];
		ssize_t k =
		    pread(f->r[i].fd, buf, f->r[i].binary ? 8 : sizeof buf - 1, f->r[i].off);
		if (k > 0 && !f->r[i].binary) {
			buf[k] = 0;
			s += strtoull(buf, NULL, 10);
		} else if (k == 8) {
			uint64_t v;
			memcpy(&v, buf, 8);
			s += v;
		}
	}
	for (size_t g = 0; g < f->ngpus; g++) {
		uint64_t acc = 0, ts = 0;
		float res = 0;
		f->amd.amdsmi_get_energy_count(f->gpu[g], &acc, &res, &ts);
		s += acc;
	}
	sink += s;
}

static int add_file(struct floor *f, const char *path, off_t off, int binary)
{
	if (f->n == MAX_READS)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	f->r[f->n++] = (struct raw_read){fd, off, binary};
	return 0;
}

static void floor_close(struct floor *f)
{
	for (size_t i = 0; i < f->n; i++)
		close(f->r[i].fd);
	f->n = 0;
	if (f->amd.lib) {
		f->amd.amdsmi_shut_down();
		dlclose(f->amd.lib);
		f->amd.lib = NULL;
	}
}

/* ---- simulators --------------------------------------------------------------- */

static char dir[64];
static pid_t sim_pid;

static int start_sim(char *const argv[], const char *ready)
{
	sim_pid = fork();
	if (sim_pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 2000; i++) {
		if (access(ready, F_OK) == 0)
			return 0;
		usleep(5000);
	}
	fprintf(stderr, "bench_backends: %s did not start\n", argv[0]);
	return -1;
}

static void stop_sim(void)
{
	if (sim_pid > 0) {
		kill(sim_pid, SIGTERM);
		waitpid(sim_pid, NULL, 0);
		sim_pid = 0;
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_backends: cannot remove %s\n", dir);
}

/* ---- the cases ------------------------------------------------------------------ */

struct bcase {
	const char *backend;
	const char *what;
	int (*setup)(struct floor *f, jst_config *cfg);
};

static char sysroot[128], procroot[128], devroot[128], perfdir[128];

static int setup_powercap_views(void)
{
	char ready[160];
	snprintf(sysroot, sizeof sysroot, "%s/sys", dir);
	snprintf(procroot, sizeof procroot, "%s/proc", dir);
	snprintf(devroot, sizeof devroot, "%s/dev", dir);
	snprintf(perfdir, sizeof perfdir, "%s/perf", dir);
	snprintf(ready, sizeof ready, "%s/ready", dir);
	mkdir(sysroot, 0755);
	char *argv[] = {(char *)BENCH_SIM_POWERCAP_PATH,
	                "--root",
	                sysroot,
	                "--procfs",
	                procroot,
	                "--devfs",
	                devroot,
	                "--perf",
	                perfdir,
	                "--no-powercap",
	                "--packages",
	                "2",
	                "--trace",
	                BENCH_TRACE,
	                "--ready",
	                ready,
	                NULL};
	return start_sim(argv, ready);
}

static int setup_msr(struct floor *f, jst_config *cfg)
{
	if (setup_powercap_views())
		return -1;
	setenv("JOULESTAT_DEVFS_ROOT", devroot, 1);
	jst_config_set(cfg, "sysfs.root", sysroot);
	jst_config_set(cfg, "procfs.root", procroot);
	/* Per package (CPUs 0 and 2): package, PP0, PP1, DRAM; PSYS absent. */
	static const off_t regs[] = {0x611, 0x639, 0x641, 0x619};
	for (int cpu = 0; cpu <= 2; cpu += 2) {
		char path[256];
		snprintf(path, sizeof path, "%s/cpu/%d/msr", devroot, cpu);
		for (size_t i = 0; i < 4; i++)
			if (add_file(f, path, regs[i], 1))
				return -1;
	}
	return 0;
}

static int setup_perf(struct floor *f, jst_config *cfg)
{
	if (setup_powercap_views())
		return -1;
	setenv("JOULESTAT_PERF_LIBRARY", BENCH_SIM_PERF_PATH, 1);
	setenv("JSTSIM_PERF_DIR", perfdir, 1);
	jst_config_set(cfg, "sysfs.root", sysroot);
	jst_config_set(cfg, "procfs.root", procroot);
	/* The seam's reads: energy-pkg, -cores, -ram, -gpu on each package's CPU. */
	static const int events[] = {2, 1, 4, 3};
	for (int cpu = 0; cpu <= 2; cpu += 2) {
		for (size_t i = 0; i < 4; i++) {
			char path[256];
			snprintf(path, sizeof path, "%s/cpu%d/event-%d", perfdir, cpu, events[i]);
			if (add_file(f, path, 0, 1))
				return -1;
		}
	}
	return 0;
}

static int setup_hwmon_sim(const char *layout)
{
	char ready[160];
	snprintf(sysroot, sizeof sysroot, "%s/sys", dir);
	snprintf(ready, sizeof ready, "%s/ready", dir);
	mkdir(sysroot, 0755);
	char *argv[] = {(char *)BENCH_SIM_HWMON_PATH,
	                "--root",
	                sysroot,
	                "--layout",
	                (char *)layout,
	                "--trace",
	                "const:40",
	                "--ready",
	                ready,
	                NULL};
	return start_sim(argv, ready);
}

static int setup_hwmon(struct floor *f, jst_config *cfg)
{
	if (setup_hwmon_sim("amd-energy"))
		return -1;
	jst_config_set(cfg, "sysfs.root", sysroot);
	for (int k = 1; k <= 3; k++) {
		char path[256];
		snprintf(path, sizeof path,
		         "%s/devices/platform/amd_energy.0/hwmon/hwmon3/energy%d_input", sysroot,
		         k);
		if (add_file(f, path, 0, 0))
			return -1;
	}
	return 0;
}

static int setup_jetson(struct floor *f, jst_config *cfg)
{
	if (setup_hwmon_sim("orin"))
		return -1;
	jst_config_set(cfg, "sysfs.root", sysroot);
	static const char *files[] = {"c250000.i2c/i2c-2/2-0044/hwmon/hwmon1/power1_input",
	                              "c240000.i2c/i2c-1/1-0040/hwmon/hwmon2/in1_input",
	                              "c240000.i2c/i2c-1/1-0040/hwmon/hwmon2/curr1_input",
	                              "c240000.i2c/i2c-1/1-0040/hwmon/hwmon2/in2_input",
	                              "c240000.i2c/i2c-1/1-0040/hwmon/hwmon2/curr2_input"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "%s/devices/platform/bus@0/%s", sysroot, files[i]);
		if (add_file(f, path, 0, 0))
			return -1;
	}
	return 0;
}

static int setup_amdsmi(struct floor *f, jst_config *cfg)
{
	snprintf(sysroot, sizeof sysroot, "%s", dir); /* no RAPL */
	jst_config_set(cfg, "sysfs.root", sysroot);
	setenv("JOULESTAT_AMDSMI_LIBRARY", BENCH_SIM_AMDSMI_PATH, 1);
	setenv("JSTSIM_AMDSMI_GPUS", "8", 1);
	setenv("JSTSIM_AMDSMI_TRACE", BENCH_TRACE, 1);
	struct jst_amd_api *a = &f->amd;
	if (!(a->lib = dlopen(BENCH_SIM_AMDSMI_PATH, RTLD_NOW | RTLD_LOCAL)))
		return -1;
	*(void **)&a->amdsmi_init = dlsym(a->lib, "amdsmi_init");
	*(void **)&a->amdsmi_shut_down = dlsym(a->lib, "amdsmi_shut_down");
	*(void **)&a->amdsmi_get_socket_handles = dlsym(a->lib, "amdsmi_get_socket_handles");
	*(void **)&a->amdsmi_get_processor_handles = dlsym(a->lib, "amdsmi_get_processor_handles");
	*(void **)&a->amdsmi_get_energy_count = dlsym(a->lib, "amdsmi_get_energy_count");
	if (!a->amdsmi_init || a->amdsmi_init(AMDSMI_INIT_AMD_GPUS))
		return -1;
	amdsmi_socket_handle s[AMD_GPUS];
	uint32_t ns = AMD_GPUS;
	a->amdsmi_get_socket_handles(&ns, s);
	for (uint32_t i = 0; i < ns && f->ngpus < AMD_GPUS; i++) {
		uint32_t np = 1;
		a->amdsmi_get_processor_handles(s[i], &np, &f->gpu[f->ngpus]);
		f->ngpus += np;
	}
	return 0;
}

/* ---- measuring ------------------------------------------------------------------ */

static int64_t time_meter(jst_meter *m)
{
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < PAIRS; i++) {
		jst_measurement *ms;
		jst_window *w;
		jst_window_begin(m, "w", &w);
		jst_window_end(w, &ms);
		jst_measurement_free(ms);
	}
	return bench_now_ns() - t0;
}

static int64_t time_floor(const struct floor *f)
{
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < PAIRS; i++) {
		floor_read(f);
		floor_read(f);
	}
	return bench_now_ns() - t0;
}

struct floor_thread {
	const struct floor *f;
	atomic_int stop;
};

static void *floor_main(void *arg)
{
	struct floor_thread *ft = arg;
	int64_t next = bench_now_ns();
	while (!atomic_load(&ft->stop)) {
		next += 10000000; /* 100 Hz */
		struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		floor_read(ft->f);
	}
	return NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts))
		;
}

/* CPU % of one core: the meter's sampler at 100 Hz, then a bare floor thread. */
static void sampler_cost(const jst_config *base, const struct floor *f, double *meter_pct,
                         double *floor_pct)
{
	int64_t mc = 0, mw = 0, fc = 0, fw = 0;
	for (int r = 0; r < ROUNDS; r++) {
		jst_config cfg = *base;
		cfg.sample_period_ms = 10;
		jst_meter *m;
		if (jst_meter_open(&cfg, &m) == 0) {
			sleep_s(0.1);
			int64_t w0 = bench_now_ns(), c0 = bench_cpu_ns();
			sleep_s(SAMPLER_S);
			mc += bench_cpu_ns() - c0;
			mw += bench_now_ns() - w0;
			jst_meter_close(m);
		}
		struct floor_thread ft = {.f = f};
		pthread_t th;
		pthread_create(&th, NULL, floor_main, &ft);
		sleep_s(0.1);
		int64_t w0 = bench_now_ns(), c0 = bench_cpu_ns();
		sleep_s(SAMPLER_S);
		fc += bench_cpu_ns() - c0;
		fw += bench_now_ns() - w0;
		atomic_store(&ft.stop, 1);
		pthread_join(th, NULL);
	}
	*meter_pct = mw ? 100.0 * (double)mc / (double)mw : 0;
	*floor_pct = fw ? 100.0 * (double)fc / (double)fw : 0;
}

static int run_case(const struct bcase *c)
{
	struct floor f = {0};
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.backends = c->backend;
	cfg.allow_estimate = 0;
	snprintf(dir, sizeof dir, "/tmp/jst-bench-be-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	int rc = c->setup(&f, &cfg);
	jst_meter *m = NULL;
	if (!rc && (rc = jst_meter_open(&cfg, &m)) == 0 && jst_meter_domain_count(m) == 0)
		rc = -1;
	if (rc) {
		printf("| `%s` | %s | setup failed (%d) | | | | | |\n", c->backend, c->what, rc);
		if (m)
			jst_meter_close(m);
		floor_close(&f);
		stop_sim();
		return -1;
	}
	size_t ndom = jst_meter_domain_count(m);
	double ratio[TRIALS], mns[TRIALS], fns[TRIALS];
	for (int t = 0; t < TRIALS; t++) {
		int64_t a = time_meter(m), b = time_floor(&f);
		mns[t] = (double)a / PAIRS;
		fns[t] = (double)b / PAIRS;
		ratio[t] = b > 0 ? (double)a / (double)b : 0;
	}
	jst_meter_close(m);
	double mp, fp;
	sampler_cost(&cfg, &f, &mp, &fp);
	printf("| `%s` | %s | %zu | %.1f | %.1f | %.2f | %.3f%% | %.3f%% |\n", c->backend, c->what,
	       ndom, bench_median(mns, TRIALS) / 1e3, bench_median(fns, TRIALS) / 1e3,
	       bench_median(ratio, TRIALS), mp, fp);
	fflush(stdout);
	floor_close(&f);
	stop_sim();
	return 0;
}

int main(void)
{
	static const struct bcase cases[] = {
	    {"rapl-msr", "2 packages x 4 MSRs (sparse files, pread 8 bytes)", setup_msr},
	    {"rapl-perf", "2 packages x 4 events through sim/perf's seam", setup_perf},
	    {"hwmon", "amd_energy: 3 uJ counters", setup_hwmon},
	    {"jetson", "Orin: ina238 power + 2 ina3221 rails (mV x mA)", setup_jetson},
	    {"amdsmi", "8 GPUs, amdsmi_get_energy_count (sim/amdsmi)", setup_amdsmi},
	};
	printf("\n## Backends: window pair and sampler against the raw-read floor\n\n");
	printf("Each backend alone against its simulator. Window pair = one begin + end "
	       "(median of %d trials of %d pairs, alternating with the floor: the same raw reads "
	       "done directly, twice). Sampler = process CPU at 100 Hz, %d rounds of %.0f s, "
	       "alternating with a bare thread that makes the floor's reads at the same rate.\n\n",
	       TRIALS, PAIRS, ROUNDS, SAMPLER_S);
	printf("| backend | reads | domains | window pair us | floor pair us | ratio (median) "
	       "| sampler CPU 100 Hz | floor CPU 100 Hz |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	int bad = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		bad |= run_case(&cases[i]) != 0;
	printf("\nThe ratio is what the core adds per window (window bookkeeping, counter "
	       "extension, a measurement) over reading the hardware; the sampler CPU is one core's "
	       "percentage.\n");
	return bad;
}
