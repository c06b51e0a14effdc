/*
 * The same RAPL counters as the powercap tree, served the two other ways the
 * kernel offers them: MSR files (<devfs>/cpu/N/msr, a register's 8 bytes at its
 * address, sparse) and the perf power PMU (<sysfs>/bus/event_source/devices/
 * power plus one count file per event and CPU for sim/perf's stand-in seam).
 * Also the CPU's identity and topology (cpuinfo, cpuN/topology) that the MSR
 * and perf backends read. One trace drives all three, so they agree exactly.
 */
#include "simpc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSR_MOD (UINT64_C(1) << 32)

static int mkdirs(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "jst-sim-powercap: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	size_t n = strlen(text);
	int rc = write(fd, text, n) == (ssize_t)n ? 0 : -EIO;
	close(fd);
	return rc;
}

static int putf(const char *dir, const char *name, const char *text)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return -ENAMETOOLONG;
	return put(path, text, 0444);
}

unsigned simpc_ncpus(const struct simpc *s)
{
	return s->o.packages * s->o.dies * s->o.cpus_per_package;
}

/* CPU c's package-die index (the top zone it belongs to). */
static unsigned cpu_top(const struct simpc *s, unsigned c)
{
	return s->o.cpus_per_package ? c / s->o.cpus_per_package : 0;
}

/* The register a zone's counter sits in, or 0 when this vendor has none. */
static uint32_t zone_msr(const struct simpc *s, const struct simpc_zone *z)
{
	if (z->mmio)
		return 0;
	if (s->o.amd)
		return !strcmp(z->kind, "package") ? 0xC001029Bu : 0;
	if (!strcmp(z->kind, "package"))
		return 0x611;
	if (!strcmp(z->kind, "core"))
		return 0x639;
	if (!strcmp(z->kind, "uncore"))
		return 0x641;
	if (!strcmp(z->kind, "dram"))
		return 0x619;
	if (!strcmp(z->kind, "platform"))
		return 0x64D;
	return 0;
}

/* perf's event number for a zone, or 0. */
static unsigned zone_event(const struct simpc_zone *z)
{
	static const struct {
		const char *kind;
		unsigned ev;
	} map[] = {{"core", 1}, {"package", 2}, {"dram", 3}, {"uncore", 4}, {"platform", 5}};
	if (z->mmio)
		return 0;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(z->kind, map[i].kind))
			return map[i].ev;
	return 0;
}

static const char *event_name(unsigned ev)
{
	static const char *names[] = {"",           "energy-cores", "energy-pkg",
	                              "energy-ram", "energy-gpu",   "energy-psys"};
	return names[ev];
}

/* Intel server parts count DRAM in 2^-16 J whatever the unit register says. */
static int server_dram(const struct simpc *s)
{
	static const unsigned models[] = {0x3F, 0x4F, 0x56, 0x55, 0x57,
	                                  0x85, 0x6A, 0x6C, 0x8F, 0xCF};
	for (size_t i = 0; !s->o.amd && i < sizeof models / sizeof models[0]; i++)
		if (s->o.cpu_model == models[i])
			return 1;
	return 0;
}

void simpc_cpu_layout(struct simpc *s)
{
	for (size_t i = 0; i < s->nzones; i++) {
		struct simpc_zone *z = &s->zones[i];
		z->msr = zone_msr(s, z);
		z->event = zone_event(z);
		unsigned esu = s->o.esu;
		if (!strcmp(z->kind, "dram") && server_dram(s))
			esu = 16;
		z->esu = esu;
		z->msr_unit_j = ldexp(1.0, -(int)esu);
		/* Like the uJ counters: a base as if up a while, or 3 J short of the wrap. */
		if (s->o.start_near_wrap) {
			uint64_t below = (uint64_t)ceil(3.0 / z->msr_unit_j);
			z->msr_base = below < MSR_MOD / 2 ? MSR_MOD - below : MSR_MOD / 2;
		} else {
			z->msr_base = MSR_MOD / 4 + (MSR_MOD / 20) * (i % 10);
		}
	}
	/* Count top zones: the n-th package zone is package-die n. */
	unsigned pk = 0;
	for (size_t i = 0; i < s->nzones; i++) {
		struct simpc_zone *z = &s->zones[i];
		if (!strcmp(z->kind, "package") && !z->mmio)
			z->top = pk++;
		else if (!strcmp(z->kind, "platform"))
			z->top = 0;
		else if (i > 0)
			z->top = s->zones[i - 1].top;
	}
}

