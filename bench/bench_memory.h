/* The two halves of the memory benchmark. */
#ifndef JST_BENCH_MEMORY_H
#define JST_BENCH_MEMORY_H

#include <stddef.h>
#include <sys/types.h>

/* VmRSS of a process in KiB; -1 once it is gone or a zombie. */
long bench_vm_rss_kib(pid_t pid);

struct bench_ff {
	size_t domains;
	size_t readings;
	double seconds;
	double first_kib, last_kib, peak_kib; /* first: after the ring has filled */
	double slope_kib_per_m;               /* KiB per million readings */
};

/* Drive sampler readings back to back for at most budget_s seconds or an
 * hour's worth at 1 kHz, whichever comes first. Returns 0 or negative. */
int bench_memory_ff(const char *sysfs_root, double budget_s, struct bench_ff *out);

#endif
