/*
 * Discovery of RAPL zones in the powercap sysfs tree: which directories are
 * zones, what each one measures (by its name file, never its number), and how
 * they nest. Everything here runs once, at probe.
 */
#include "rapl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Used when a zone states no constraint_*_max_power_uw. Generous on purpose:
 * the core uses it for the sampling period and to reject implausible jumps,
 * and an underestimate would drop real energy. */
#define RAPL_DEFAULT_PACKAGE_W 400.0
#define RAPL_DEFAULT_DRAM_W 1000.0 /* large DDR5 servers draw 250 W and more */
#define RAPL_DEFAULT_PSYS_W 1000.0
/* RAPL updates its counters about every millisecond. */
#define RAPL_REFRESH_S 0.001
#define RAPL_MAX_CONSTRAINTS 8

/* Control types whose zones are RAPL energy counters. mmio zones repeat the
 * package counter through another interface (Tiger Lake and later). */
static const struct {
	const char *prefix;
	int mmio;
} rapl_types[] = {
    {"intel-rapl", 0},
    {"amd-rapl", 0},
    {"intel-rapl-mmio", 1},
};
#define RAPL_NTYPES (sizeof rapl_types / sizeof rapl_types[0])

/* A zone directory found under class/powercap: type index, then numbers. */
struct rapl_dirent {
	unsigned type, idx;
	char name[JST_NAME_MAX];
};

struct rapl_probe {
	struct rapl_state *st;
	const char *powercap; /* <sysfs>/class/powercap */
	char *reason;
	size_t reason_len;
};

/* ---- names ------------------------------------------------------------------ */

/* Parse "<prefix>:N" (want_sub 0) or "<prefix>:P:N" (want_sub 1) exactly;
 * returns N or -1. */
static long rapl_parse_zone_dir(const char *name, const char *prefix, int want_sub)
{
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) != 0 || name[pl] != ':')
		return -1;
	const char *p = name + pl + 1;
	long n = -1;
	for (int part = 0; part <= want_sub; part++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		char *end;
		n = strtol(p, &end, 10);
		p = end;
		if (part < want_sub) {
			if (*p != ':')
				return -1;
			p++;
		}
	}
	return *p ? -1 : n;
}

static int rapl_dirent_cmp(const void *a, const void *b)
{
	const struct rapl_dirent *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* List the zone directories in dir: top zones ("<type>:N") when top_type < 0,
 * else the subzones of "<type>:P" ("<type>:P:M"). Sorted numerically, so that
 * zone 10 comes after zone 2. Returns the count or negative errno. */
static int rapl_list_zones(const char *dir, int top_type, struct rapl_dirent **out)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t n = 0, cap = 0;
	struct rapl_dirent *v = NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		for (unsigned t = 0; t < RAPL_NTYPES; t++) {
			if (top_type >= 0 && t != (unsigned)top_type)
				continue;
			long idx =
			    rapl_parse_zone_dir(e->d_name, rapl_types[t].prefix, top_type >= 0);
			if (idx < 0 || strlen(e->d_name) >= JST_NAME_MAX)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				struct rapl_dirent *nv = realloc(v, cap * sizeof *v);
				if (!nv) {
					free(v);
					closedir(d);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n].type = t;
			v[n].idx = (unsigned)idx;
			memcpy(v[n].name, e->d_name,
			       strlen(e->d_name) + 1); /* length checked above */
			n++;
			break;
		}
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, rapl_dirent_cmp);
	*out = v;
	return (int)n;
}

/* "package-N" or "package-N-die-M". */
static int rapl_is_package_name(const char *s)
{
	unsigned a, b;
	int len = 0;
	if (sscanf(s, "package-%u%n", &a, &len) == 1 && s[len] == 0)
		return 1;
	len = 0;
	return sscanf(s, "package-%u-die-%u%n", &a, &b, &len) == 2 && s[len] == 0;
}

/* "psys" or "psys-N" (several platforms on one node). */
static int rapl_is_psys_name(const char *s)
{
	unsigned a;
	int len = 0;
	return !strcmp(s, "psys") || (sscanf(s, "psys-%u%n", &a, &len) == 1 && s[len] == 0);
}

/* ---- reading files ------------------------------------------------------------ */

/* Quote a file's content for an error message, unprintable bytes as '?'. */
void jst_rapl_quote(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < len; i++)
		dst[i] = isprint((unsigned char)src[i]) ? src[i] : '?';
	/* The newline that ends every sysfs value is not part of the garbage. */
	while (i > 0 && src[i - 1] == '\n')
		i--;
	dst[i] = 0;
}

static int rapl_set_reason(struct rapl_probe *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rapl_set_reason(struct rapl_probe *p, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, p->reason_len, fmt, ap);
	va_end(ap);
	return rc;
}

