/*
 * procfs, sysfs and cgroup v2 parsing for attribution. Files are small and
 * read whole; a file that vanishes between the listing and the reading (a
 * process that exited) is no error, only absent.
 */
#include "attrib_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPUS_MAX 65536

/* Read a procfs file whole (its stat size is 0): malloc'd, NUL-terminated. */
static int read_whole(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return err > 0 ? -err : -EIO;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			close(fd);
			return -ENOMEM;
		}
		if (len + 1 >= cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			err = err > 0 ? -err : -EIO;
			free(buf);
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static int join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void jst_attr_cpus_free(struct jst_attr_cpus *c)
{
	free(c->busy);
	free(c->online);
	c->busy = NULL;
	c->online = NULL;
	c->n = 0;
}

/* Parse up to max unsigned fields after p; the count parsed. */
static int fields(const char *p, uint64_t *f, int max)
{
	int n = 0;
	while (n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			break;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno)
			break;
		f[n++] = v;
		p = end;
	}
	return n;
}

int jst_attr_cpus_parse(const char *text, struct jst_attr_cpus *out, char *why, size_t len)
{
	jst_attr_cpus_free(out);
	size_t cap = 0;
	for (const char *line = text; line && *line;) {
		const char *next = strchr(line, '\n');
		if (!strncmp(line, "cpu", 3) && isdigit((unsigned char)line[3])) {
			char *end;
			unsigned long cpu = strtoul(line + 3, &end, 10);
			uint64_t f[8] = {0};
			/* user nice system idle iowait irq softirq steal: at least four */
			if (cpu < CPUS_MAX && fields(end, f, 8) >= 4) {
				if (cpu >= cap) {
					size_t ncap = cap ? cap : 64;
					while (ncap <= cpu)
						ncap *= 2;
					uint64_t *b = calloc(ncap, sizeof *b);
					unsigned char *o = calloc(ncap, 1);
					if (!b || !o) {
						free(b);
						free(o);
						jst_attr_cpus_free(out);
						snprintf(why, len, "out of memory");
						return -ENOMEM;
					}
					if (cap) {
						memcpy(b, out->busy, cap * sizeof *b);
						memcpy(o, out->online, cap);
					}
					free(out->busy);
					free(out->online);
					out->busy = b;
					out->online = o;
					cap = ncap;
				}
				out->busy[cpu] = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
				out->online[cpu] = 1;
				if (cpu + 1 > out->n)
					out->n = cpu + 1;
			}
		}
		line = next ? next + 1 : NULL;
	}
	if (out->n == 0) {
		snprintf(why, len, "no per-CPU 'cpuN' line");
		return -EINVAL;
	}
	return 0;
}

int jst_attr_cpus_read(const char *procfs, struct jst_attr_cpus *out, char *why, size_t len)
{
	char path[4096];
	char *text = NULL;
	int rc = join(path, sizeof path, procfs, "stat");
	if (!rc)
		rc = read_whole(path, &text);
	if (rc) {
		snprintf(why, len, "cannot read %.200s: %s", path, strerror(-rc));
		return rc;
	}
	rc = jst_attr_cpus_parse(text, out, why, len);
	free(text);
	return rc;
}

unsigned jst_attr_topo_read(const char *sysfs, int *pkg, size_t n)
{
	unsigned npkg = 1;
	for (size_t c = 0; c < n; c++) {
		char path[4096], *text = NULL;
		pkg[c] = 0;
		int w =
		    snprintf(path, sizeof path,
		             "%s/devices/system/cpu/cpu%zu/topology/physical_package_id", sysfs, c);
		if (w < 0 || (size_t)w >= sizeof path || read_whole(path, &text))
			continue;
		char *end;
		long v = strtol(text, &end, 10);
		if (end != text && v >= 0 && v < 4096) {
			pkg[c] = (int)v;
			if ((unsigned)v + 1 > npkg)
				npkg = (unsigned)v + 1;
		}
		free(text);
	}
	return npkg;
}

