/*
 * What attribution reads of the operating system: busy CPU time per CPU
 * (<procfs>/stat), each process's CPU time and last CPU (<procfs>/PID/stat),
 * which CPU is in which package (<sysfs>/devices/system/cpu), and a cgroup v2's
 * CPU time and processes (<cgroup>/PATH/cpu.stat, cgroup.procs). Every path is
 * under a root that tests move (procfs.root, sysfs.root, attribute.cgroup-root).
 */
#ifndef JST_ATTRIB_PROC_H
#define JST_ATTRIB_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Busy time of every CPU, in clock ticks (USER_HZ). */
struct jst_attr_cpus {
	uint64_t *busy;        /* indexed by CPU number; user+nice+system+irq+softirq+steal */
	unsigned char *online; /* 1 where a cpuN line was present */
	size_t n;              /* highest CPU number + 1 */
};
/* Parse the text of /proc/stat: 0, or -EINVAL (why says what) when no cpuN
 * line parses. out is freed first. */
int jst_attr_cpus_parse(const char *text, struct jst_attr_cpus *out, char *why, size_t len);
int jst_attr_cpus_read(const char *procfs, struct jst_attr_cpus *out, char *why, size_t len);
void jst_attr_cpus_free(struct jst_attr_cpus *c);

/* The package of each CPU 0..n-1 from <sysfs>/devices/system/cpu/cpuN/
 * topology/physical_package_id; 0 where that is absent (one package). The
 * number of packages seen (highest + 1). */
unsigned jst_attr_topo_read(const char *sysfs, int *pkg, size_t n);

/* One process as /proc/PID/stat shows it (proc(5)). Times in clock ticks. */
struct jst_attr_pid {
	pid_t pid, ppid;
	uint64_t utime, stime, cutime, cstime;
	uint64_t starttime; /* with pid: who it is, since pids are reused */
	int processor;      /* the CPU it last ran on */
};
/* Parse one stat line: 0 or -EINVAL. The command name may hold spaces and
 * parentheses: the fields start after the last ')'. */
int jst_attr_pid_parse(const char *text, struct jst_attr_pid *out);
/* 0, -ENOENT when the process is gone, or another -errno. */
int jst_attr_pid_read(const char *procfs, pid_t pid, struct jst_attr_pid *out);

/* Every process now: a malloc'd array (*n of them), or -errno. */
int jst_attr_pids_scan(const char *procfs, struct jst_attr_pid **out, size_t *n);

/* A cgroup v2's usage_usec from cpu.stat: 0 or -errno. */
int jst_attr_cgroup_usage(const char *cgroup_root, const char *path, uint64_t *usec);
/* The pids in its cgroup.procs (malloc'd), or -errno. */
int jst_attr_cgroup_pids(const char *cgroup_root, const char *path, pid_t **out, size_t *n);

/* Clock ticks per second (sysconf(_SC_CLK_TCK), 100 where unknown). */
double jst_attr_hz(void);

#endif