/* The remedies keep the counters to trusted users: one that makes them
 * world-readable would reopen CVE-2020-8694, so none is ever suggested. */
static int rapl_permission_reason(struct rapl_probe *p, const char *path, int err)
{
	/* The remedy matters more than the root's name: keep room for it. */
	const char *tail = jst_path_tail(path, 80);
	return rapl_set_reason(
	    p, err,
	    "cannot read %s%s: %s. energy_uj is root-only since Linux 5.10 (CVE-2020-8694, "
	    "PLATYPUS). Run as root; or grant one group read access with the udev rule "
	    "SUBSYSTEM==\"powercap\", ACTION==\"add\", RUN+=\"/bin/chgrp power "
	    "/sys%%p/energy_uj\", RUN+=\"/bin/chmod g+r /sys%%p/energy_uj\" (then udevadm "
	    "trigger -s powercap, and add users to group power). Never make it readable by "
	    "every user: that reopens the side channel. See docs/backends/rapl.md",
	    tail == path ? "" : "...", tail, strerror(-err));
}

/* Read a zone attribute as u64. Missing is -ENOENT with no reason set (the
 * caller decides); anything else unreadable or unparsable sets the reason. */
static int rapl_read_attr(struct rapl_probe *p, const char *zdir, const char *attr, uint64_t *out)
{
	char path[4096], text[64], q[32];
	if (!jst_path_join(path, sizeof path, zdir, attr))
		return rapl_set_reason(p, -ENAMETOOLONG, "path too long: %s/%s", zdir, attr);
	int r = jst_file_read_text(path, text, sizeof text);
	if (r == -ENOENT)
		return r;
	if (r == -EACCES || r == -EPERM)
		return rapl_permission_reason(p, path, r);
	if (r < 0)
		return rapl_set_reason(p, r, "cannot read %s: %s", path, strerror(-r));
	if (jst_parse_u64(text, out) < 0) {
		jst_rapl_quote(q, sizeof q, text);
		return rapl_set_reason(p, -EIO, "%s holds '%s', not a decimal number", path, q);
	}
	return 0;
}

/* No RAPL zone draws this much: a 2-socket server's psys stays under 3 kW. */
#define RAPL_PLAUSIBLE_MAX_W 10000.0

/* The highest power any constraint states, in watts; 0 when none says. Both
 * the hardware's maximum and the limit set now count: a limit (PL2, PL4) may
 * be set above what constraint_*_max_power_uw says, which is often the TDP. */
static double rapl_max_power(struct rapl_probe *p, const char *zdir)
{
	static const char *const attrs[] = {"max_power_uw", "power_limit_uw"};
	double best = 0;
	for (int i = 0; i < RAPL_MAX_CONSTRAINTS; i++) {
		for (size_t a = 0; a < sizeof attrs / sizeof attrs[0]; a++) {
			char attr[48];
			uint64_t uw = 0;
			snprintf(attr, sizeof attr, "constraint_%d_%s", i, attrs[a]);
			/* A missing or odd constraint only loses a hint, never the zone;
			 * no reason is pending here, so whatever it wrote is dropped. */
			/* Above any CPU package or platform ever built, a constraint is
			 * firmware garbage (2^64-1 is seen): as a bound it would make the
			 * sampler read at its fastest for nothing. */
			if (rapl_read_attr(p, zdir, attr, &uw) == 0 &&
			    (double)uw * 1e-6 <= RAPL_PLAUSIBLE_MAX_W && (double)uw * 1e-6 > best)
				best = (double)uw * 1e-6;
			p->reason[0] = 0;
		}
	}
	return best;
}

/* ---- declaring domains ------------------------------------------------------------ */

static struct jst_domain_desc *rapl_push(struct rapl_state *st)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		struct jst_domain_desc *d = realloc(st->desc, cap * sizeof *d);
		if (!d)
			return NULL;
		st->desc = d;
		struct rapl_zone *z = realloc(st->zone, cap * sizeof *z);
		if (!z)
			return NULL;
		st->zone = z;
		st->cap = cap;
	}
	st->zone[st->n] = (struct rapl_zone){.fd = -1};
	struct jst_domain_desc *d = &st->desc[st->n];
	memset(d, 0, sizeof *d);
	return d;
}

/* Declare one zone: open its counter, check it once, read its range and power
 * bound. On success the domain is committed and its local index returned. */
