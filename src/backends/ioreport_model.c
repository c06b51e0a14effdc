/*
 * IOReport "Energy Model" channels to joulestat domains: which channels are
 * whole components, which are parts of them, and their units. Pure functions
 * over parsed channels, so Linux tests them on fixtures (ioreport.h).
 */
#include "ioreport.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double jst_ior_unit_j(const char *label)
{
	static const struct {
		const char *label;
		double j;
	} units[] = {{"nJ", 1e-9}, {"uJ", 1e-6}, {"\xc2\xb5J", 1e-6}, {"mJ", 1e-3}, {"J", 1.0}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(label, units[i].label))
			return units[i].j;
	return 0;
}

/* "DIE_1_CPU Energy" -> die 1, "CPU Energy"; no prefix -> die 0. */
static const char *ior_strip_die(const char *name, unsigned *die)
{
	unsigned d;
	int len = 0;
	*die = 0;
	if (sscanf(name, "DIE_%u_%n", &d, &len) == 1 && len > 0) {
		*die = d;
		return name + len;
	}
	return name;
}

/* A CPU cluster total: ECPU, PCPU, EACC_CPU, PACC0_CPU (M1-M4), MCPU0 (M5). */
static int ior_is_cluster(const char *s)
{
	size_t n = strlen(s);
	if ((s[0] == 'E' || s[0] == 'P') && n >= 4 && !strcmp(s + n - 3, "CPU"))
		return 1;
	if (!strncmp(s, "MCPU", 4) && n > 4) {
		for (size_t i = 4; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	return 0;
}

static struct jst_domain_desc *ior_add(struct jst_ior_model *m, const char *channel,
                                       const char *unit, jst_kind kind, int parent)
{
	double j = jst_ior_unit_j(unit);
	if (m->n >= JST_IOR_MAX_DOMAINS || !(j > 0))
		return NULL;
	struct jst_domain_desc *d = &m->desc[m->n];
	memset(d, 0, sizeof *d);
	snprintf(m->channel[m->n], sizeof m->channel[m->n], "%s", channel);
	m->n++;
	d->kind = kind;
	d->method = JST_METHOD_COUNTER;
	snprintf(d->source, sizeof d->source, "ioreport");
	/* The SoC's own energy model, computed from activity: not a sensor. */
	d->accuracy = 0.10;
	d->parent = parent;
	d->unit_j = j;
	d->modulus = 0; /* cumulative 64-bit values */
	d->max_power_w = 500;
	d->refresh_s = 0; /* unknown: measured by the core */
	d->resolution_j = j;
	return d;
}

/* The package domain of a die, or -1. */
static int ior_package(const struct jst_ior_model *m, unsigned die)
{
	char dev[32];
	snprintf(dev, sizeof dev, "cpu:package-%u", die);
	for (size_t i = 0; i < m->n; i++)
		if (m->desc[i].kind == JST_KIND_PACKAGE && !strcmp(m->desc[i].device, dev))
			return (int)i;
	return -1;
}

static void ior_name(char *dst, size_t len, const char *base, unsigned die, int multi)
{
	if (multi)
		snprintf(dst, len, "%s-die%u", base, die);
	else
		snprintf(dst, len, "%s", base);
}

int jst_ior_model_build(struct jst_ior_model *m, const struct jst_ior_channel *ch, size_t n)
{
	memset(m, 0, sizeof *m);
	int multi = 0;
	for (size_t i = 0; i < n; i++)
		multi |= !strncmp(ch[i].name, "DIE_", 4);
	/* Packages first, so that clusters find their parent whatever the order. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(ch[i].group, "Energy Model") != 0)
				continue;
			unsigned die;
			const char *base = ior_strip_die(ch[i].name, &die);
			struct jst_domain_desc *d = NULL;
			char lower[48];
			size_t k = 0;
			for (; base[k] && k + 1 < sizeof lower; k++)
				lower[k] = (char)tolower((unsigned char)base[k]);
			lower[k] = 0;
			if (pass == 0 && !strcmp(base, "CPU Energy")) {
				if (!(d = ior_add(m, ch[i].name, ch[i].unit, JST_KIND_PACKAGE, -1)))
					continue;
				ior_name(d->name, sizeof d->name, "cpu", die, multi);
				snprintf(d->device, sizeof d->device, "cpu:package-%u", die);
			} else if (pass == 1 && ior_is_cluster(base)) {
				int parent = ior_package(m, die);
				if (!(d = ior_add(m, ch[i].name, ch[i].unit, JST_KIND_CORE,
				                  parent)))
					continue;
				ior_name(d->name, sizeof d->name, lower, die, multi);
				snprintf(d->device, sizeof d->device, "cpu:package-%u/%s", die,
				         lower);
			} else if (pass == 1 && !strcmp(base, "GPU Energy")) {
				if (!(d = ior_add(m, ch[i].name, ch[i].unit, JST_KIND_GPU, -1)))
					continue;
				ior_name(d->name, sizeof d->name, "gpu", die, multi);
				snprintf(d->device, sizeof d->device, "gpu:apple-soc-%u", die);
			} else if (pass == 1 && !strcmp(base, "ANE")) {
				if (!(d = ior_add(m, ch[i].name, ch[i].unit, JST_KIND_OTHER, -1)))
					continue;
				ior_name(d->name, sizeof d->name, "ane", die, multi);
				snprintf(d->device, sizeof d->device, "apple:ane-%u", die);
			} else if (pass == 1 && !strcmp(base, "DRAM")) {
				if (!(d = ior_add(m, ch[i].name, ch[i].unit, JST_KIND_DRAM, -1)))
					continue;
				ior_name(d->name, sizeof d->name, "dram", die, multi);
				snprintf(d->device, sizeof d->device, "cpu:package-%u/dram", die);
			}
		}
	}
	return (int)m->n;
}

void jst_ior_model_read(const struct jst_ior_model *m, const struct jst_ior_channel *ch, size_t n,
                        struct jst_raw *out)
{
	for (size_t d = 0; d < m->n; d++) {
		int found = 0;
		for (size_t i = 0; i < n && !found; i++) {
			if (strcmp(ch[i].name, m->channel[d]) != 0 ||
			    strcmp(ch[i].group, "Energy Model") != 0)
				continue;
			found = 1;
			if (ch[i].value < 0) {
				out[d].status = -EIO;
				snprintf(out[d].error, sizeof out[d].error,
				         "%s: negative value %lld", m->channel[d],
				         (long long)ch[i].value);
			} else {
				out[d].counter = (uint64_t)ch[i].value;
			}
		}
		if (!found) {
			out[d].status = -ENODATA;
			snprintf(out[d].error, sizeof out[d].error,
			         "IOReport channel '%s' is missing from the sample", m->channel[d]);
		}
	}
}

/* Copy one tab-separated field; returns the next field or NULL. */
static const char *ior_field(const char *p, char *dst, size_t len)
{
	const char *e = p + strcspn(p, "\t\n");
	size_t n = (size_t)(e - p);
	if (n >= len)
		n = len - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
	return *e == '\t' ? e + 1 : NULL;
}

int jst_ior_recording_sample(const char *text, size_t k, struct jst_ior_channel *out, size_t max,
                             double *t_s)
{
	size_t sample = 0;
	int in = 0, count = 0;
	for (const char *line = text; line && *line;) {
		const char *next = strchr(line, '\n');
		if (line[0] == '#') {
			if (in)
				return count; /* the next sample starts */
			double t;
			if (sscanf(line, "# t=%lf", &t) == 1) {
				if (sample++ == k) {
					in = 1;
					if (t_s)
						*t_s = t;
				}
			}
		} else if (in && line[0] != '\n') {
			char value[32];
			struct jst_ior_channel c = {0};
			const char *p = ior_field(line, c.group, sizeof c.group);
			p = p ? ior_field(p, c.subgroup, sizeof c.subgroup) : NULL;
			p = p ? ior_field(p, c.name, sizeof c.name) : NULL;
			p = p ? ior_field(p, c.unit, sizeof c.unit) : NULL;
			if (!p)
				return -EINVAL;
			ior_field(p, value, sizeof value);
			char *end;
			c.value = strtoll(value, &end, 10);
			if (end == value)
				return -EINVAL;
			if ((size_t)count == max)
				return -E2BIG;
			out[count++] = c;
		}
		line = next ? next + 1 : NULL;
	}
	return in ? count : -ENOENT;
}
