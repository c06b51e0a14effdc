/*
 * Where attribution learns which processes kept a GPU busy. One source today,
 * NVML's per-process utilisation samples (attrib_nvml.c); DCGM's job
 * statistics are the second one this seam is for: a source fills the same
 * struct for a GPU named by its UUID, and attrib.c does not change.
 */
#ifndef JST_ATTRIB_GPU_H
#define JST_ATTRIB_GPU_H

#include <stddef.h>
#include <sys/types.h>

#define JST_ATTR_GPU_PROCS_MAX 256

/* The processes seen on one GPU since the previous call: each one's mean
 * SM busy fraction (0..1) over the samples taken in that time. */
struct jst_attr_gpu_use {
	size_t n;
	pid_t pid[JST_ATTR_GPU_PROCS_MAX];
	double busy[JST_ATTR_GPU_PROCS_MAX];
	int samples; /* distinct sampling instants seen; 0: nothing new */
};

struct jst_attr_gpu_source {
	const char *name; /* "nvml" */
	/* 0 and *state, or -errno with why. */
	int (*open)(const char *library, void **state, char *why, size_t len);
	/* uuid as the meter's device identity has it, without "gpu:". 0 or -errno. */
	int (*use)(void *state, const char *uuid, struct jst_attr_gpu_use *out);
	void (*close)(void *state);
};

extern const struct jst_attr_gpu_source jst_attr_gpu_nvml;

#endif
