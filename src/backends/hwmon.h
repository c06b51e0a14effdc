/*
 * What the hwmon and jetson backends share: walking <sysfs>/class/hwmon, a
 * growable table of domains with the file each one reads, and reading a
 * sensor file on the hot path.
 */
#ifndef JST_HWMON_H
#define JST_HWMON_H

#include "backend.h"

/* How a domain's value is formed from its files. */
enum jst_rail_read {
	JST_RAIL_COUNTER_UJ, /* fd[0]: energy in uJ -> counter */
	JST_RAIL_POWER,      /* fd[0]: power in `scale` W per unit */
	JST_RAIL_VOLT_CURR,  /* fd[0] mV x fd[1] mA */
};

struct jst_rail {
	enum jst_rail_read how;
	int fd[2];
	double scale; /* JST_RAIL_POWER: watts per unit (1e-6 for uW, 1e-3 for mW) */
	char *path;   /* fd[0]'s file, for errors */
};

struct jst_rail_table {
	struct jst_domain_desc *desc;
	struct jst_rail *rail;
	size_t n, cap;
};

/* Call fn(dir, name, arg) for each <sysfs>/class/hwmon/hwmonN in numeric order
 * (name: its `name` file, "" when absent). Stops at and returns fn's first
 * nonzero result; 0 when all ran, -ENOENT when there is no class/hwmon. */
int jst_hwmon_each(const char *sysfs_root, int (*fn)(const char *dir, const char *name, void *arg),
                   void *arg);

/* A sensor attribute of dir as text ("" and negative errno when unreadable). */
int jst_hwmon_attr(const char *dir, const char *attr, char *buf, size_t len);
/* A sensor attribute as an unsigned number; negative errno when absent or not one. */
int jst_hwmon_attr_u64(const char *dir, const char *attr, uint64_t *out);

/* Append a domain reading dir/file (and dir/file2 for VOLT_CURR): opens them
 * and reads them once. Returns the new domain (zeroed except the rail) or
 * NULL with *err set. */
struct jst_domain_desc *jst_rail_add(struct jst_rail_table *t, enum jst_rail_read how,
                                     const char *dir, const char *file, const char *file2,
                                     double scale, int *err);
/* Read every rail into out (counter or power_w). */
void jst_rail_read_all(const struct jst_rail_table *t, struct jst_raw *out, size_t n);
void jst_rail_table_free(struct jst_rail_table *t);

/* Copy s into a domain name, spaces and slashes as '_'. */
void jst_rail_name(char *dst, size_t len, const char *s);

#endif
