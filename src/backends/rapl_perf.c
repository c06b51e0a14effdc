/*
 * RAPL through perf_event: the kernel's `power` PMU
 * (<sysfs>/bus/event_source/devices/power) counts each RAPL domain as an event
 * whose count, times the event's .scale, is joules. The kernel extends the
 * 32-bit MSRs itself, so every count is a 64-bit counter that never wraps.
 * One system-wide event per package (the PMU's cpumask names a CPU of each)
 * and domain. Opening goes through a seam (perf_ops.h) so tests can serve a
 * simulator's counters. docs/backends/rapl-perf.md
 */
#include "backend.h"
#include "cpu_topo.h"
#include "perf_ops.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERF_PMU "bus/event_source/devices/power"
#define PERF_REFRESH_S 0.001
#define PERF_MAX_CPUS 4096

struct perf_event_kind {
	const char *event; /* the file under events/ */
	const char *sub;   /* as powercap names the part: "core" -> core-0 */
	double default_w;  /* power bound: generous, as in rapl_zones.c */
	jst_kind kind;
	int in_package;
};

static const struct perf_event_kind perf_events[] = {
    {"energy-pkg", NULL, 400, JST_KIND_PACKAGE, 0},
    {"energy-cores", "core", 400, JST_KIND_CORE, 1},
    {"energy-gpu", "uncore", 400, JST_KIND_UNCORE, 1},
    {"energy-ram", "dram", 100, JST_KIND_DRAM, 0},
    {"energy-psys", NULL, 1000, JST_KIND_PLATFORM, 0},
};
#define PERF_NEVENTS (sizeof perf_events / sizeof perf_events[0])

/* An event the PMU offers: its config and the joules one count is worth. */
struct perf_event_def {
	int present;
	uint64_t config;
	double scale;
};

struct perf_state {
	const struct jst_perf_ops *ops;
	void *lib; /* the stand-in library, when one is used */
	struct jst_domain_desc *desc;
	int *fd;
	size_t n, cap;
};

static void perf_close(void *state)
{
	struct perf_state *st = state;
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		if (st->fd[i] >= 0)
			st->ops->close(st->fd[i]);
	free(st->desc);
	free(st->fd);
	if (st->lib)
		dlclose(st->lib);
	free(st);
}

static int perf_read_file(const char *pmu, const char *rel, char *buf, size_t len)
{
	char path[4096];
	if (!jst_path_join(path, sizeof path, pmu, rel))
		return -ENAMETOOLONG;
	return jst_file_read_text(path, buf, len);
}

/* events/<name> says "event=0x02" (maybe followed by ",umask=..."; the power
 * PMU has none). */
static int perf_event_def(const char *pmu, const char *event, struct perf_event_def *out,
                          char *reason, size_t len)
{
	char rel[96], text[128];
	*out = (struct perf_event_def){0};
	snprintf(rel, sizeof rel, "events/%s", event);
	int r = perf_read_file(pmu, rel, text, sizeof text);
	if (r == -ENOENT)
		return 0; /* this CPU does not have the domain */
	if (r < 0) {
		snprintf(reason, len, "cannot read %s/%s: %s", pmu, rel, strerror(-r));
		return r;
	}
	char *end;
	if (strncmp(text, "event=", 6) != 0 ||
	    (errno = 0, out->config = strtoull(text + 6, &end, 0), errno) || end == text + 6 ||
	    (*end && *end != ',')) {
		snprintf(reason, len, "%s/%s holds '%.40s', not event=N", pmu, rel, text);
		return -EIO;
	}
	snprintf(rel, sizeof rel, "events/%s.scale", event);
	if ((r = perf_read_file(pmu, rel, text, sizeof text)) < 0) {
		snprintf(reason, len, "cannot read %s/%s: %s", pmu, rel, strerror(-r));
		return r;
	}
	out->scale = strtod(text, &end);
	if (end == text || *end || !(out->scale > 0) || isinf(out->scale)) {
		snprintf(reason, len, "%s/%s holds '%.40s', not a scale", pmu, rel, text);
		return -EIO;
	}
	snprintf(rel, sizeof rel, "events/%s.unit", event);
	r = perf_read_file(pmu, rel, text, sizeof text);
	if (r >= 0 && strcmp(text, "Joules") != 0) {
		snprintf(reason, len, "%s/%s says '%.40s': only Joules are understood", pmu, rel,
		         text);
		return -EIO;
	}
	out->present = 1;
	return 0;
}

/* A cpulist ("0,18" or "0-1,4") into cpus[0..*n-1]. */
static int perf_parse_cpulist(const char *s, int *cpus, size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a)
				return -EINVAL;
			s = end;
		}
		for (long c = a; c <= b; c++) {
			if (*n == max)
				return -E2BIG;
			cpus[(*n)++] = (int)c;
		}
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	return 0;
}

