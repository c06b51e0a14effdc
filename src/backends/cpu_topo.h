/*
 * Which CPU this is and how its CPUs group into packages, read from procfs and
 * sysfs (never CPUID) so that a test can present any machine: the MSR and perf
 * RAPL backends share it.
 */
#ifndef JST_CPU_TOPO_H
#define JST_CPU_TOPO_H

#include <stddef.h>

enum jst_cpu_vendor { JST_CPU_OTHER = 0, JST_CPU_INTEL, JST_CPU_AMD };

struct jst_cpu_id {
	enum jst_cpu_vendor vendor; /* Hygon counts as AMD: same RAPL MSRs */
	char vendor_id[16];         /* as /proc/cpuinfo says it: "GenuineIntel" */
	unsigned family, model;
	int hypervisor; /* "hypervisor" among the flags: a VM, whose RAPL is rarely passed through
	                 */
};

/* One online CPU and where it sits. */
struct jst_cpu {
	int cpu;
	unsigned package, die;
};

struct jst_cpu_topo {
	struct jst_cpu *cpu; /* sorted by cpu number */
	size_t n;
	int multi_die; /* some die_id is not 0: packages are named per die, as powercap does */
};

/* vendor_id, cpu family and model of the first processor in <procfs>/cpuinfo.
 * Negative errno when the file cannot be read; an unknown vendor is
 * JST_CPU_OTHER, not an error. */
int jst_cpu_id_read(const char *procfs_root, struct jst_cpu_id *out);

/* Every <sysfs>/devices/system/cpu/cpuN with a topology/physical_package_id.
 * Returns 0 (possibly n == 0) or negative errno. */
int jst_cpu_topo_read(const char *sysfs_root, struct jst_cpu_topo *out);
void jst_cpu_topo_free(struct jst_cpu_topo *t);
/* The entry for cpu, or NULL. */
const struct jst_cpu *jst_cpu_topo_find(const struct jst_cpu_topo *t, int cpu);
/* The lowest-numbered CPU of each package (or package and die), in order of
 * package then die: k-th call with k = 0, 1, ... until it returns NULL. */
const struct jst_cpu *jst_cpu_topo_package(const struct jst_cpu_topo *t, size_t k);
/* "package-P", or "package-P-die-D" on a multi-die machine: the name the
 * powercap backend gives the same package, so that devices match. */
void jst_cpu_package_name(const struct jst_cpu_topo *t, const struct jst_cpu *c, char *buf,
                          size_t len);

/* The fixed DRAM energy unit of Intel server parts whose DRAM counter ignores
 * MSR_RAPL_POWER_UNIT (2^-16 J, 15.3 uJ), or 0 where the register's unit holds. */
double jst_cpu_server_dram_unit(const struct jst_cpu_id *id);

#endif
