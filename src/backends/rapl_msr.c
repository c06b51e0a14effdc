/*
 * RAPL read straight from the model-specific registers through the msr driver
 * (<devfs>/cpu/N/msr, one file per CPU, a register's 8 bytes at its address as
 * offset). For machines where powercap is absent; root or CAP_SYS_RAWIO only.
 * The counters are 32 bits in the unit MSR_RAPL_POWER_UNIT states: declared
 * as such (modulus 2^32), the core extends their wraps. docs/backends/rapl-msr.md
 */
#include "backend.h"
#include "cpu_topo.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSR_RAPL_POWER_UNIT 0x606u
#define MSR_PKG_ENERGY_STATUS 0x611u
#define MSR_DRAM_ENERGY_STATUS 0x619u
#define MSR_PP0_ENERGY_STATUS 0x639u
#define MSR_PP1_ENERGY_STATUS 0x641u
#define MSR_PLATFORM_ENERGY_STATUS 0x64Du
#define MSR_AMD_RAPL_POWER_UNIT 0xC0010299u
#define MSR_AMD_PKG_ENERGY_STATUS 0xC001029Bu

#define MSR_REFRESH_S 0.001
#define MSR_MODULUS (UINT64_C(1) << 32)

/* What one register measures and how joulestat names it (as powercap does). */
struct msr_reg {
	uint32_t addr;
	jst_kind kind;
	const char *sub;  /* "core" -> core-0, cpu:package-0/core; NULL: the package */
	int in_package;   /* a part of the package's energy (parent = the package) */
	double default_w; /* power bound: generous, as in rapl_zones.c */
};

static const struct msr_reg intel_regs[] = {
    {MSR_PKG_ENERGY_STATUS, JST_KIND_PACKAGE, NULL, 0, 400},
    {MSR_PP0_ENERGY_STATUS, JST_KIND_CORE, "core", 1, 400},
    {MSR_PP1_ENERGY_STATUS, JST_KIND_UNCORE, "uncore", 1, 400},
    {MSR_DRAM_ENERGY_STATUS, JST_KIND_DRAM, "dram", 0, 100},
};
/* AMD's core counter (0xC001029A) is per core, not per package: not declared. */
static const struct msr_reg amd_regs[] = {
    {MSR_AMD_PKG_ENERGY_STATUS, JST_KIND_PACKAGE, NULL, 0, 400},
};

struct msr_dom {
	int fd; /* borrowed from msr_state.fds */
	uint32_t addr;
};

struct msr_state {
	struct jst_domain_desc *desc;
	struct msr_dom *dom;
	size_t n, cap;
	int *fds; /* one per package, owned */
	size_t nfds;
};

static void msr_close(void *state)
{
	struct msr_state *st = state;
	if (!st)
		return;
	for (size_t i = 0; i < st->nfds; i++)
		if (st->fds[i] >= 0)
			close(st->fds[i]);
	free(st->fds);
	free(st->desc);
	free(st->dom);
	free(st);
}

static int msr_read_reg(int fd, uint32_t addr, uint64_t *v)
{
	ssize_t r = pread(fd, v, sizeof *v, (off_t)addr);
	if (r < 0)
		return -errno;
	return r == (ssize_t)sizeof *v ? 0 : -EIO;
}

static struct jst_domain_desc *msr_push(struct msr_state *st, int fd, uint32_t addr)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		struct jst_domain_desc *d = realloc(st->desc, cap * sizeof *d);
		if (!d)
			return NULL;
		st->desc = d;
		struct msr_dom *m = realloc(st->dom, cap * sizeof *m);
		if (!m)
			return NULL;
		st->dom = m;
		st->cap = cap;
	}
	st->dom[st->n] = (struct msr_dom){fd, addr};
	struct jst_domain_desc *d = &st->desc[st->n++];
	memset(d, 0, sizeof *d);
	return d;
}

static void msr_fill(struct jst_domain_desc *d, jst_kind kind, const char *name, const char *dev,
                     int parent, double unit, double max_w, const char *note)
{
	snprintf(d->name, sizeof d->name, "%s", name);
	d->kind = kind;
	snprintf(d->device, sizeof d->device, "%s", dev);
	d->method = JST_METHOD_COUNTER;
	snprintf(d->source, sizeof d->source, "msr");
	d->accuracy = 0.05;
	d->parent = parent;
	d->unit_j = unit;
	d->modulus = MSR_MODULUS;
	d->max_power_w = max_w;
	d->refresh_s = MSR_REFRESH_S;
	d->resolution_j = unit;
	snprintf(d->note, sizeof d->note, "%s", note);
}