static int perf_refused(const struct jst_backend_ctx *ctx, const char *event, int cpu, int err,
                        char *reason, size_t len)
{
	char path[4096], level[32] = "unknown";
	const char *procfs = jst_backend_option(ctx, "procfs.root", "/proc");
	if (jst_path_join(path, sizeof path, procfs, "sys/kernel/perf_event_paranoid") &&
	    jst_file_read_text(path, level, sizeof level) < 0)
		snprintf(level, sizeof level, "unknown");
	snprintf(reason, len,
	         "perf_event_open(power/%s/, cpu %d): %s. System-wide power events need "
	         "CAP_PERFMON (or CAP_SYS_ADMIN), or /proc/sys/kernel/perf_event_paranoid at 0 or "
	         "below (it is %s here): sudo sysctl kernel.perf_event_paranoid=0, or sudo setcap "
	         "cap_perfmon=ep on the program",
	         event, cpu, strerror(-err), level);
	return err;
}

static int perf_push(struct perf_state *st, int fd, struct jst_domain_desc **out)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		struct jst_domain_desc *d = realloc(st->desc, cap * sizeof *d);
		if (!d)
			return -ENOMEM;
		st->desc = d;
		int *f = realloc(st->fd, cap * sizeof *f);
		if (!f)
			return -ENOMEM;
		st->fd = f;
		st->cap = cap;
	}
	st->fd[st->n] = fd;
	*out = &st->desc[st->n++];
	memset(*out, 0, sizeof **out);
	return 0;
}

/* One count of the hardware counter in joules: perf scales every domain to
 * 2^-32 J, which hides it; these are the units the MSRs state on current parts. */
static double perf_resolution(const struct jst_cpu_id *id, jst_kind kind)
{
	double dram = jst_cpu_server_dram_unit(id);
	if (kind == JST_KIND_DRAM && dram > 0)
		return dram;
	if (id->vendor == JST_CPU_INTEL)
		return ldexp(1.0, -14);
	if (id->vendor == JST_CPU_AMD)
		return ldexp(1.0, -16);
	return 0;
}

static int perf_load_ops(const struct jst_backend_ctx *ctx, struct perf_state *st, char *reason,
                         size_t len)
{
	st->ops = &jst_perf_ops_kernel;
	const char *lib = jst_backend_option(ctx, "rapl-perf.library", "");
	if (!lib[0])
		return 0;
	st->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!st->lib) {
		snprintf(reason, len, "cannot load the perf stand-in %s: %s", lib, dlerror());
		return -ENOENT;
	}
	const struct jst_perf_ops *ops = dlsym(st->lib, JST_PERF_OPS_SYMBOL);
	if (!ops || !ops->open || !ops->read || !ops->close) {
		snprintf(reason, len, "%s exports no complete %s table", lib, JST_PERF_OPS_SYMBOL);
		return -ENOENT;
	}
	st->ops = ops;
	return 0;
}

/* Open every event of one package on its CPU. */
static int perf_add_package(const struct jst_backend_ctx *ctx, struct perf_state *st,
                            const struct perf_event_def *defs, uint32_t type, int cpu,
                            const char *pkg, const struct jst_cpu_id *id, int want_psys,
                            char *reason, size_t len)
{
	const char *suffix = pkg + strlen("package-");
	int pkg_index = -1;
	for (size_t e = 0; e < PERF_NEVENTS; e++) {
		const struct perf_event_kind *k = &perf_events[e];
		if (!defs[e].present || (k->kind == JST_KIND_PLATFORM && !want_psys))
			continue;
		if (k->in_package && pkg_index < 0)
			continue;
		int fd = st->ops->open(type, defs[e].config, cpu);
		if (fd == -EACCES || fd == -EPERM)
			return perf_refused(ctx, k->event, cpu, fd, reason, len);
		if (fd == -ENOENT || fd == -EINVAL || fd == -EOPNOTSUPP || fd == -ENODEV)
			continue; /* listed but not countable on this part */
		if (fd < 0) {
			snprintf(reason, len, "perf_event_open(power/%s/, cpu %d): %s", k->event,
			         cpu, strerror(-fd));
			return fd;
		}
		struct jst_domain_desc *d;
		if (perf_push(st, fd, &d) < 0) {
			st->ops->close(fd);
			return -ENOMEM;
		}
		if (k->kind == JST_KIND_PLATFORM) {
			snprintf(d->name, sizeof d->name, "psys");
			snprintf(d->device, sizeof d->device, "platform:psys");
			snprintf(d->note, sizeof d->note,
			         "whole platform (psys): reported as system, not in total");
		} else if (k->sub) {
			snprintf(d->name, sizeof d->name, "%s-%s", k->sub, suffix);
			snprintf(d->device, sizeof d->device, "cpu:%s/%s", pkg, k->sub);
		} else {
			snprintf(d->name, sizeof d->name, "%s", pkg);
			snprintf(d->device, sizeof d->device, "cpu:%s", pkg);
		}
		d->kind = k->kind;
		d->method = JST_METHOD_COUNTER;
		snprintf(d->source, sizeof d->source, "perf");
		d->accuracy = 0.05;
		d->parent = k->in_package ? pkg_index : -1;
		d->unit_j = defs[e].scale;
		d->modulus = 0; /* the kernel extends the MSR to 64 bits */
		d->max_power_w = k->default_w;
		d->refresh_s = PERF_REFRESH_S;
		d->resolution_j = perf_resolution(id, k->kind);
		if (k->kind == JST_KIND_PACKAGE)
			pkg_index = (int)(st->n - 1);
	}
	return 0;
}

