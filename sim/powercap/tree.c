/* The powercap tree on disk: layout, files, and the counters' in-place writes. */
#include "simpc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEVROOT "devices/virtual/powercap"

/* snprintf that reports truncation: every path here is built from a root the
 * user chose, so any may be too long. */
static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct simpc_zone *zone_add(struct simpc *s, size_t *cap)
{
	if (s->nzones == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		struct simpc_zone *z = realloc(s->zones, ncap * sizeof *z);
		if (!z)
			return NULL;
		s->zones = z;
		*cap = ncap;
	}
	struct simpc_zone *z = &s->zones[s->nzones++];
	memset(z, 0, sizeof *z);
	z->fd = -1;
	return z;
}

/* Counters start at a nonzero base, as on a machine that has been up a while;
 * or a few joules short of the wrap, so that a short run sees it. */
static uint64_t zone_base(const struct simpc *s, size_t i)
{
	uint64_t m = (uint64_t)llround(s->o.modulus_j * 1e6);
	if (s->o.start_near_wrap) {
		uint64_t below = 3000000; /* 3 J */
		return m > 2 * below ? m - below : m / 2;
	}
	return m / 4 + (m / 20) * (i % 10);
}

static int zone_top(struct simpc *s, size_t *cap, const char *type, unsigned idx, const char *name,
                    const char *kind, double scale)
{
	struct simpc_zone *z = zone_add(s, cap);
	if (!z)
		return -ENOMEM;
	z->scale = scale;
	if (fmt(z->link, sizeof z->link, "%s:%u", type, idx) ||
	    fmt(z->zone_name, sizeof z->zone_name, "%s", name) ||
	    fmt(z->name, sizeof z->name, "%s", name) || fmt(z->kind, sizeof z->kind, "%s", kind) ||
	    fmt(z->path, sizeof z->path, "class/powercap/%s", z->link) ||
	    fmt(z->devpath, sizeof z->devpath, DEVROOT "/%s/%s", type, z->link))
		return -ENAMETOOLONG;
	return 0;
}

/* A subzone of the top zone at index top ("core", "uncore", "dram"). */
static int zone_sub(struct simpc *s, size_t *cap, size_t top, unsigned sub, const char *name,
                    double scale)
{
	struct simpc_zone *z = zone_add(s, cap);
	if (!z)
		return -ENOMEM;
	const struct simpc_zone *t = &s->zones[top];
	z->scale = scale;
	/* joulestat names it after its package: core-0, dram-1-die-0. */
	if (fmt(z->link, sizeof z->link, "%s:%u", t->link, sub) ||
	    fmt(z->zone_name, sizeof z->zone_name, "%s", name) ||
	    fmt(z->name, sizeof z->name, "%s-%s", name, t->name + strlen("package-")) ||
	    fmt(z->kind, sizeof z->kind, "%s", name) ||
	    fmt(z->path, sizeof z->path, "%s/%s", t->path, z->link) ||
	    fmt(z->devpath, sizeof z->devpath, "%s/%s", t->devpath, z->link))
		return -ENAMETOOLONG;
	return 0;
}

