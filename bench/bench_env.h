/* Where the simulators and the CLI are, and the simulated machine every
 * benchmark measures: 2 RAPL packages on the sysfs simulator, 8 NVML GPUs. */
#ifndef JST_BENCH_ENV_H
#define JST_BENCH_ENV_H

#include <stddef.h>
#include <sys/types.h>

#define BENCH_PACKAGES 2
#define BENCH_GPUS 8
#define BENCH_TRACE "bursty:1"

/* Paths from the environment (SIM_POWERCAP, SIM_NVML, JOULESTAT), else the
 * build's own; NULL when neither exists. */
const char *bench_sim_powercap(void);
const char *bench_sim_nvml(void);
const char *bench_joulestat(void);

struct bench_powercap {
	pid_t pid;
	char dir[64];  /* private temporary directory */
	char root[96]; /* the sysfs root to give joulestat */
};

/* Start the sysfs simulator and wait until its tree is complete. Returns 0, or
 * negative with a reason on stderr. */
int bench_powercap_start(struct bench_powercap *s, int packages, const char *trace);
void bench_powercap_stop(struct bench_powercap *s);

/* The NVML simulator reads its configuration at nvmlInit from the environment;
 * set it here so that the CLI's children and this process agree. */
void bench_nvml_env(unsigned gpus, const char *trace);

/* Open every energy_uj file of the simulated RAPL zones, for the floor. names[i]
 * gets the zone's joulestat-style domain name ("package-0", "core-0", "dram-1").
 * Returns how many were opened. */
size_t bench_rapl_open(const char *root, int *fds, char (*names)[64], size_t max);
/* pread + parse every file: the raw reads a RAPL reading needs. Returns the sum
 * so the compiler cannot drop the work. */
unsigned long long bench_rapl_read(const int *fds, size_t n);

#endif
