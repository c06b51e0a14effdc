/* Direct calls into the NVML library (here its simulator): the floor that
 * joulestat's nvml backend is compared with. Only the few entry points needed
 * are declared, so the floor depends on nothing of joulestat's. */
#ifndef JST_BENCH_NVML_H
#define JST_BENCH_NVML_H

#include <stddef.h>

#define BENCH_NVML_MAX 64

typedef struct bench_nvml_dev *bench_nvml_dev;

struct bench_nvml_util {
	unsigned gpu, memory;
};

struct bench_nvml {
	void *lib;
	unsigned n;
	bench_nvml_dev dev[BENCH_NVML_MAX];
	int (*energy)(bench_nvml_dev, unsigned long long *mj);
	/* Telemetry the sampler records; NULL where the library lacks it. */
	int (*power)(bench_nvml_dev, unsigned *mw);
	int (*temperature)(bench_nvml_dev, int sensor, unsigned *c);
	int (*utilization)(bench_nvml_dev, struct bench_nvml_util *u);
	int (*clock)(bench_nvml_dev, int type, unsigned *mhz);
	int (*limit)(bench_nvml_dev, unsigned *mw);
	int (*shutdown)(void);
	/* The simulator's count of energy reads (jstsim_nvml_energy_reads): NULL
	 * on a real NVML. */
	unsigned long (*reads)(int on);
};

/* dlopen path, nvmlInit_v2, a handle per GPU. Returns 0, or negative with a
 * reason in err. */
int bench_nvml_open(struct bench_nvml *nv, const char *path, char *err, size_t len);
void bench_nvml_close(struct bench_nvml *nv);
/* The energy counter of every GPU: what a window edge needs. */
unsigned long long bench_nvml_read_energy(const struct bench_nvml *nv);
/* The share of window edges that called each GPU's energy counter while
 * fn(arg, n) ran window pairs, n at a time, for at least seconds of real time
 * (several refreshes, so that every phase of the latches is met as the
 * trials meet them): the simulator counts while fn runs. Negative where it
 * cannot count (a real NVML). */
double bench_nvml_edge_read_share(const struct bench_nvml *nv, void (*fn)(void *arg, long n),
                                  void *arg, double seconds);
/* Energy plus the telemetry a sampler reading records. */
unsigned long long bench_nvml_read_all(const struct bench_nvml *nv);

#endif
