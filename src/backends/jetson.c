/*
 * NVIDIA Jetson power rails: the INA3221 (three channels) and INA238 power
 * monitors on the module, read as power and integrated by the core. Three
 * driver layouts: the hwmon ina3221 driver (JetPack 5/6: inN_label, inN_input
 * mV x currN_input mA), hwmon ina238 (power1_input uW, the rail in `label`),
 * and L4T 32's iio ina3221x (rail_name_N, in_powerN_input mW). VDD_IN feeds
 * the whole module: a platform domain, with the CPU, GPU and SOC rails inside
 * it as children. docs/backends/jetson.md
 */
#include "hwmon.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JETSON_ACC 0.10
#define JETSON_IIO "bus/i2c/drivers/ina3221x"

struct jetson_scan {
	struct jst_rail_table *t;
	char *reason;
	size_t len;
	int error; /* a rail that could not be read */
};

/* The rails that carry the module's whole input. */
static int jetson_is_module(const char *rail)
{
	return !strcmp(rail, "VDD_IN") || !strcmp(rail, "POM_5V_IN") || !strcmp(rail, "5V_IN");
}

static void jetson_describe(struct jst_domain_desc *d, const char *rail, double refresh_s)
{
	jst_rail_name(d->name, sizeof d->name, rail);
	snprintf(d->device, sizeof d->device, "jetson:%s", d->name);
	d->method = JST_METHOD_POWER;
	d->accuracy = JETSON_ACC;
	d->refresh_s = refresh_s;
	/* Above any Jetson module's input (AGX Orin: 60 W): rejects garbage only. */
	d->max_power_w = 150;
	int cpu = strstr(rail, "CPU") != NULL, gpu = strstr(rail, "GPU") != NULL;
	if (jetson_is_module(rail))
		d->kind = JST_KIND_PLATFORM;
	else if (gpu && !cpu)
		d->kind = JST_KIND_GPU;
	else if (cpu && !gpu)
		d->kind = JST_KIND_PACKAGE;
	else
		d->kind = JST_KIND_OTHER; /* SOC, CV, DDR, and combined CPU+GPU rails */
}

static void jetson_failed(struct jetson_scan *s, const char *dir, const char *file, int err)
{
	if (!s->error)
		snprintf(s->reason, s->len, "cannot read %s/%s: %s", jst_path_tail(dir, 80), file,
		         err == -EIO ? "not a number" : strerror(-err));
	s->error = 1;
}

static double jetson_refresh(const char *dir)
{
	uint64_t ms;
	return jst_hwmon_attr_u64(dir, "update_interval", &ms) == 0 && ms > 0 ? (double)ms / 1e3
	                                                                      : 0;
}

static int jetson_hwmon(const char *dir, const char *name, void *arg)
{
	struct jetson_scan *s = arg;
	int err = 0;
	if (!strcmp(name, "ina3221")) {
		for (int k = 1; k <= 3; k++) {
			char attr[32], rail[64], volt[16], curr[16];
			snprintf(attr, sizeof attr, "in%d_label", k);
			/* Unlabelled and "NC" channels are not connected. */
			if (jst_hwmon_attr(dir, attr, rail, sizeof rail) < 0 || !rail[0] ||
			    !strcmp(rail, "NC"))
				continue;
			snprintf(volt, sizeof volt, "in%d_input", k);
			snprintf(curr, sizeof curr, "curr%d_input", k);
			struct jst_domain_desc *d =
			    jst_rail_add(s->t, JST_RAIL_VOLT_CURR, dir, volt, curr, 0, &err);
			if (!d) {
				if (err == -ENOMEM)
					return err;
				jetson_failed(s, dir, volt, err);
				continue;
			}
			jetson_describe(d, rail, jetson_refresh(dir));
			snprintf(d->source, sizeof d->source, "ina3221");
		}
	} else if (!strcmp(name, "ina238")) {
		char rail[64];
		if (jst_hwmon_attr(dir, "label", rail, sizeof rail) < 0 || !rail[0])
			snprintf(rail, sizeof rail, "ina238-%s", jst_path_tail(dir, 12) + 1);
		struct jst_domain_desc *d =
		    jst_rail_add(s->t, JST_RAIL_POWER, dir, "power1_input", NULL, 1e-6, &err);
		if (!d) {
			if (err == -ENOMEM)
				return err;
			jetson_failed(s, dir, "power1_input", err);
			return 0;
		}
		jetson_describe(d, rail, jetson_refresh(dir));
		snprintf(d->source, sizeof d->source, "ina238");
	}
	return 0;
}