static int rapl_add_zone(struct rapl_probe *p, const char *zdir, jst_kind kind, const char *name,
                         const char *device, int parent, double default_w, const char *note)
{
	struct rapl_state *st = p->st;
	struct jst_domain_desc *d = rapl_push(st);
	if (!d)
		return -ENOMEM;
	char path[4096], q[32];
	uint64_t range = 0, v = 0;
	if (!jst_path_join(path, sizeof path, zdir, "energy_uj"))
		return rapl_set_reason(p, -ENAMETOOLONG, "path too long: %s/energy_uj", zdir);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;
		if (err == -EACCES || err == -EPERM)
			return rapl_permission_reason(p, path, err);
		return rapl_set_reason(p, err, "cannot open %s: %s", path, strerror(-err));
	}
	struct rapl_zone *z = &st->zone[st->n];
	z->fd = fd;
	if (!(z->path = strdup(path))) {
		close(fd);
		z->fd = -1;
		return -ENOMEM;
	}
	/* From here on the zone is owned by the state (close releases it) even if
	 * probe fails below, so count it now. */
	st->n++;

	char text[64];
	ssize_t r = pread(fd, text, sizeof text - 1, 0);
	if (r < 0) {
		int err = -errno;
		if (err == -EACCES || err == -EPERM)
			return rapl_permission_reason(p, path, err);
		return rapl_set_reason(p, err, "cannot read %s: %s", path, strerror(-err));
	}
	text[r] = 0;
	if (jst_parse_u64(text, &v) < 0) {
		jst_rapl_quote(q, sizeof q, text);
		return rapl_set_reason(p, -EIO, "%s holds '%s', not an energy counter in uJ", path,
		                       q);
	}

	int rc = rapl_read_attr(p, zdir, "max_energy_range_uj", &range);
	if (rc == -ENOENT)
		return rapl_set_reason(p, -EIO,
		                       "%s/max_energy_range_uj is missing: the counter's "
		                       "wrap is unknown",
		                       zdir);
	if (rc < 0)
		return rc;
	if (range == 0 || range == UINT64_MAX)
		return rapl_set_reason(p, -EIO,
		                       "%s/max_energy_range_uj is %llu: not a counter range", zdir,
		                       (unsigned long long)range);

	snprintf(d->name, sizeof d->name, "%s", name);
	d->kind = kind;
	snprintf(d->device, sizeof d->device, "%s", device);
	d->method = JST_METHOD_COUNTER;
	snprintf(d->source, sizeof d->source, "powercap");
	d->accuracy = jst_backend_rapl.accuracy;
	d->parent = parent;
	d->unit_j = 1e-6;
	/* energy_uj runs over 0..max_energy_range_uj, then starts again at 0. */
	d->modulus = range + 1;
	/* The bound only rejects counter jumps no real power could make, so it
	 * must never be below the real peak. The constraints often state the TDP
	 * (constraint_1_max_power_uw is 0 on many client CPUs) while turbo runs
	 * at several times it: they can raise the generous default, never lower
	 * it. */
	double w = rapl_max_power(p, zdir);
	d->max_power_w = w > default_w ? w : default_w;
	d->refresh_s = RAPL_REFRESH_S;
	snprintf(d->note, sizeof d->note, "%s", note);
	return (int)(st->n - 1);
}

