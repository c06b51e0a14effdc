/*
 * jst-sim-powercap: a Linux powercap (RAPL) sysfs tree under a root directory,
 * animated in real time from a power trace, with an exact ground truth.
 */
#ifndef JST_SIMPC_H
#define JST_SIMPC_H

#include "trace.h"

#include <stddef.h>
#include <stdint.h>

enum simpc_mode {
	SIMPC_NORMAL = 0,
	SIMPC_UNREADABLE,    /* every energy_uj mode 0000, like a root-only tree to a user */
	SIMPC_GARBAGE,       /* package-0's energy_uj holds "not-a-number" from the start */
	SIMPC_GARBAGE_RANGE, /* package-0's max_energy_range_uj holds garbage */
	SIMPC_GARBAGE_LATE,  /* package-0's energy_uj turns to "not-a-number" after a while */
};

struct simpc_opts {
	const char *root;
	unsigned packages, dies;
	const char *trace_spec;
	int dram, psys, mmio;
	double modulus_j;
	double tdp_w; /* > 0: constraint_0_max_power_uw states this, below the real peak */
	const char *max_power_uw; /* non-NULL: constraint_0_max_power_uw holds this text
	                             verbatim (firmware garbage such as 2^64-1) */
	int start_near_wrap;
	enum simpc_mode mode;
	double garbage_after_s;
	double garbage_for_s;   /* > 0: package-0 recovers after this long */
	double dram_scale;      /* dram zones draw this x the trace */
	double replace_after_s; /* > 0: package-0's energy_uj is replaced (renamed over) then */
	double tick_s;
	double duration_s; /* 0: until SIGTERM/SIGINT */
	const char *ready_path, *truth_path;
	/* The other views of the same counters (cpu.c). */
	const char *procfs; /* cpuinfo and perf_event_paranoid here */
	const char *devfs;  /* MSR files: DEVFS/cpu/N/msr */
	const char *perf;   /* the power PMU under root, counts here for sim/perf */
	int no_powercap;    /* no class/powercap: only MSR and perf show the counters */
	int amd;            /* AMD's MSRs (package only) instead of Intel's */
	unsigned cpu_model; /* cpuinfo's model: an Intel server model fixes the DRAM unit */
	unsigned esu;       /* energy status unit: counters count 2^-ESU J */
	unsigned cpus_per_package;
	int perf_refuse;        /* sim/perf refuses to open events (EACCES) */
	double msr_reset_after; /* > 0: the MSR counters restart at 0 then */
};

#define SIMPC_MAX_TOPS 64

struct simpc_zone {
	char name[64]; /* the domain name joulestat gives it: package-0, core-0, dram-0, psys */
	char zone_name[32]; /* the kernel's name file: package-0, core, dram, psys */
	char kind[16];      /* package, core, uncore, dram, platform */
	char path[160];     /* zone directory under the root, through class/powercap */
	char devpath[200];  /* the same directory where it really lives, under devices/ */
	char link[64];      /* its entry in class/powercap */
	double scale;       /* zone power = scale x trace(t) */
	uint64_t base_uj, modulus_uj;
	int mmio;            /* an intel-rapl-mmio view of another zone */
	int fd;              /* energy_uj, rewritten in place every tick */
	int width;           /* digits written: the counter never changes length */
	uint64_t counted_uj; /* energy as of the last tick written, before the modulus */
	int garbage;         /* no longer animated */
	/* MSR and perf views (cpu.c). */
	uint32_t msr;   /* register address, 0 = none */
	unsigned event; /* perf event number, 0 = none */
	unsigned top;   /* package-die index whose CPUs show it */
	unsigned esu;   /* its counter's unit: 2^-esu J */
	double msr_unit_j;
	uint64_t msr_base;     /* the 32-bit counter's value at trace time 0 */
	uint64_t msr_counted;  /* units counted as of the last tick */
	uint64_t msr_reset_at; /* msr_counted when the counter was reset */
	int perf_fd[SIMPC_MAX_TOPS];
};

struct simpc {
	struct simpc_opts o;
	struct sim_trace *trace;
	struct simpc_zone *zones;
	size_t nzones;
	int64_t start_ns;
	double last_tick_s, end_s;
	int64_t max_lag_ns;       /* latest a tick was written after its due time */
	unsigned long late_ticks; /* ticks written more than a tick late */
	int realtime;             /* runs at real-time priority */
	/* Spells when the counters showed an older tick than was due: from the due
	 * time to the time the tick was shown, ns since start. Tests widen their
	 * tolerance by these, and only by these. */
	int64_t (*late)[2];
	size_t nlate, late_cap;
	int *msr_fd; /* one per CPU */
	int msr_reset_done;
};

/* tree.c */
/* Lay the zones out from the options (names, scales, bases). */
int simpc_layout(struct simpc *s);
/* Create every directory, attribute and symlink; open the counters. */
int simpc_tree_create(struct simpc *s);
/* Write every counter for trace time t (seconds). */
void simpc_tree_tick(struct simpc *s, double t);
/* Make package-0's counter garbage (garbage-late mode). */
void simpc_tree_spoil(struct simpc *s);
/* package-0 reads again from the next tick. */
void simpc_tree_unspoil(struct simpc *s);
/* package-0's energy_uj becomes a new file, written from the next tick on. */
void simpc_tree_replace(struct simpc *s);
void simpc_tree_close(struct simpc *s);

/* cpu.c */
unsigned simpc_ncpus(const struct simpc *s);
void simpc_cpu_layout(struct simpc *s);
int simpc_cpu_create(struct simpc *s);
/* Write the MSR and perf views for trace energy e (J, before zone scale). */
void simpc_cpu_tick(struct simpc *s, double t, double e);
void simpc_cpu_close(struct simpc *s);

/* report.c */
int simpc_write_ready(const struct simpc *s);
int simpc_write_truth(const struct simpc *s);

#endif