static int perf_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *sysfs = jst_backend_option(ctx, "sysfs.root", "/sys");
	const char *procfs = jst_backend_option(ctx, "procfs.root", "/proc");
	char pmu[4096], text[4096];
	uint64_t type;
	if (!jst_path_join(pmu, sizeof pmu, sysfs, PERF_PMU))
		return -ENAMETOOLONG;
	int r = perf_read_file(pmu, "type", text, sizeof text);
	if (r < 0) {
		if (r == -ENOENT)
			snprintf(
			    reason, len,
			    "no power PMU (%s/type): the kernel lacks perf RAPL support "
			    "(CONFIG_PERF_EVENTS_INTEL_RAPL), the CPU has no RAPL, or this is a "
			    "VM that hides it",
			    pmu);
		else
			snprintf(reason, len, "cannot read %s/type: %s", pmu, strerror(-r));
		return r;
	}
	if (jst_parse_u64(text, &type) < 0 || type > UINT32_MAX) {
		snprintf(reason, len, "%s/type holds '%.40s', not a PMU type", pmu, text);
		return -EIO;
	}
	struct perf_event_def defs[PERF_NEVENTS];
	int any = 0;
	for (size_t e = 0; e < PERF_NEVENTS; e++) {
		if ((r = perf_event_def(pmu, perf_events[e].event, &defs[e], reason, len)) < 0)
			return r;
		any |= defs[e].present;
	}
	if (!any) {
		snprintf(reason, len, "the power PMU at %s lists no energy-* event", pmu);
		return -ENODEV;
	}
	int cpus[256];
	size_t ncpus;
	if ((r = perf_read_file(pmu, "cpumask", text, sizeof text)) < 0 ||
	    perf_parse_cpulist(text, cpus, sizeof cpus / sizeof *cpus, &ncpus) < 0 || !ncpus) {
		snprintf(reason, len, "cannot read a CPU list from %s/cpumask%s%s", pmu,
		         r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return r < 0 ? r : -EIO;
	}
	struct jst_cpu_id id;
	if (jst_cpu_id_read(procfs, &id) < 0)
		id = (struct jst_cpu_id){0}; /* only the stated resolution needs it */
	struct jst_cpu_topo topo;
	if ((r = jst_cpu_topo_read(sysfs, &topo)) < 0) {
		snprintf(reason, len, "cannot read the CPU topology under %s: %s", sysfs,
		         strerror(-r));
		return r;
	}
	struct perf_state *st = calloc(1, sizeof *st);
	if (!st) {
		jst_cpu_topo_free(&topo);
		return -ENOMEM;
	}
	r = perf_load_ops(ctx, st, reason, len);
	for (size_t i = 0; r == 0 && i < ncpus; i++) {
		char pkg[JST_NAME_MAX];
		const struct jst_cpu *c = jst_cpu_topo_find(&topo, cpus[i]);
		if (c)
			jst_cpu_package_name(&topo, c, pkg, sizeof pkg);
		else /* no topology: the cpumask's order is the packages' */
			snprintf(pkg, sizeof pkg, "package-%zu", i);
		r = perf_add_package(ctx, st, defs, (uint32_t)type, cpus[i], pkg, &id, i == 0,
		                     reason, len);
	}
	jst_cpu_topo_free(&topo);
	if (r < 0) {
		perf_close(st);
		return r;
	}
	*state = st;
	return 0;
}

static size_t perf_domains(void *state, const struct jst_domain_desc **out)
{
	struct perf_state *st = state;
	*out = st->desc;
	return st->n;
}

static int perf_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct perf_state *st = state;
	(void)flags;
	if (n > st->n)
		n = st->n;
	for (size_t i = 0; i < n; i++) {
		int r = st->ops->read(st->fd[i], &out[i].counter);
		if (r < 0) {
			out[i].status = r;
			snprintf(out[i].error, sizeof out[i].error, "perf read of %s: %s",
			         st->desc[i].name, strerror(-r));
		}
	}
	return 0;
}

static const struct jst_option_desc perf_options[] = {
    {"rapl-perf.library", "JOULESTAT_PERF_LIBRARY", "",
     "a stand-in for perf_event_open (sim/perf), or empty for the system call"},
    {0},
};

const struct jst_backend_ops jst_backend_rapl_perf = {
    .options = perf_options,
    .name = "rapl-perf",
    .description = "CPU package, core, uncore, DRAM and psys energy counters through "
                   "perf_event's power PMU",
    .accuracy = 0.05,
    .probe = perf_probe,
    .domains = perf_domains,
    .read = perf_read,
    .close = perf_close,
};