static int write_cpuinfo(struct simpc *s)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/cpuinfo", s->o.procfs) >= (int)sizeof path)
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	for (unsigned c = 0; c < simpc_ncpus(s); c++) {
		unsigned top = cpu_top(s, c);
		fprintf(f,
		        "processor\t: %u\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n"
		        "model name\t: %s\nphysical id\t: %u\ncore id\t\t: %u\n\n",
		        c, s->o.amd ? "AuthenticAMD" : "GenuineIntel", s->o.amd ? 0x19 : 6,
		        s->o.cpu_model,
		        s->o.amd ? "AMD EPYC 7763 64-Core Processor (simulated)"
		                 : "Intel(R) Xeon(R) CPU (simulated)",
		        top / s->o.dies, c % s->o.cpus_per_package);
	}
	int bad = ferror(f);
	if (fclose(f) || bad)
		return -EIO;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/sys/kernel", s->o.procfs);
	int rc = mkdirs(dir);
	return rc ? rc : putf(dir, "perf_event_paranoid", "2\n");
}

static int write_topology(struct simpc *s)
{
	for (unsigned c = 0; c < simpc_ncpus(s); c++) {
		char dir[4096], text[32];
		unsigned top = cpu_top(s, c);
		if (snprintf(dir, sizeof dir, "%s/devices/system/cpu/cpu%u/topology", s->o.root,
		             c) >= (int)sizeof dir)
			return -ENAMETOOLONG;
		int rc = mkdirs(dir);
		if (rc)
			return rc;
		snprintf(text, sizeof text, "%u\n", top / s->o.dies);
		if ((rc = putf(dir, "physical_package_id", text)))
			return rc;
		snprintf(text, sizeof text, "%u\n", top % s->o.dies);
		if ((rc = putf(dir, "die_id", text)))
			return rc;
	}
	return 0;
}

static int write_msr_files(struct simpc *s)
{
	unsigned n = simpc_ncpus(s);
	if (!(s->msr_fd = malloc(n * sizeof *s->msr_fd)))
		return -ENOMEM;
	for (unsigned c = 0; c < n; c++)
		s->msr_fd[c] = -1;
	/* Power unit 3 (1/8 W), energy unit ESU, time unit 10: as real parts say. */
	uint64_t units = 0x3u | ((uint64_t)s->o.esu << 8) | (0xAu << 16);
	for (unsigned c = 0; c < n; c++) {
		char dir[4096], path[4200];
		snprintf(dir, sizeof dir, "%s/cpu/%u", s->o.devfs, c);
		int rc = mkdirs(dir);
		if (rc)
			return rc;
		snprintf(path, sizeof path, "%s/msr", dir);
		/* Root-only like the real device; unreadable mode: no one at all. */
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		              s->o.mode == SIMPC_UNREADABLE ? 0 : 0600);
		if (fd < 0) {
			fprintf(stderr, "jst-sim-powercap: %s: %s\n", path, strerror(errno));
			return -errno;
		}
		s->msr_fd[c] = fd;
		off_t at = s->o.amd ? (off_t)0xC0010299u : 0x606;
		if (pwrite(fd, &units, sizeof units, at) != (ssize_t)sizeof units)
			return -EIO;
	}
	return 0;
}

static int write_perf_pmu(struct simpc *s)
{
	char pmu[4096], text[256];
	snprintf(pmu, sizeof pmu, "%s/bus/event_source/devices/power/events", s->o.root);
	int rc = mkdirs(pmu);
	if (rc)
		return rc;
	unsigned seen = 0;
	for (size_t i = 0; i < s->nzones; i++) {
		const struct simpc_zone *z = &s->zones[i];
		if (!z->event || (seen & (1u << z->event)) || (s->o.amd && z->event != 2))
			continue;
		seen |= 1u << z->event;
		char name[64];
		const char *ev = event_name(z->event);
		snprintf(text, sizeof text, "event=0x%02x\n", z->event);
		if ((rc = putf(pmu, ev, text)))
			return rc;
		snprintf(name, sizeof name, "%s.scale", ev);
		if ((rc = putf(pmu, name, "2.3283064365386962890625e-10\n")))
			return rc;
		snprintf(name, sizeof name, "%s.unit", ev);
		if ((rc = putf(pmu, name, "Joules\n")))
			return rc;
	}
	char *slash = strrchr(pmu, '/');
	*slash = 0;
	if ((rc = putf(pmu, "type", "23\n")))
		return rc;
	/* The first CPU of each package-die, as the kernel's cpumask lists them. */
	size_t len = 0;
	text[0] = 0;
	for (unsigned c = 0; c < simpc_ncpus(s); c += s->o.cpus_per_package)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%u", len ? "," : "", c);
	snprintf(text + len, sizeof text - len, "\n");
	if ((rc = putf(pmu, "cpumask", text)))
		return rc;

	if ((rc = mkdirs(s->o.perf)))
		return rc;
	if ((rc = putf(s->o.perf, "type", "23\n")))
		return rc;
	if (s->o.perf_refuse && (rc = putf(s->o.perf, "refuse", "EACCES\n")))
		return rc;
	for (unsigned c = 0; c < simpc_ncpus(s); c += s->o.cpus_per_package) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/cpu%u", s->o.perf, c);
		if ((rc = mkdirs(dir)))
			return rc;
	}
	return 0;
}