/* L4T 32: <sysfs>/bus/i2c/drivers/ina3221x/<bus>-<addr>/iio:deviceN/. */
static int jetson_iio(struct jetson_scan *s, const char *sysfs)
{
	char base[4096];
	if (!jst_path_join(base, sizeof base, sysfs, JETSON_IIO))
		return -ENAMETOOLONG;
	DIR *d = opendir(base);
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	/* Directory order is the driver's; rails are named, so order only sets
	 * the listing's. */
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strchr(e->d_name, '-'))
			continue;
		char dev[4096];
		if (!jst_path_join(dev, sizeof dev, base, e->d_name))
			continue;
		DIR *dd = opendir(dev);
		if (!dd)
			continue;
		struct dirent *f;
		while (!rc && (f = readdir(dd))) {
			if (strncmp(f->d_name, "iio:device", 10) != 0)
				continue;
			char iio[4096];
			if (!jst_path_join(iio, sizeof iio, dev, f->d_name))
				continue;
			for (int k = 0; k < 3 && !rc; k++) {
				char attr[32], rail[64], file[32];
				int err = 0;
				snprintf(attr, sizeof attr, "rail_name_%d", k);
				if (jst_hwmon_attr(iio, attr, rail, sizeof rail) < 0 || !rail[0])
					continue;
				snprintf(file, sizeof file, "in_power%d_input", k);
				struct jst_domain_desc *dom =
				    jst_rail_add(s->t, JST_RAIL_POWER, iio, file, NULL, 1e-3, &err);
				if (!dom) {
					if (err == -ENOMEM)
						rc = err;
					else
						jetson_failed(s, iio, file, err);
					continue;
				}
				jetson_describe(dom, rail, 0);
				snprintf(dom->source, sizeof dom->source, "ina3221x");
			}
		}
		closedir(dd);
	}
	closedir(d);
	return rc;
}

static void jetson_close(void *state)
{
	struct jst_rail_table *t = state;
	if (!t)
		return;
	jst_rail_table_free(t);
	free(t);
}

static int jetson_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *sysfs = jst_backend_option(ctx, "sysfs.root", "/sys");
	struct jst_rail_table *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	struct jetson_scan s = {t, reason, len, 0};
	reason[0] = 0;
	int rc = jst_hwmon_each(sysfs, jetson_hwmon, &s);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc)
		rc = jetson_iio(&s, sysfs);
	if (!rc && t->n == 0) {
		if (!s.error)
			snprintf(reason, len,
			         "no Jetson power monitor: no ina3221 or ina238 under "
			         "%s/class/hwmon and no %s/" JETSON_IIO ": not a Jetson module",
			         sysfs, sysfs);
		rc = -ENODEV;
	}
	if (rc < 0) {
		jetson_close(t);
		return rc;
	}
	reason[0] = 0;
	/* Every rail but the module's own is inside the module. */
	int module = -1;
	for (size_t i = 0; i < t->n; i++)
		if (t->desc[i].kind == JST_KIND_PLATFORM && module < 0)
			module = (int)i;
	for (size_t i = 0; module >= 0 && i < t->n; i++) {
		if ((int)i == module)
			continue;
		t->desc[i].parent = module;
	}
	/* The module's input holds the CPU: the CPU estimate steps aside for it. */
	if (module >= 0)
		t->desc[module].covers = JST_COVERS_MODULE;
	if (module >= 0 && t->n > 1)
		snprintf(t->desc[module].note, sizeof t->desc[module].note,
		         "the whole module's input: the total; the rails are inside it");
	else if (module >= 0)
		snprintf(t->desc[module].note, sizeof t->desc[module].note,
		         "the whole module's input: reported as system");
	*state = t;
	return 0;
}

static size_t jetson_domains(void *state, const struct jst_domain_desc **out)
{
	struct jst_rail_table *t = state;
	*out = t->desc;
	return t->n;
}

static int jetson_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	(void)flags;
	jst_rail_read_all(state, out, n);
	return 0;
}

const struct jst_backend_ops jst_backend_jetson = {
    .name = "jetson",
    .description = "NVIDIA Jetson module power rails (INA3221, INA238), integrated",
    .accuracy = JETSON_ACC,
    .probe = jetson_probe,
    .domains = jetson_domains,
    .read = jetson_read,
    .close = jetson_close,
};