static int msr_open_reason(const char *path, int err, int vm, char *reason, size_t len)
{
	if (err == -ENOENT || err == -ENXIO || err == -ENODEV)
		snprintf(
		    reason, len,
		    "%s: %s. Load the msr driver (sudo modprobe msr) and run as root%s",
		    jst_path_tail(path, 100), strerror(-err),
		    vm ? " (this is a virtual machine: its hypervisor rarely passes RAPL through)"
		       : "");
	else if (err == -EACCES || err == -EPERM)
		snprintf(
		    reason, len,
		    "cannot open %s: %s. The msr driver needs CAP_SYS_RAWIO and read access to "
		    "the file: run as root, or setcap cap_sys_rawio=ep on the program and give "
		    "its group read access to /dev/cpu/*/msr. Without them use the rapl "
		    "(powercap) or rapl-perf backend",
		    jst_path_tail(path, 100), strerror(-err));
	else
		snprintf(reason, len, "cannot open %s: %s", jst_path_tail(path, 100),
		         strerror(-err));
	return err;
}

/* Declare one package's registers. */
static int msr_add_package(struct msr_state *st, const struct jst_cpu_id *id,
                           const struct jst_cpu_topo *topo, const struct jst_cpu *c,
                           const char *devfs, int want_psys, char *reason, size_t len)
{
	char path[4096], rel[64], pkg[JST_NAME_MAX];
	snprintf(rel, sizeof rel, "cpu/%d/msr", c->cpu);
	if (!jst_path_join(path, sizeof path, devfs, rel)) {
		snprintf(reason, len, "devfs root too long: %s", devfs);
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return msr_open_reason(path, -errno, id->hypervisor, reason, len);
	st->fds[st->nfds++] = fd;

	int amd = id->vendor == JST_CPU_AMD;
	uint64_t units;
	int r = msr_read_reg(fd, amd ? MSR_AMD_RAPL_POWER_UNIT : MSR_RAPL_POWER_UNIT, &units);
	if (r < 0) {
		snprintf(reason, len, "cannot read the RAPL unit register from %s: %s",
		         jst_path_tail(path, 100), strerror(-r));
		return r;
	}
	/* Energy status unit: bits 12:8, the counter counts 1/2^ESU J. */
	double unit = ldexp(1.0, -(int)((units >> 8) & 0x1f));
	double dram_unit = jst_cpu_server_dram_unit(id);

	jst_cpu_package_name(topo, c, pkg, sizeof pkg);
	const char *suffix = pkg + strlen("package-");
	const struct msr_reg *regs = amd ? amd_regs : intel_regs;
	size_t nregs =
	    amd ? sizeof amd_regs / sizeof *amd_regs : sizeof intel_regs / sizeof *intel_regs;
	int pkg_index = -1;
	for (size_t i = 0; i < nregs; i++) {
		const struct msr_reg *g = &regs[i];
		uint64_t v;
		/* A register the part lacks faults (EIO) or, like the kernel's check,
		 * reads 0; PP1 may be idle (0) and still exist. */
		if (msr_read_reg(fd, g->addr, &v) < 0 ||
		    ((v & 0xffffffffu) == 0 && g->addr != MSR_PP1_ENERGY_STATUS))
			continue;
		if (g->kind != JST_KIND_PACKAGE && pkg_index < 0)
			continue; /* parts of a package whose own counter is absent */
		char name[JST_NAME_MAX], dev[JST_DEVICE_MAX];
		double u = unit;
		const char *note = "";
		if (g->sub) {
			snprintf(name, sizeof name, "%s-%s", g->sub, suffix);
			snprintf(dev, sizeof dev, "cpu:%s/%s", pkg, g->sub);
		} else {
			snprintf(name, sizeof name, "%s", pkg);
			snprintf(dev, sizeof dev, "cpu:%s", pkg);
		}
		if (g->kind == JST_KIND_DRAM && dram_unit > 0) {
			u = dram_unit;
			note = "server DRAM: fixed 15.3 uJ unit, not MSR_RAPL_POWER_UNIT's";
		}
		struct jst_domain_desc *d = msr_push(st, fd, g->addr);
		if (!d)
			return -ENOMEM;
		msr_fill(d, g->kind, name, dev, g->in_package ? pkg_index : -1, u, g->default_w,
		         note);
		if (g->kind == JST_KIND_PACKAGE)
			pkg_index = (int)(st->n - 1);
	}
	uint64_t v;
	if (want_psys && !amd && msr_read_reg(fd, MSR_PLATFORM_ENERGY_STATUS, &v) == 0 &&
	    (v & 0xffffffffu) != 0) {
		struct jst_domain_desc *d = msr_push(st, fd, MSR_PLATFORM_ENERGY_STATUS);
		if (!d)
			return -ENOMEM;
		msr_fill(d, JST_KIND_PLATFORM, "psys", "platform:psys", -1, unit, 1000,
		         "whole platform (psys): reported as system, not in total");
	}
	return 0;
}

static int msr_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *sysfs = jst_backend_option(ctx, "sysfs.root", "/sys");
	const char *procfs = jst_backend_option(ctx, "procfs.root", "/proc");
	const char *devfs = jst_backend_option(ctx, "devfs.root", "/dev");
	struct jst_cpu_id id;
	int r = jst_cpu_id_read(procfs, &id);
	if (r < 0) {
		snprintf(reason, len, "cannot read %s/cpuinfo: %s", procfs, strerror(-r));
		return r;
	}
	if (id.vendor == JST_CPU_OTHER) {
		snprintf(reason, len, "not an Intel or AMD CPU (vendor_id '%s'): no RAPL MSRs",
		         id.vendor_id);
		return -ENODEV;
	}
	if (id.vendor == JST_CPU_AMD && id.family < 0x17) {
		snprintf(reason, len,
		         "AMD family %#x has no RAPL MSRs (Zen, family 17h, and later)", id.family);
		return -ENODEV;
	}
	struct jst_cpu_topo topo;
	if ((r = jst_cpu_topo_read(sysfs, &topo)) < 0 || topo.n == 0) {
		snprintf(reason, len, "no CPU topology under %s/devices/system/cpu%s%s", sysfs,
		         r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		if (r >= 0)
			jst_cpu_topo_free(&topo);
		return r < 0 ? r : -ENODEV;
	}
	struct msr_state *st = calloc(1, sizeof *st);
	if (!st || !(st->fds = malloc(topo.n * sizeof *st->fds))) {
		free(st);
		jst_cpu_topo_free(&topo);
		return -ENOMEM;
	}
	r = 0;
	const struct jst_cpu *c;
	for (size_t k = 0; r == 0 && (c = jst_cpu_topo_package(&topo, k)); k++)
		r = msr_add_package(st, &id, &topo, c, devfs, k == 0, reason, len);
	jst_cpu_topo_free(&topo);
	if (r < 0) {
		msr_close(st);
		return r;
	}
	*state = st;
	return 0;
}

static size_t msr_domains(void *state, const struct jst_domain_desc **out)
{
	struct msr_state *st = state;
	*out = st->desc;
	return st->n;
}

/* One pread per domain: the msr driver runs rdmsr on the CPU the file names. */
static int msr_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct msr_state *st = state;
	(void)flags;
	if (n > st->n)
		n = st->n;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		int r = msr_read_reg(st->dom[i].fd, st->dom[i].addr, &v);
		if (r < 0) {
			out[i].status = r;
			snprintf(out[i].error, sizeof out[i].error, "rdmsr %#x: %s",
			         (unsigned)st->dom[i].addr, strerror(-r));
			continue;
		}
		out[i].counter = v & 0xffffffffu; /* bits 63:32 are reserved */
	}
	return 0;
}

static const struct jst_option_desc msr_options[] = {
    {"devfs.root", "JOULESTAT_DEVFS_ROOT", "/dev",
     "the directory devfs is mounted on (its cpu/N/msr)"},
    {0},
};

const struct jst_backend_ops jst_backend_rapl_msr = {
    .options = msr_options,
    .name = "rapl-msr",
    .description = "CPU package, core, uncore, DRAM and psys energy counters read from the "
                   "RAPL MSRs (/dev/cpu/N/msr)",
    .accuracy = 0.05,
    .probe = msr_probe,
    .domains = msr_domains,
    .read = msr_read,
    .close = msr_close,
};
