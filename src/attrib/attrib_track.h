/*
 * Following the CPU time of a set of processes from one reading of procfs to
 * the next: a process tree (a root and whatever descends from it, also after
 * it is reparented) or a fixed list of pids (a cgroup's). A process that ends
 * is not lost: when its parent reaps it, the parent's cutime grows by all its
 * time, of which only what was not yet counted is new.
 */
#ifndef JST_ATTRIB_TRACK_H
#define JST_ATTRIB_TRACK_H

#include "attrib_proc.h"

struct jst_attr_rec {
	pid_t pid, ppid;
	uint64_t start;      /* starttime: the same pid is the same process */
	uint64_t own, child; /* utime+stime, cutime+cstime at the last reading */
	int cpu;
};

struct jst_attr_tracker {
	struct jst_attr_rec *rec;
	size_t n;
	int primed; /* the first reading was taken: processes seen later are new */
};

/* One reading. all: every process now (a scan). root > 0: the members are
 * root's tree (and the members already known); root == 0: the members are
 * those in pids[0..npids-1]. Each member's new CPU ticks go to work[cpu] (the
 * CPU it last ran on; cpus entries, ticks beyond go to cpu 0). The first
 * reading only records where each process stands. 0 or -ENOMEM. */
int jst_attr_track(struct jst_attr_tracker *t, const struct jst_attr_pid *all, size_t nall,
                   pid_t root, const pid_t *pids, size_t npids, double *work, size_t cpus);
/* Whether pid is a member at the last reading. */
int jst_attr_tracked(const struct jst_attr_tracker *t, pid_t pid);
void jst_attr_tracker_free(struct jst_attr_tracker *t);

#endif