int simpc_cpu_create(struct simpc *s)
{
	int rc = write_topology(s);
	if (!rc && s->o.procfs)
		rc = mkdirs(s->o.procfs) ? -errno : write_cpuinfo(s);
	if (!rc && s->o.devfs)
		rc = write_msr_files(s);
	if (!rc && s->o.perf)
		rc = write_perf_pmu(s);
	if (rc)
		fprintf(stderr, "jst-sim-powercap: cpu/msr/perf files: %s\n", strerror(-rc));
	return rc;
}

/* The perf count file of zone z on cpu c (opened once, rewritten in place). */
static int perf_fd(struct simpc *s, struct simpc_zone *z, unsigned c)
{
	unsigned slot = cpu_top(s, c);
	if (z->perf_fd[slot] > 0)
		return z->perf_fd[slot];
	char path[4096];
	snprintf(path, sizeof path, "%s/cpu%u/event-%u", s->o.perf, c, z->event);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		z->perf_fd[slot] = fd;
	return fd;
}

void simpc_cpu_tick(struct simpc *s, double t, double e)
{
	if (!s->o.devfs && !s->o.perf)
		return;
	/* A package reset (S3 resume, a firmware update) starts the MSRs again at 0. */
	int reset_now = s->o.msr_reset_after > 0 && !s->msr_reset_done && t >= s->o.msr_reset_after;
	s->msr_reset_done |= reset_now;
	for (size_t i = 0; i < s->nzones; i++) {
		struct simpc_zone *z = &s->zones[i];
		if (!z->msr && !z->event)
			continue;
		/* The hardware counts whole units; both views show the same count. */
		z->msr_counted = (uint64_t)floor(z->scale * e / z->msr_unit_j);
		if (reset_now)
			z->msr_reset_at = z->msr_counted;
		uint64_t v = s->msr_reset_done ? (z->msr_counted - z->msr_reset_at) % MSR_MOD
		                               : (z->msr_base + z->msr_counted) % MSR_MOD;
		/* psys is platform-wide: every CPU shows it; others on their package's CPUs. */
		int everywhere = !strcmp(z->kind, "platform");
		for (unsigned c = 0; s->o.devfs && z->msr && c < simpc_ncpus(s); c++) {
			if (!everywhere && cpu_top(s, c) != z->top)
				continue;
			if (pwrite(s->msr_fd[c], &v, sizeof v, (off_t)z->msr) != (ssize_t)sizeof v)
				perror("jst-sim-powercap: msr pwrite");
		}
		if (!s->o.perf || !z->event || (s->o.amd && z->event != 2))
			continue;
		/* perf counts 2^-32 J from the moment the event opened; sim/perf's
		 * stand-in serves the count since the start, which only moves the base. */
		uint64_t count = z->msr_counted << (32 - z->esu);
		for (unsigned c = 0; c < simpc_ncpus(s); c += s->o.cpus_per_package) {
			if (!everywhere && cpu_top(s, c) != z->top)
				continue;
			int fd = perf_fd(s, z, c);
			if (fd < 0 || pwrite(fd, &count, sizeof count, 0) != (ssize_t)sizeof count)
				perror("jst-sim-powercap: perf pwrite");
		}
	}
}

void simpc_cpu_close(struct simpc *s)
{
	if (s->msr_fd)
		for (unsigned c = 0; c < simpc_ncpus(s); c++)
			if (s->msr_fd[c] >= 0)
				close(s->msr_fd[c]);
	free(s->msr_fd);
	s->msr_fd = NULL;
	for (size_t i = 0; i < s->nzones; i++)
		for (size_t k = 0; k < SIMPC_MAX_TOPS; k++)
			if (s->zones[i].perf_fd[k] > 0)
				close(s->zones[i].perf_fd[k]);
}
