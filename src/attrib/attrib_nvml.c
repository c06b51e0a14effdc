/*
 * Per-process GPU utilisation from NVML (nvmlDeviceGetProcessUtilization),
 * loaded with dlopen like the backend, in its own handle: attribution runs in
 * the CLI, beside the library's own NVML session, and NVML counts its
 * initialisations. Samples come with their instant; each call asks only for
 * those newer than the last one seen on that GPU.
 */
#include "attrib_gpu.h"
#include "nvml_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPUS_MAX 64

struct nvml_state {
	void *lib;
	nvmlReturn_t (*shutdown)(void);
	nvmlReturn_t (*by_uuid)(const char *uuid, nvmlDevice_t *dev);
	nvmlDeviceGetProcessUtilization_fn proc_util;
	char uuid[GPUS_MAX][NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	unsigned long long last_us[GPUS_MAX];
	size_t n;
};

static int nvml_open(const char *library, void **state, char *why, size_t len)
{
	struct nvml_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!s->lib) {
		snprintf(why, len, "cannot load %s: per-process GPU use unknown", library);
		free(s);
		return -ENOENT;
	}
	nvmlReturn_t (*init)(void) = (nvmlReturn_t(*)(void))dlsym(s->lib, "nvmlInit_v2");
	s->shutdown = (nvmlReturn_t(*)(void))dlsym(s->lib, "nvmlShutdown");
	s->by_uuid = (nvmlReturn_t(*)(const char *, nvmlDevice_t *))dlsym(
	    s->lib, "nvmlDeviceGetHandleByUUID");
	s->proc_util =
	    (nvmlDeviceGetProcessUtilization_fn)dlsym(s->lib, "nvmlDeviceGetProcessUtilization");
	if (!init || !s->shutdown || !s->by_uuid || !s->proc_util || init() != NVML_SUCCESS) {
		snprintf(why, len,
		         "%s has no nvmlDeviceGetProcessUtilization or does not initialise: "
		         "per-process GPU use unknown",
		         library);
		dlclose(s->lib);
		free(s);
		return -ENOTSUP;
	}
	*state = s;
	return 0;
}

static size_t slot(struct nvml_state *s, const char *uuid)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->uuid[i], uuid))
			return i;
	if (s->n == GPUS_MAX)
		return GPUS_MAX;
	snprintf(s->uuid[s->n], sizeof s->uuid[0], "%s", uuid);
	s->last_us[s->n] = 0;
	return s->n++;
}

static int nvml_use(void *state, const char *uuid, struct jst_attr_gpu_use *out)
{
	struct nvml_state *s = state;
	out->n = 0;
	out->samples = 0;
	size_t k = slot(s, uuid);
	nvmlDevice_t dev;
	if (k == GPUS_MAX || s->by_uuid(uuid, &dev) != NVML_SUCCESS)
		return -ENODEV;
	nvmlProcessUtilizationSample_t buf[JST_ATTR_GPU_PROCS_MAX];
	unsigned count = JST_ATTR_GPU_PROCS_MAX;
	nvmlReturn_t r = s->proc_util(dev, buf, &count, s->last_us[k]);
	if (r == NVML_ERROR_NOT_FOUND)
		return 0; /* no process ran since the last call */
	if (r != NVML_SUCCESS)
		return r == NVML_ERROR_NOT_SUPPORTED ? -ENOTSUP : -EIO;
	if (count > JST_ATTR_GPU_PROCS_MAX)
		count = JST_ATTR_GPU_PROCS_MAX;
	/* Samples of one instant belong together: a process's mean is its sum
	 * over the instants, divided by how many instants there were. */
	unsigned long long stamps[JST_ATTR_GPU_PROCS_MAX];
	int nstamps = 0;
	for (unsigned i = 0; i < count; i++) {
		int seen = 0;
		for (int j = 0; j < nstamps && !seen; j++)
			seen = stamps[j] == buf[i].timeStamp;
		if (!seen)
			stamps[nstamps++] = buf[i].timeStamp;
		if (buf[i].timeStamp > s->last_us[k])
			s->last_us[k] = buf[i].timeStamp;
		size_t p = 0;
		while (p < out->n && out->pid[p] != (pid_t)buf[i].pid)
			p++;
		if (p == out->n) {
			out->pid[p] = (pid_t)buf[i].pid;
			out->busy[p] = 0;
			out->n++;
		}
		out->busy[p] += buf[i].smUtil / 100.0;
	}
	for (size_t p = 0; p < out->n && nstamps; p++)
		out->busy[p] /= nstamps;
	out->samples = nstamps;
	return 0;
}

static void nvml_close(void *state)
{
	struct nvml_state *s = state;
	if (!s)
		return;
	s->shutdown();
	dlclose(s->lib);
	free(s);
}

const struct jst_attr_gpu_source jst_attr_gpu_nvml = {
    .name = "nvml", .open = nvml_open, .use = nvml_use, .close = nvml_close};
