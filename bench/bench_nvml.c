#include "bench_nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1

int bench_nvml_open(struct bench_nvml *nv, const char *path, char *err, size_t len)
{
	*nv = (struct bench_nvml){0};
	nv->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!nv->lib) {
		snprintf(err, len, "dlopen %s: %s", path, dlerror());
		return -1;
	}
	int (*init)(void) = (int (*)(void))dlsym(nv->lib, "nvmlInit_v2");
	int (*count)(unsigned *) = (int (*)(unsigned *))dlsym(nv->lib, "nvmlDeviceGetCount_v2");
	int (*handle)(unsigned, bench_nvml_dev *) =
	    (int (*)(unsigned, bench_nvml_dev *))dlsym(nv->lib, "nvmlDeviceGetHandleByIndex_v2");
	nv->energy = (int (*)(bench_nvml_dev, unsigned long long *))dlsym(
	    nv->lib, "nvmlDeviceGetTotalEnergyConsumption");
	nv->power = (int (*)(bench_nvml_dev, unsigned *))dlsym(nv->lib, "nvmlDeviceGetPowerUsage");
	nv->temperature =
	    (int (*)(bench_nvml_dev, int, unsigned *))dlsym(nv->lib, "nvmlDeviceGetTemperature");
	nv->utilization = (int (*)(bench_nvml_dev, struct bench_nvml_util *))dlsym(
	    nv->lib, "nvmlDeviceGetUtilizationRates");
	nv->clock =
	    (int (*)(bench_nvml_dev, int, unsigned *))dlsym(nv->lib, "nvmlDeviceGetClockInfo");
	nv->limit =
	    (int (*)(bench_nvml_dev, unsigned *))dlsym(nv->lib, "nvmlDeviceGetEnforcedPowerLimit");
	nv->shutdown = (int (*)(void))dlsym(nv->lib, "nvmlShutdown");
	nv->reads = (unsigned long (*)(int))dlsym(nv->lib, "jstsim_nvml_energy_reads");
	if (!init || !count || !handle || !nv->energy) {
		snprintf(err, len,
		         "%s lacks nvmlInit_v2, nvmlDeviceGetCount_v2, "
		         "nvmlDeviceGetHandleByIndex_v2 or nvmlDeviceGetTotalEnergyConsumption",
		         path);
		return -1;
	}
	int r = init();
	if (r == 0)
		r = count(&nv->n);
	if (nv->n > BENCH_NVML_MAX)
		nv->n = BENCH_NVML_MAX;
	for (unsigned i = 0; r == 0 && i < nv->n; i++)
		r = handle(i, &nv->dev[i]);
	if (r) {
		snprintf(err, len, "%s: NVML error %d", path, r);
		return -1;
	}
	return 0;
}

void bench_nvml_close(struct bench_nvml *nv)
{
	if (nv->shutdown)
		nv->shutdown();
	if (nv->lib)
		dlclose(nv->lib);
	*nv = (struct bench_nvml){0};
}

unsigned long long bench_nvml_read_energy(const struct bench_nvml *nv)
{
	unsigned long long sum = 0, e = 0;
	for (unsigned i = 0; i < nv->n; i++)
		if (nv->energy(nv->dev[i], &e) == 0)
			sum += e;
	return sum;
}

unsigned long long bench_nvml_read_all(const struct bench_nvml *nv)
{
	unsigned long long sum = bench_nvml_read_energy(nv);
	for (unsigned i = 0; i < nv->n; i++) {
		unsigned v = 0;
		struct bench_nvml_util u = {0};
		if (nv->power && nv->power(nv->dev[i], &v) == 0)
			sum += v;
		if (nv->temperature && nv->temperature(nv->dev[i], NVML_TEMPERATURE_GPU, &v) == 0)
			sum += v;
		if (nv->utilization && nv->utilization(nv->dev[i], &u) == 0)
			sum += u.gpu;
		if (nv->clock && nv->clock(nv->dev[i], NVML_CLOCK_SM, &v) == 0)
			sum += v;
		if (nv->limit && nv->limit(nv->dev[i], &v) == 0)
			sum += v;
	}
	return sum;
}

double bench_nvml_edge_read_share(const struct bench_nvml *nv, void (*fn)(void *arg, long n),
                                  void *arg, double seconds)
{
	if (!nv->reads || !nv->n || !(seconds > 0))
		return -1;
	struct timespec a, b;
	long pairs = 0;
	unsigned long r0 = nv->reads(1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		fn(arg, 1000);
		pairs += 1000;
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9 < seconds);
	unsigned long r1 = nv->reads(0);
	return (double)(r1 - r0) / ((double)nv->n * 2.0 * (double)pairs);
}
