/*
 * The seam between the rapl-perf backend and the kernel: opening one
 * system-wide counting event and reading its count. The default calls
 * perf_event_open(2) and read(2); a stand-in library (sim/perf, loaded from
 * JOULESTAT_PERF_LIBRARY) exports the same table as `jst_perf_ops` and serves
 * a simulator's counters, so tests run the backend's real code unprivileged.
 */
#ifndef JST_PERF_OPS_H
#define JST_PERF_OPS_H

#include <stdint.h>

struct jst_perf_ops {
	/* Open event (type, config) counting on cpu for every process. Returns an
	 * fd or negative errno (EACCES/EPERM: not allowed). */
	int (*open)(uint32_t type, uint64_t config, int cpu);
	/* The event's count since it was opened. 0 or negative errno. */
	int (*read)(int fd, uint64_t *count);
	void (*close)(int fd);
};

#define JST_PERF_OPS_SYMBOL "jst_perf_ops"

/* perf_event_open itself (rapl_perf_kernel.c). */
extern const struct jst_perf_ops jst_perf_ops_kernel;

#endif
