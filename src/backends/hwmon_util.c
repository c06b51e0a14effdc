/* hwmon walking and the rail table the hwmon and jetson backends share (hwmon.h). */
#include "hwmon.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int num_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int jst_hwmon_each(const char *sysfs_root, int (*fn)(const char *dir, const char *name, void *arg),
                   void *arg)
{
	char base[4096];
	if (!jst_path_join(base, sizeof base, sysfs_root, "class/hwmon"))
		return -ENAMETOOLONG;
	DIR *d = opendir(base);
	if (!d)
		return -errno;
	long *nums = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		if (strncmp(e->d_name, "hwmon", 5) != 0 || !isdigit((unsigned char)e->d_name[5]))
			continue;
		long k = strtol(e->d_name + 5, &end, 10);
		if (*end)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			long *v = realloc(nums, cap * sizeof *v);
			if (!v) {
				free(nums);
				closedir(d);
				return -ENOMEM;
			}
			nums = v;
		}
		nums[n++] = k;
	}
	closedir(d);
	if (n)
		qsort(nums, n, sizeof *nums, num_cmp);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		char dir[4200], name[64];
		snprintf(dir, sizeof dir, "%s/hwmon%ld", base, nums[i]);
		if (jst_hwmon_attr(dir, "name", name, sizeof name) < 0)
			name[0] = 0;
		rc = fn(dir, name, arg);
	}
	free(nums);
	return rc;
}

int jst_hwmon_attr(const char *dir, const char *attr, char *buf, size_t len)
{
	char path[4096];
	buf[0] = 0;
	if (!jst_path_join(path, sizeof path, dir, attr))
		return -ENAMETOOLONG;
	int r = jst_file_read_text(path, buf, len);
	if (r < 0)
		buf[0] = 0;
	return r;
}

int jst_hwmon_attr_u64(const char *dir, const char *attr, uint64_t *out)
{
	char text[64];
	int r = jst_hwmon_attr(dir, attr, text, sizeof text);
	if (r < 0)
		return r;
	return jst_parse_u64(text, out) < 0 ? -EINVAL : 0;
}

static int rail_open(const char *dir, const char *file, char **path_out)
{
	char path[4096];
	if (!jst_path_join(path, sizeof path, dir, file))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint64_t v;
	int r = jst_fd_read_u64(fd, &v);
	if (r < 0) {
		close(fd);
		return r == -EINVAL ? -EIO : r;
	}
	if (path_out && !(*path_out = strdup(path))) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

struct jst_domain_desc *jst_rail_add(struct jst_rail_table *t, enum jst_rail_read how,
                                     const char *dir, const char *file, const char *file2,
                                     double scale, int *err)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct jst_domain_desc *d = realloc(t->desc, cap * sizeof *d);
		if (!d) {
			*err = -ENOMEM;
			return NULL;
		}
		t->desc = d;
		struct jst_rail *r = realloc(t->rail, cap * sizeof *r);
		if (!r) {
			*err = -ENOMEM;
			return NULL;
		}
		t->rail = r;
		t->cap = cap;
	}
	struct jst_rail r = {.how = how, .fd = {-1, -1}, .scale = scale};
	int fd = rail_open(dir, file, &r.path);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	r.fd[0] = fd;
	if (file2 && (r.fd[1] = rail_open(dir, file2, NULL)) < 0) {
		*err = r.fd[1];
		close(r.fd[0]);
		free(r.path);
		return NULL;
	}
	t->rail[t->n] = r;
	struct jst_domain_desc *d = &t->desc[t->n++];
	memset(d, 0, sizeof *d);
	d->parent = -1;
	return d;
}

void jst_rail_read_all(const struct jst_rail_table *t, struct jst_raw *out, size_t n)
{
	if (n > t->n)
		n = t->n;
	for (size_t i = 0; i < n; i++) {
		const struct jst_rail *r = &t->rail[i];
		uint64_t a = 0, b = 0;
		int rc = jst_fd_read_u64(r->fd[0], &a);
		if (!rc && r->how == JST_RAIL_VOLT_CURR)
			rc = jst_fd_read_u64(r->fd[1], &b);
		if (rc < 0) {
			out[i].status = rc == -EINVAL ? -EIO : rc;
			snprintf(out[i].error, sizeof out[i].error, "%s: %s",
			         jst_path_tail(r->path, 100),
			         rc == -EINVAL ? "not a number" : strerror(-rc));
			continue;
		}
		switch (r->how) {
		case JST_RAIL_COUNTER_UJ:
			out[i].counter = a;
			break;
		case JST_RAIL_POWER:
			out[i].power_w = (double)a * r->scale;
			break;
		case JST_RAIL_VOLT_CURR:
			out[i].power_w = (double)a * (double)b * 1e-6; /* mV x mA */
			break;
		}
	}
}

void jst_rail_table_free(struct jst_rail_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (int k = 0; k < 2; k++)
			if (t->rail[i].fd[k] >= 0)
				close(t->rail[i].fd[k]);
		free(t->rail[i].path);
	}
	free(t->desc);
	free(t->rail);
	*t = (struct jst_rail_table){0};
}

void jst_rail_name(char *dst, size_t len, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++)
		dst[i] = (s[i] == ' ' || s[i] == '/' || !isprint((unsigned char)s[i])) ? '_' : s[i];
	dst[i] = 0;
}
