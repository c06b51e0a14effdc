/*
 * Generic hwmon energy and power: energyN_input counters (uJ; amd_energy,
 * and other drivers) and powerN_input / powerN_average sensors (uW; zenpower,
 * ACPI power meters such as NVIDIA Grace's) as domains. Each declares its own
 * refresh interval where the driver states one. The INA power monitors of
 * Jetson modules are the jetson backend's. docs/backends/hwmon.md
 */
#include "hwmon.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HWMON_ACC_COUNTER 0.05
#define HWMON_ACC_INPUT 0.10
#define HWMON_ACC_AVERAGE 0.15

struct hwmon_scan {
	struct jst_rail_table *t;
	char *reason;
	size_t len;
	int skipped_error; /* a sensor that could not be read: said in the reason if none works */
};

/* Drivers that belong to another backend. */
static int hwmon_owned_elsewhere(const char *name)
{
	return !strcmp(name, "ina3221") || !strcmp(name, "ina238");
}

/* Scope from the label: what it measures and whether it is inside a total. */
static void hwmon_classify(struct jst_domain_desc *d, const char *hwname, const char *label,
                           const char *sensor)
{
	unsigned k;
	int len = 0;
	char clean[JST_NAME_MAX];
	jst_rail_name(clean, sizeof clean, label[0] ? label : sensor);
	snprintf(d->name, sizeof d->name, "%.20s-%.40s", hwname[0] ? hwname : "hwmon", clean);
	if ((sscanf(label, "Esocket%u%n", &k, &len) == 1 && !label[len]) ||
	    (sscanf(label, "CPU Power Socket %u%n", &k, &len) == 1 && !label[len])) {
		/* amd_energy's socket counter is RAPL's package counter; Grace's CPU rail
		 * is its socket's CPU: the same device as a package, counted once. */
		d->kind = JST_KIND_PACKAGE;
		snprintf(d->device, sizeof d->device, "cpu:package-%u", k);
		return;
	}
	if (sscanf(label, "Ecore%u%n", &k, &len) == 1 && !label[len]) {
		d->kind = JST_KIND_CORE; /* one core: inside a package, never in a total */
		snprintf(d->device, sizeof d->device, "cpu:core-%u", k);
		return;
	}
	/* Anything else may overlap what other domains measure (a board, a module,
	 * a voltage regulator): reported beside the totals, never added to them. */
	d->kind = JST_KIND_PLATFORM;
	snprintf(d->device, sizeof d->device, "hwmon:%.40s/%.60s", hwname[0] ? hwname : "hwmon",
	         clean);
	snprintf(d->note, sizeof d->note, "hwmon sensor of unknown scope: reported as system");
}

/* The interval a sensor refreshes at, in seconds (0 = unknown). */
static double hwmon_refresh(const char *dir, const char *specific)
{
	uint64_t ms;
	if (specific && jst_hwmon_attr_u64(dir, specific, &ms) == 0 && ms > 0)
		return (double)ms / 1e3;
	if (jst_hwmon_attr_u64(dir, "update_interval", &ms) == 0 && ms > 0)
		return (double)ms / 1e3;
	return 0;
}

