/*
 * CPU vendor and package topology from /proc/cpuinfo and
 * /sys/devices/system/cpu (under movable roots): see cpu_topo.h.
 */
#include "cpu_topo.h"
#include "backend.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jst_cpu_id_read(const char *procfs_root, struct jst_cpu_id *out)
{
	char path[4096], line[512];
	*out = (struct jst_cpu_id){0};
	if (!jst_path_join(path, sizeof path, procfs_root, "cpuinfo"))
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int seen = 0; /* fields of the first processor only */
	while (fgets(line, sizeof line, f)) {
		const char *v;
		line[strcspn(line, "\n")] = 0;
		if (!line[0] && seen)
			break; /* end of the first processor's block */
		if ((v = jst_cpuinfo_value(line, "vendor_id"))) {
			snprintf(out->vendor_id, sizeof out->vendor_id, "%s", v);
			seen = 1;
		} else if ((v = jst_cpuinfo_value(line, "cpu family"))) {
			out->family = (unsigned)strtoul(v, NULL, 10);
		} else if ((v = jst_cpuinfo_value(line, "model"))) {
			out->model = (unsigned)strtoul(v, NULL, 10);
		} else if ((v = jst_cpuinfo_value(line, "flags"))) {
			size_t n = strlen("hypervisor");
			for (const char *p = strstr(v, "hypervisor"); p;
			     p = strstr(p + 1, "hypervisor"))
				if ((p == v || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
					out->hypervisor = 1;
		}
	}
	fclose(f);
	if (!strcmp(out->vendor_id, "GenuineIntel"))
		out->vendor = JST_CPU_INTEL;
	else if (!strcmp(out->vendor_id, "AuthenticAMD") || !strcmp(out->vendor_id, "HygonGenuine"))
		out->vendor = JST_CPU_AMD;
	return 0;
}

static int cpu_cmp(const void *a, const void *b)
{
	const struct jst_cpu *x = a, *y = b;
	return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

static int read_id(const char *cpudir, const char *name, unsigned *out)
{
	char path[4096], text[32];
	uint64_t v;
	int n = snprintf(path, sizeof path, "%s/topology/%s", cpudir, name);
	if (n < 0 || (size_t)n >= sizeof path)
		return -ENAMETOOLONG;
	int r = jst_file_read_text(path, text, sizeof text);
	if (r < 0)
		return r;
	if (jst_parse_u64(text, &v) < 0 || v > 0xffff)
		return -EINVAL; /* -1 (no topology) is not a package */
	*out = (unsigned)v;
	return 0;
}

int jst_cpu_topo_read(const char *sysfs_root, struct jst_cpu_topo *out)
{
	char dir[4096];
	*out = (struct jst_cpu_topo){0};
	if (!jst_path_join(dir, sizeof dir, sysfs_root, "devices/system/cpu"))
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		const char *p = e->d_name;
		if (strncmp(p, "cpu", 3) != 0 || !isdigit((unsigned char)p[3]))
			continue;
		char *end;
		long cpu = strtol(p + 3, &end, 10);
		if (*end || cpu < 0 || cpu > 1 << 20)
			continue;
		char cpudir[4096];
		if (snprintf(cpudir, sizeof cpudir, "%s/%s", dir, p) >= (int)sizeof cpudir)
			continue;
		struct jst_cpu c = {.cpu = (int)cpu};
		/* An offline CPU has no topology directory: it reads nothing. */
		if (read_id(cpudir, "physical_package_id", &c.package) < 0)
			continue;
		if (read_id(cpudir, "die_id", &c.die) < 0)
			c.die = 0;
		if (out->n == cap) {
			cap = cap ? 2 * cap : 64;
			struct jst_cpu *v = realloc(out->cpu, cap * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			out->cpu = v;
		}
		out->cpu[out->n++] = c;
		out->multi_die |= c.die != 0;
	}
	closedir(d);
	if (rc) {
		jst_cpu_topo_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->cpu, out->n, sizeof *out->cpu, cpu_cmp);
	return 0;
}

void jst_cpu_topo_free(struct jst_cpu_topo *t)
{
	free(t->cpu);
	*t = (struct jst_cpu_topo){0};
}

const struct jst_cpu *jst_cpu_topo_find(const struct jst_cpu_topo *t, int cpu)
{
	struct jst_cpu key = {.cpu = cpu};
	return t->n ? bsearch(&key, t->cpu, t->n, sizeof key, cpu_cmp) : NULL;
}

/* Is c the lowest-numbered CPU of its package and die? */
static int first_of_package(const struct jst_cpu_topo *t, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (t->cpu[j].package == t->cpu[i].package && t->cpu[j].die == t->cpu[i].die)
			return 0;
	return 1;
}

const struct jst_cpu *jst_cpu_topo_package(const struct jst_cpu_topo *t, size_t k)
{
	/* Packages in (package, die) order: a selection pass per rank keeps this
	 * allocation-free; it runs once per probe over a few hundred CPUs. */
	const struct jst_cpu *prev = NULL;
	for (size_t rank = 0; rank <= k; rank++) {
		const struct jst_cpu *best = NULL;
		for (size_t i = 0; i < t->n; i++) {
			const struct jst_cpu *c = &t->cpu[i];
			if (!first_of_package(t, i))
				continue;
			if (prev && (c->package < prev->package ||
			             (c->package == prev->package && c->die <= prev->die)))
				continue;
			if (!best || c->package < best->package ||
			    (c->package == best->package && c->die < best->die))
				best = c;
		}
		if (!best)
			return NULL;
		prev = best;
	}
	return prev;
}

void jst_cpu_package_name(const struct jst_cpu_topo *t, const struct jst_cpu *c, char *buf,
                          size_t len)
{
	if (t->multi_die)
		snprintf(buf, len, "package-%u-die-%u", c->package, c->die);
	else
		snprintf(buf, len, "package-%u", c->package);
}

double jst_cpu_server_dram_unit(const struct jst_cpu_id *id)
{
	/* The models the kernel's intel_rapl_common and perf rapl drivers treat so:
	 * Haswell-X, Broadwell-X, Broadwell-D, Skylake-X (with Cascade and Cooper
	 * Lake), Xeon Phi KNL and KNM, Ice Lake-X and -D, Sapphire and Emerald
	 * Rapids. */
	static const unsigned models[] = {0x3F, 0x4F, 0x56, 0x55, 0x57,
	                                  0x85, 0x6A, 0x6C, 0x8F, 0xCF};
	if (id->vendor != JST_CPU_INTEL || id->family != 6)
		return 0;
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		if (id->model == models[i])
			return ldexp(1.0, -16);
	return 0;
}