int jst_attr_pid_parse(const char *text, struct jst_attr_pid *out)
{
	*out = (struct jst_attr_pid){0};
	char *end;
	long pid = strtol(text, &end, 10);
	const char *rp = strrchr(text, ')');
	if (end == text || pid <= 0 || !rp || rp < end)
		return -EINVAL;
	/* After ") ": state is field 3; the numbers we need, by field number. */
	const char *p = rp + 1;
	while (*p == ' ')
		p++;
	if (!*p || *p == ' ')
		return -EINVAL;
	p++; /* the state letter */
	uint64_t f[40] = {0};
	int n = 0;
	/* Fields 4.. are numbers; some (priority, nice) may be negative. */
	while (n < 36) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		/* rsslim is 2^64 - 1 when unlimited: unsigned, unless signed. */
		errno = 0;
		uint64_t v = *p == '-' ? (strtoll(p, &end, 10), 0) : strtoull(p, &end, 10);
		if (end == p || errno)
			break;
		f[n++] = v;
		p = end;
	}
	/* field k is f[k - 4] */
	if (n < 39 - 3)
		return -EINVAL;
	out->pid = (pid_t)pid;
	out->ppid = (pid_t)f[4 - 4];
	out->utime = f[14 - 4];
	out->stime = f[15 - 4];
	out->cutime = f[16 - 4];
	out->cstime = f[17 - 4];
	out->starttime = f[22 - 4];
	out->processor = (int)f[39 - 4];
	return 0;
}

int jst_attr_pid_read(const char *procfs, pid_t pid, struct jst_attr_pid *out)
{
	char path[4096], *text = NULL;
	int w = snprintf(path, sizeof path, "%s/%ld/stat", procfs, (long)pid);
	if (w < 0 || (size_t)w >= sizeof path)
		return -ENAMETOOLONG;
	int rc = read_whole(path, &text);
	if (rc)
		return rc == -ESRCH ? -ENOENT : rc;
	rc = jst_attr_pid_parse(text, out);
	free(text);
	return rc;
}

int jst_attr_pids_scan(const char *procfs, struct jst_attr_pid **out, size_t *n)
{
	DIR *d = opendir(procfs);
	if (!d)
		return -errno;
	size_t cap = 256, len = 0;
	struct jst_attr_pid *v = malloc(cap * sizeof *v);
	struct dirent *e;
	while (v && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (len == cap) {
			struct jst_attr_pid *nv = realloc(v, cap * 2 * sizeof *v);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
			cap *= 2;
		}
		if (jst_attr_pid_read(procfs, (pid_t)pid, &v[len]) == 0)
			len++;
	}
	closedir(d);
	if (!v)
		return -ENOMEM;
	*out = v;
	*n = len;
	return 0;
}

int jst_attr_cgroup_usage(const char *cgroup_root, const char *path, uint64_t *usec)
{
	char file[4096], *text = NULL;
	path += strspn(path, "/");
	int w = snprintf(file, sizeof file, "%s/%s%scpu.stat", cgroup_root, path, *path ? "/" : "");
	if (w < 0 || (size_t)w >= sizeof file)
		return -ENAMETOOLONG;
	int rc = read_whole(file, &text);
	if (rc || !text)
		return rc ? rc : -EIO;
	rc = -EINVAL;
	for (const char *line = text; line && *line;) {
		if (!strncmp(line, "usage_usec ", 11)) {
			uint64_t v;
			if (fields(line + 11, &v, 1) == 1) {
				*usec = v;
				rc = 0;
			}
			break;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	free(text);
	return rc;
}

int jst_attr_cgroup_pids(const char *cgroup_root, const char *path, pid_t **out, size_t *n)
{
	char file[4096], *text = NULL;
	path += strspn(path, "/");
	int w =
	    snprintf(file, sizeof file, "%s/%s%scgroup.procs", cgroup_root, path, *path ? "/" : "");
	if (w < 0 || (size_t)w >= sizeof file)
		return -ENAMETOOLONG;
	int rc = read_whole(file, &text);
	if (rc || !text)
		return rc ? rc : -EIO;
	size_t cap = 16, len = 0;
	pid_t *v = malloc(cap * sizeof *v);
	for (char *p = text; v && *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p) {
			p++;
			continue;
		}
		p = end;
		if (pid <= 0)
			continue;
		if (len == cap) {
			pid_t *nv = realloc(v, cap * 2 * sizeof *v);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
			cap *= 2;
		}
		v[len++] = (pid_t)pid;
	}
	free(text);
	if (!v)
		return -ENOMEM;
	*out = v;
	*n = len;
	return 0;
}

double jst_attr_hz(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? (double)hz : 100.0;
}