static int hwmon_add(struct hwmon_scan *s, const char *dir, const char *hwname, const char *file)
{
	unsigned k;
	int len = 0;
	char type[16], label[96], attr[64], kind_attr[48];
	if (sscanf(file, "%15[a-z]%u_%n", type, &k, &len) != 2)
		return 0;
	const char *what = file + len;
	int energy = !strcmp(type, "energy") && !strcmp(what, "input");
	int pin = !strcmp(type, "power") && !strcmp(what, "input");
	int pavg = !strcmp(type, "power") && !strcmp(what, "average");
	if (!energy && !pin && !pavg)
		return 0;
	snprintf(attr, sizeof attr, "%s%u_label", type, k);
	if (jst_hwmon_attr(dir, attr, label, sizeof label) < 0) {
		/* ACPI power meters name the sensor in its oem_info. */
		snprintf(attr, sizeof attr, "%s%u_oem_info", type, k);
		jst_hwmon_attr(dir, attr, label, sizeof label);
	}
	int err = 0;
	struct jst_domain_desc *d = jst_rail_add(
	    s->t, energy ? JST_RAIL_COUNTER_UJ : JST_RAIL_POWER, dir, file, NULL, 1e-6, &err);
	if (!d) {
		if (err == -ENOMEM)
			return err;
		if (!s->skipped_error)
			snprintf(s->reason, s->len, "cannot read %s/%s: %s", jst_path_tail(dir, 80),
			         file, err == -EIO ? "not a number" : strerror(-err));
		s->skipped_error = 1;
		return 0; /* one unreadable sensor never hides the others */
	}
	hwmon_classify(d, hwname, label, file);
	if (energy) {
		d->method = JST_METHOD_COUNTER;
		snprintf(d->source, sizeof d->source, "hwmon-energy");
		d->accuracy = HWMON_ACC_COUNTER;
		d->unit_j = 1e-6;
		d->modulus = 0; /* the hwmon ABI: a 64-bit accumulator */
		/* Above any socket's draw: a bound on jumps, not an estimate. */
		d->max_power_w = 1000;
		d->refresh_s = hwmon_refresh(dir, NULL);
	} else {
		d->method = JST_METHOD_POWER;
		snprintf(d->source, sizeof d->source, pavg ? "hwmon-average" : "hwmon-power");
		d->accuracy = pavg ? HWMON_ACC_AVERAGE : HWMON_ACC_INPUT;
		snprintf(kind_attr, sizeof kind_attr, "power%u_average_interval", k);
		d->refresh_s = hwmon_refresh(dir, pavg ? kind_attr : NULL);
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sensor files of one directory, in a stable order. */
static int hwmon_scan_dir(struct hwmon_scan *s, const char *dir, const char *hwname)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "energy", 6) != 0 && strncmp(e->d_name, "power", 5) != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **v = realloc(names, cap * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc && n)
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = hwmon_add(s, dir, hwname, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int hwmon_visit(const char *dir, const char *name, void *arg)
{
	struct hwmon_scan *s = arg;
	if (hwmon_owned_elsewhere(name))
		return 0;
	size_t before = s->t->n;
	int rc = hwmon_scan_dir(s, dir, name);
	if (!rc && s->t->n == before) {
		/* ACPI power meters keep their sensors on the device. */
		char dev[4200];
		snprintf(dev, sizeof dev, "%s/device", dir);
		rc = hwmon_scan_dir(s, dev, name);
	}
	return rc;
}

static void hwmon_close(void *state)
{
	struct jst_rail_table *t = state;
	if (!t)
		return;
	jst_rail_table_free(t);
	free(t);
}

static int hwmon_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *sysfs = jst_backend_option(ctx, "sysfs.root", "/sys");
	struct jst_rail_table *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	struct hwmon_scan s = {t, reason, len, 0};
	reason[0] = 0;
	int rc = jst_hwmon_each(sysfs, hwmon_visit, &s);
	if (rc == -ENOENT) {
		snprintf(reason, len, "no %s/class/hwmon: no hardware monitoring drivers here",
		         sysfs);
	} else if (rc < 0) {
		snprintf(reason, len, "cannot list %s/class/hwmon: %s", sysfs, strerror(-rc));
	} else if (t->n == 0) {
		if (!s.skipped_error)
			snprintf(
			    reason, len,
			    "no hwmon energy*_input or power*_input/power*_average sensor under "
			    "%s/class/hwmon (drivers that expose them: amd_energy, zenpower, "
			    "acpi_power_meter)",
			    sysfs);
		rc = -ENODEV;
	} else {
		reason[0] = 0; /* a skipped sensor is not a failure of the backend */
	}
	if (rc < 0) {
		hwmon_close(t);
		return rc;
	}
	*state = t;
	return 0;
}

static size_t hwmon_domains(void *state, const struct jst_domain_desc **out)
{
	struct jst_rail_table *t = state;
	*out = t->desc;
	return t->n;
}

static int hwmon_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	(void)flags;
	jst_rail_read_all(state, out, n);
	return 0;
}

const struct jst_backend_ops jst_backend_hwmon = {
    .name = "hwmon",
    .description = "energy counters and power sensors of hwmon drivers (amd_energy, zenpower, "
                   "ACPI power meters)",
    .accuracy = HWMON_ACC_COUNTER,
    .probe = hwmon_probe,
    .domains = hwmon_domains,
    .read = hwmon_read,
    .close = hwmon_close,
};