/* Read a zone's name file into buf; 1 when read, 0 when the zone has none. */
static int rapl_zone_name(struct rapl_probe *p, const char *zdir, char *buf, size_t len)
{
	char path[4096];
	if (!jst_path_join(path, sizeof path, zdir, "name"))
		return rapl_set_reason(p, -ENAMETOOLONG, "path too long: %s/name", zdir);
	int r = jst_file_read_text(path, buf, len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return rapl_set_reason(p, r, "cannot read %s: %s", path, strerror(-r));
	return 1;
}

/* Subzones of one package: core and uncore inside it, dram beside it. */
static int rapl_add_subzones(struct rapl_probe *p, const char *pdir, const struct rapl_dirent *top,
                             const char *pkg, int pkg_index)
{
	struct rapl_dirent *subs = NULL;
	int n = rapl_list_zones(pdir, (int)top->type, &subs);
	if (n == -ENOENT || n == -ENOTDIR)
		return 0;
	if (n < 0)
		return rapl_set_reason(p, n, "cannot list %s: %s", pdir, strerror(-n));
	if (!subs)
		return 0;
	/* "package-0-die-1" gives subzone names "core-0-die-1". */
	const char *suffix = pkg + strlen("package-");
	char sub_prefix[JST_NAME_MAX + 2];
	snprintf(sub_prefix, sizeof sub_prefix, "%s:", top->name);
	int rc = 0;
	for (int i = 0; i < n && rc >= 0; i++) {
		char zdir[4096], zname[JST_NAME_MAX], dname[JST_NAME_MAX + 16];
		char dev[JST_DEVICE_MAX];
		/* Only subzones of this very zone ("intel-rapl:0:M" under "intel-rapl:0"). */
		if (strncmp(subs[i].name, sub_prefix, strlen(sub_prefix)) != 0)
			continue;
		if (!jst_path_join(zdir, sizeof zdir, pdir, subs[i].name)) {
			rc = rapl_set_reason(p, -ENAMETOOLONG, "path too long under %s", pdir);
			break;
		}
		if ((rc = rapl_zone_name(p, zdir, zname, sizeof zname)) <= 0)
			continue;
		jst_kind kind;
		const char *sub; /* the kernel's name, as a literal */
		int parent = pkg_index;
		double def_w = RAPL_DEFAULT_PACKAGE_W;
		if (!strcmp(zname, "core")) {
			kind = JST_KIND_CORE;
			sub = "core";
		} else if (!strcmp(zname, "uncore")) {
			kind = JST_KIND_UNCORE;
			sub = "uncore";
		} else if (!strcmp(zname, "dram")) {
			/* DRAM energy is not part of the package's: a sibling, summed apart. */
			kind = JST_KIND_DRAM;
			sub = "dram";
			parent = -1;
			def_w = RAPL_DEFAULT_DRAM_W;
		} else {
			continue; /* a domain this version does not know: not guessed at */
		}
		snprintf(dname, sizeof dname, "%s-%s", sub, suffix);
		snprintf(dev, sizeof dev, "cpu:%s/%s", pkg, sub);
		if (strlen(dname) >= JST_NAME_MAX)
			continue;
		rc = rapl_add_zone(p, zdir, kind, dname, dev, parent, def_w, "");
	}
	free(subs);
	return rc < 0 ? rc : 0;
}

/* One top-level zone and, for a package, its subzones. A package whose name
 * was declared already is an mmio repeat of it and is dropped. */
static int rapl_add_top(struct rapl_probe *p, const struct rapl_dirent *top)
{
	char zdir[4096], zname[JST_NAME_MAX], dev[JST_DEVICE_MAX];
	if (!jst_path_join(zdir, sizeof zdir, p->powercap, top->name))
		return rapl_set_reason(p, -ENAMETOOLONG, "path too long under %s", p->powercap);
	int r = rapl_zone_name(p, zdir, zname, sizeof zname);
	if (r <= 0)
		return r;

	if (rapl_is_package_name(zname)) {
		for (size_t i = 0; i < p->st->n; i++)
			if (p->st->desc[i].kind == JST_KIND_PACKAGE &&
			    !strcmp(p->st->desc[i].name, zname))
				return 0; /* an mmio view of a package already counted */
		snprintf(dev, sizeof dev, "cpu:%s", zname);
		const char *note = rapl_types[top->type].mmio ? "read through intel-rapl-mmio" : "";
		int idx = rapl_add_zone(p, zdir, JST_KIND_PACKAGE, zname, dev, -1,
		                        RAPL_DEFAULT_PACKAGE_W, note);
		if (idx < 0)
			return idx;
		return rapl_add_subzones(p, zdir, top, zname, idx);
	}
	if (rapl_is_psys_name(zname)) {
		snprintf(dev, sizeof dev, "platform:%s", zname);
		r = rapl_add_zone(p, zdir, JST_KIND_PLATFORM, zname, dev, -1, RAPL_DEFAULT_PSYS_W,
		                  "whole platform (psys): reported as system, not in total");
		return r < 0 ? r : 0;
	}
	if (!strcmp(zname, "dram") && !rapl_types[top->type].mmio) {
		char dname[JST_NAME_MAX];
		snprintf(dname, sizeof dname, "dram-%u", top->idx);
		snprintf(dev, sizeof dev, "cpu:package-%u/dram", top->idx);
		r = rapl_add_zone(p, zdir, JST_KIND_DRAM, dname, dev, -1, RAPL_DEFAULT_DRAM_W, "");
		return r < 0 ? r : 0;
	}
	return 0;
}

int jst_rapl_zones_discover(const char *powercap, struct rapl_state *st, char *reason,
                            size_t reason_len)
{
	struct rapl_probe p = {st, powercap, reason, reason_len};
	struct rapl_dirent *tops = NULL;
	int n = rapl_list_zones(powercap, -1, &tops);
	if (n == -ENOENT || n == -ENOTDIR)
		return 0;
	if (n < 0)
		return rapl_set_reason(&p, n, "cannot list %s: %s", powercap, strerror(-n));
	if (!tops)
		return 0;
	int rc = 0;
	for (int i = 0; i < n && rc >= 0; i++)
		rc = rapl_add_top(&p, &tops[i]);
	free(tops);
	return rc < 0 ? rc : 0;
}
