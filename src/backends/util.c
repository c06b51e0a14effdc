/* Small I/O helpers every sysfs/procfs backend shares. */
#include "backend.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *jst_backend_option(const struct jst_backend_ctx *ctx, const char *key, const char *dflt)
{
	size_t n = strlen(key);
	for (const char *p = ctx ? ctx->options : NULL; p && *p; p += strlen(p) + 1)
		if (!strncmp(p, key, n) && p[n] == '=')
			return p + n + 1;
	return dflt;
}

char *jst_path_join(char *buf, size_t len, const char *root, const char *rel)
{
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	while (*rel == '/')
		rel++;
	int n = snprintf(buf, len, "%.*s/%s", (int)rl, root, rel);
	if (n < 0 || (size_t)n >= len)
		return NULL;
	return buf;
}

int jst_file_read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, buf, len - 1, 0);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return (int)n;
}

int jst_parse_u64(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t v = 0;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return -EINVAL;
	*out = v;
	return 0;
}

int jst_fd_read_u64(int fd, uint64_t *out)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return jst_parse_u64(buf, out);
}

int64_t jst_backend_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void jst_raw_stamp(struct jst_raw *raw, int64_t t0, int64_t t1)
{
	raw->t_ns = t0 + (t1 - t0) / 2;
	raw->t_err_ns = (t1 - t0) / 2;
}

void jst_raw_clear(struct jst_raw *raw)
{
	raw->status = 0;
	raw->t_ns = 0;
	raw->t_err_ns = 0;
	raw->counter = 0;
	raw->power_w = NAN;
	raw->temperature_c = NAN;
	raw->utilization_pct = NAN;
	raw->clock_mhz = NAN;
	raw->power_limit_w = NAN;
	raw->telemetry_power_w = NAN;
	raw->unseen_u_j = 0;
	raw->unseen_s = 0;
	raw->refresh_s = 0;
	raw->gap_j = NAN;
	raw->error[0] = 0;
}

const char *jst_path_tail(const char *path, size_t max)
{
	size_t len = strlen(path);
	if (len <= max)
		return path;
	const char *tail = path + len - max;
	const char *slash = strchr(tail, '/');
	return slash ? slash : tail;
}

const char *jst_cpuinfo_value(const char *line, const char *key)
{
	size_t n = strlen(key);
	if (strncmp(line, key, n) != 0)
		return NULL;
	const char *p = line + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}