int simpc_layout(struct simpc *s)
{
	size_t cap = 0;
	unsigned top = 0;
	double platform = 0;
	for (unsigned p = 0; p < s->o.packages; p++) {
		for (unsigned d = 0; d < s->o.dies; d++, top++) {
			char name[48];
			if (s->o.dies > 1)
				snprintf(name, sizeof name, "package-%u-die-%u", p, d);
			else
				snprintf(name, sizeof name, "package-%u", p);
			double scale = 1.0 - 0.1 * top;
			if (scale < 0.1)
				scale = 0.1;
			size_t at = s->nzones;
			if (zone_top(s, &cap, "intel-rapl", top, name, "package", scale) ||
			    zone_sub(s, &cap, at, 0, "core", 0.6 * scale) ||
			    zone_sub(s, &cap, at, 1, "uncore", 0.1 * scale) ||
			    (s->o.dram && zone_sub(s, &cap, at, 2, "dram", s->o.dram_scale)))
				return -ENAMETOOLONG;
			platform += scale + (s->o.dram ? s->o.dram_scale : 0);
		}
	}
	if (s->o.psys && zone_top(s, &cap, "intel-rapl", top, "psys", "platform", 1.3 * platform))
		return -ENAMETOOLONG;
	if (s->o.mmio) {
		/* The same package counter once more, through MMIO. */
		if (zone_top(s, &cap, "intel-rapl-mmio", 0, s->zones[0].name, "package",
		             s->zones[0].scale))
			return -ENOMEM;
		s->zones[s->nzones - 1].mmio = 1;
	}
	uint64_t m = (uint64_t)llround(s->o.modulus_j * 1e6);
	for (size_t i = 0; i < s->nzones; i++) {
		struct simpc_zone *z = &s->zones[i];
		z->modulus_uj = m;
		z->base_uj = z->mmio ? s->zones[0].base_uj : zone_base(s, i);
		char digits[32];
		z->width = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(m - 1));
	}
	simpc_cpu_layout(s);
	return 0;
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int r = mkdir(path, 0755);
		*p = '/';
		if (r && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_attr(const char *dir, const char *attr, const char *text)
{
	char path[4096];
	if (fmt(path, sizeof path, "%s/%s", dir, attr))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0) {
		fprintf(stderr, "jst-sim-powercap: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	size_t n = strlen(text);
	int rc = write(fd, text, n) == (ssize_t)n ? 0 : -EIO;
	close(fd);
	return rc;
}

static int link_zone(const struct simpc *s, const struct simpc_zone *z)
{
	/* class/powercap/X -> ../../devices/..., relative so the tree can move. */
	char lnk[4096], target[512];
	if (fmt(lnk, sizeof lnk, "%s/class/powercap/%s", s->o.root, z->link) ||
	    fmt(target, sizeof target, "../../%s", z->devpath))
		return -ENAMETOOLONG;
	unlink(lnk);
	if (symlink(target, lnk)) {
		fprintf(stderr, "jst-sim-powercap: symlink %s: %s\n", lnk, strerror(errno));
		return -errno;
	}
	return 0;
}

static int zone_create(struct simpc *s, struct simpc_zone *z, size_t i)
{
	char dir[4096], text[64];
	int rc;
	if (fmt(dir, sizeof dir, "%s/%s", s->o.root, z->devpath))
		return -ENAMETOOLONG;
	if ((rc = mkdir_p(dir))) {
		fprintf(stderr, "jst-sim-powercap: mkdir %s: %s\n", dir, strerror(-rc));
		return rc;
	}
	double max_w = sim_trace_max_power(s->trace) * z->scale;
	/* Twice the trace's peak: a bound the zone never reaches, like a real limit. */
	unsigned long long max_uw = (unsigned long long)ceil(2 * max_w * 1e6);
	if (max_uw < 1000000)
		max_uw = 1000000;
	snprintf(text, sizeof text, "%llu\n", max_uw);
	char name[40];
	snprintf(name, sizeof name, "%s\n", z->zone_name);
	if (s->o.tdp_w > 0)
		/* What client CPUs show: the TDP for the long-term limit, nothing for the
		 * short-term one, whose turbo power is several times the TDP. */
		snprintf(text, sizeof text, "%llu\n",
		         (unsigned long long)llround(s->o.tdp_w * 1e6));
	if (s->o.max_power_uw)
		snprintf(text, sizeof text, "%s\n", s->o.max_power_uw);
	if ((rc = write_attr(dir, "name", name)) || (rc = write_attr(dir, "enabled", "1\n")) ||
	    (rc = write_attr(dir, "constraint_0_name", "long_term\n")) ||
	    (rc = write_attr(dir, "constraint_0_max_power_uw", text)))
		return rc;
	if (s->o.tdp_w > 0 && ((rc = write_attr(dir, "constraint_1_name", "short_term\n")) ||
	                       (rc = write_attr(dir, "constraint_1_max_power_uw", "0\n"))))
		return rc;
	if (i == 0 && s->o.mode == SIMPC_GARBAGE_RANGE)
		snprintf(text, sizeof text, "garbage\n");
	else
		snprintf(text, sizeof text, "%llu\n", (unsigned long long)(z->modulus_uj - 1));
	if ((rc = write_attr(dir, "max_energy_range_uj", text)))
		return rc;

	char path[4096];
	if (fmt(path, sizeof path, "%s/energy_uj", dir))
		return -ENAMETOOLONG;
	z->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (z->fd < 0) {
		fprintf(stderr, "jst-sim-powercap: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	/* Root reads through any mode; tests drop privileges to see EACCES. */
	if (s->o.mode == SIMPC_UNREADABLE && fchmod(z->fd, 0))
		return -errno;
	if (i == 0 && s->o.mode == SIMPC_GARBAGE)
		simpc_tree_spoil(s);
	return 0;
}

int simpc_tree_create(struct simpc *s)
{
	char dir[4096];
	int rc;
	if ((rc = simpc_cpu_create(s)))
		return rc;
	if (s->o.no_powercap) {
		simpc_tree_tick(s, 0);
		return 0;
	}
	if (fmt(dir, sizeof dir, "%s/class/powercap", s->o.root))
		return -ENAMETOOLONG;
	if ((rc = mkdir_p(dir))) {
		fprintf(stderr, "jst-sim-powercap: mkdir %s: %s\n", dir, strerror(-rc));
		return rc;
	}
	/* The control types themselves, as the kernel lists them. */
	const char *types[] = {"intel-rapl", "intel-rapl-mmio"};
	for (int t = 0; t < (s->o.mmio ? 2 : 1); t++) {
		char lnk[4096], target[128];
		if (fmt(dir, sizeof dir, "%s/" DEVROOT "/%s", s->o.root, types[t]) ||
		    fmt(lnk, sizeof lnk, "%s/class/powercap/%s", s->o.root, types[t]) ||
		    fmt(target, sizeof target, "../../" DEVROOT "/%s", types[t]))
			return -ENAMETOOLONG;
		if ((rc = mkdir_p(dir)) || (rc = write_attr(dir, "enabled", "1\n")))
			return rc;
		unlink(lnk);
		if (symlink(target, lnk))
			return -errno;
	}
	for (size_t i = 0; i < s->nzones; i++)
		if ((rc = zone_create(s, &s->zones[i], i)))
			return rc;
	for (size_t i = 0; i < s->nzones; i++)
		if ((rc = link_zone(s, &s->zones[i])))
			return rc;
	simpc_tree_tick(s, 0);
	return 0;
}

void simpc_tree_tick(struct simpc *s, double t)
{
	double e = sim_trace_energy(s->trace, 0, t);
	for (size_t i = 0; i < s->nzones; i++) {
		struct simpc_zone *z = &s->zones[i];
		if (z->garbage || z->fd < 0)
			continue;
		/* What a uJ counter refreshed at this tick holds: the floor of the
		 * energy so far, on top of its base, modulo its range. */
		z->counted_uj = (uint64_t)floor(z->scale * e * 1e6);
		uint64_t v = (z->base_uj + z->counted_uj) % z->modulus_uj;
		char buf[32];
		int n = snprintf(buf, sizeof buf, "%0*llu\n", z->width, (unsigned long long)v);
		/* In place: readers keep the file open and pread offset 0. */
		if (pwrite(z->fd, buf, (size_t)n, 0) != n)
			perror("jst-sim-powercap: pwrite");
	}
	simpc_cpu_tick(s, t, e);
}

void simpc_tree_spoil(struct simpc *s)
{
	static const char junk[] = "not-a-number\n";
	struct simpc_zone *z = &s->zones[0];
	z->garbage = 1;
	if (ftruncate(z->fd, 0) || pwrite(z->fd, junk, sizeof junk - 1, 0) < 0)
		perror("jst-sim-powercap: spoil");
}

void simpc_tree_unspoil(struct simpc *s)
{
	struct simpc_zone *z = &s->zones[0];
	z->garbage = 0;
	if (ftruncate(z->fd, 0))
		perror("jst-sim-powercap: unspoil");
}

void simpc_tree_replace(struct simpc *s)
{
	struct simpc_zone *z = &s->zones[0];
	char path[4096], tmp[4200];
	if (fmt(path, sizeof path, "%s/%s/energy_uj", s->o.root, z->devpath) ||
	    fmt(tmp, sizeof tmp, "%s.new", path))
		return;
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0 || rename(tmp, path)) {
		perror("jst-sim-powercap: replace");
		if (fd >= 0)
			close(fd);
		return;
	}
	close(z->fd);
	z->fd = fd;
}

void simpc_tree_close(struct simpc *s)
{
	simpc_cpu_close(s);
	for (size_t i = 0; i < s->nzones; i++)
		if (s->zones[i].fd >= 0)
			close(s->zones[i].fd);
	free(s->zones);
	s->zones = NULL;
	s->nzones = 0;
}
