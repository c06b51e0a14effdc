/*
 * The estimate backend's parts: procfs parsing (estimate_proc.c), the TDP
 * table (tdp_table.c), the model and the ops (estimate.c). The model and its
 * limits are described in docs/backends/estimate.md.
 */
#ifndef JST_ESTIMATE_H
#define JST_ESTIMATE_H

#include "backend.h"

#include <stddef.h>
#include <stdint.h>

/* Watts per physical core when the CPU model is not in the TDP table. */
#define JST_ESTIMATE_FALLBACK_W_PER_CORE 10
/* Environment variable with the TDP of one CPU package, in watts. */
#define JST_ESTIMATE_TDP_ENV "JOULESTAT_CPU_TDP_W"

/* CPU time from the aggregate "cpu " line of /proc/stat, in clock ticks
 * (USER_HZ), summed over all CPUs. */
struct jst_cpu_ticks {
	uint64_t busy;  /* user + nice + system + irq + softirq + steal (guest is in user) */
	uint64_t total; /* busy + idle + iowait */
};

/* Parse one aggregate line ("cpu  4705 356 584 3699 23 0 23 0 0 0"), up to
 * its newline or NUL. At least user, nice, system and idle must be there;
 * older kernels' missing fields count as 0, newer kernels' extra fields are
 * ignored. Returns 0, or -EINVAL / -ERANGE with a short reason in why. */
int jst_proc_stat_ticks_parse(const char *line, struct jst_cpu_ticks *out, char *why,
                              size_t why_len);

/* Parse a whole /proc/stat: the aggregate line, which must come first, and the
 * number of "cpuN" lines (online CPUs), which must be at least one. */
int jst_proc_stat_parse(const char *text, struct jst_cpu_ticks *ticks, unsigned *ncpu, char *why,
                        size_t why_len);

/* Read only the first line of the stat file at path and parse it: the
 * sampler's path, so it reads a small buffer and never the whole file.
 * Returns 0 or negative with a reason in why (the path's tail included). */
int jst_proc_stat_read(const char *path, struct jst_cpu_ticks *out, char *why, size_t why_len);

/* What /proc/cpuinfo says about the machine. */
struct jst_cpuinfo {
	char model[128];  /* first "model name", "" when there is none */
	unsigned sockets; /* distinct "physical id" values; 1 when none is stated */
	unsigned cores;   /* distinct ("physical id", "core id") pairs; 0 when unknown */
	int hypervisor;   /* "hypervisor" among the flags: a virtual machine */
};

/* Parse cpuinfo text. Never fails: what is missing takes its default. */
void jst_proc_cpuinfo_parse(const char *text, struct jst_cpuinfo *out);

/* Read a whole procfs file (whose stat size is 0) into a malloc'd, NUL-
 * terminated buffer. Returns its length or negative errno. */
int jst_proc_file_read(const char *path, char **out);

/* The model: CPU energy = TDP_total x utilisation. */
struct jst_estimate_model {
	double tdp_total_w;      /* all packages at 100% utilisation */
	char note[JST_NOTE_MAX]; /* the TDP used and where it came from */
};

/* Parse a JOULESTAT_CPU_TDP_W value: a finite number of watts in (0, 100000]. */
int jst_estimate_tdp_parse(const char *text, double *watts);

/* Choose the TDP: the override (TDP of one package, times the sockets) when
 * given, else the table for the model on bare metal, else the per-core
 * fallback. override is the environment value or NULL. Returns 0, or -EINVAL
 * with a reason when the override is malformed. */
int jst_estimate_model_choose(const struct jst_cpuinfo *ci, unsigned ncpu, const char *override,
                              struct jst_estimate_model *out, char *reason, size_t reason_len);

#endif
