/*
 * procfs parsing for the estimate backend: CPU time from /proc/stat (see
 * proc(5)) and the model and topology from /proc/cpuinfo. Everything here is
 * pure text handling except the two readers at the end, so tests can feed it
 * any text.
 */
#include "estimate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fields of the aggregate line, in kernel order. */
enum { F_USER, F_NICE, F_SYSTEM, F_IDLE, F_IOWAIT, F_IRQ, F_SOFTIRQ, F_STEAL, F_NFIELDS };
#define STAT_MIN_FIELDS 4 /* user nice system idle: every kernel since 2.4 */

/* A short, printable excerpt of bad input for an error message. */
static void quote(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src[i] && src[i] != '\n' && i + 1 < len && i < 24; i++)
		dst[i] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[i] = 0;
}

static int add_u64(uint64_t *acc, uint64_t v)
{
	if (*acc > UINT64_MAX - v)
		return -ERANGE;
	*acc += v;
	return 0;
}

int jst_proc_stat_ticks_parse(const char *line, struct jst_cpu_ticks *out, char *why,
                              size_t why_len)
{
	char q[32];
	uint64_t f[F_NFIELDS] = {0};
	if (strncmp(line, "cpu", 3) != 0 || (line[3] != ' ' && line[3] != '\t')) {
		quote(q, sizeof q, line);
		snprintf(why, why_len, "no aggregate 'cpu ' line (found '%s')", q);
		return -EINVAL;
	}
	const char *p = line + 3;
	int n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n' || *p == '\r')
			break;
		if (!isdigit((unsigned char)*p)) {
			quote(q, sizeof q, p);
			snprintf(why, why_len, "'cpu ' line field %d is not a number: '%s'", n + 1,
			         q);
			return -EINVAL;
		}
		uint64_t v = 0;
		for (; isdigit((unsigned char)*p); p++) {
			unsigned d = (unsigned)(*p - '0');
			if (v > (UINT64_MAX - d) / 10) {
				snprintf(why, why_len, "'cpu ' line field %d overflows", n + 1);
				return -ERANGE;
			}
			v = v * 10 + d;
		}
		if (*p && !isspace((unsigned char)*p)) {
			quote(q, sizeof q, p);
			snprintf(why, why_len, "'cpu ' line field %d has trailing '%s'", n + 1, q);
			return -EINVAL;
		}
		if (n < F_NFIELDS)
			f[n] = v;
		n++; /* fields past steal (guest, guest_nice, future ones) are not needed */
	}
	if (n < STAT_MIN_FIELDS) {
		snprintf(why, why_len, "'cpu ' line has %d fields, expected at least %d", n,
		         STAT_MIN_FIELDS);
		return -EINVAL;
	}
	/* Checked sums: garbage that parses as huge numbers must not wrap into
	 * plausible ones. */
	static const int busy_fields[] = {F_USER, F_NICE, F_SYSTEM, F_IRQ, F_SOFTIRQ, F_STEAL};
	uint64_t busy = 0, total;
	int rc = 0;
	for (size_t i = 0; i < sizeof busy_fields / sizeof busy_fields[0] && !rc; i++)
		rc = add_u64(&busy, f[busy_fields[i]]);
	total = busy;
	if (!rc)
		rc = add_u64(&total, f[F_IDLE]);
	if (!rc)
		rc = add_u64(&total, f[F_IOWAIT]);
	if (rc) {
		snprintf(why, why_len, "'cpu ' line sums overflow 64 bits");
		return -ERANGE;
	}
	out->busy = busy;
	out->total = total;
	return 0;
}

/* "cpu12 ..." counts; "cpu ..." (the aggregate) and "cpufreq" would not. */
static int is_cpu_n_line(const char *line)
{
	if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3]))
		return 0;
	const char *p = line + 3;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == ' ' || *p == '\t';
}

int jst_proc_stat_parse(const char *text, struct jst_cpu_ticks *ticks, unsigned *ncpu, char *why,
                        size_t why_len)
{
	int rc = jst_proc_stat_ticks_parse(text, ticks, why, why_len);
	if (rc < 0)
		return rc;
	unsigned n = 0;
	for (const char *line = text; line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		n += is_cpu_n_line(line);
	if (n == 0) {
		snprintf(why, why_len, "no 'cpuN' lines: cannot count the CPUs");
		return -EINVAL;
	}
	*ncpu = n;
	return 0;
}

/* ---- cpuinfo ------------------------------------------------------------------ */

#define ID_NONE UINT64_MAX

struct id_set {
	uint64_t *v;
	size_t n, cap;
	int oom;
};

static void id_set_add(struct id_set *s, uint64_t v)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == v)
			return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint64_t *nv = realloc(s->v, cap * sizeof *nv);
		if (!nv) {
			s->oom = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static uint64_t cpuinfo_id(const char *v)
{
	char *end;
	if (!isdigit((unsigned char)*v))
		return ID_NONE;
	unsigned long long x = strtoull(v, &end, 10);
	return x > UINT32_MAX ? ID_NONE : (uint64_t)x;
}

static int flags_have(const char *v, const char *flag, size_t line_len)
{
	size_t fl = strlen(flag);
	const char *end = v + line_len;
	for (const char *p = v; p + fl <= end; p++) {
		if ((p == v || p[-1] == ' ' || p[-1] == '\t') && !strncmp(p, flag, fl) &&
		    (p + fl == end || p[fl] == ' ' || p[fl] == '\t'))
			return 1;
	}
	return 0;
}

/* One "processor" block ends: record its socket and core. */
static void cpuinfo_block_end(struct id_set *sockets, struct id_set *cores, uint64_t *phys,
                              uint64_t *core)
{
	if (*phys != ID_NONE) {
		id_set_add(sockets, *phys);
		if (*core != ID_NONE)
			id_set_add(cores, *phys << 32 | *core);
	}
	*phys = *core = ID_NONE;
}

void jst_proc_cpuinfo_parse(const char *text, struct jst_cpuinfo *out)
{
	struct id_set sockets = {0}, cores = {0};
	uint64_t phys = ID_NONE, core = ID_NONE;
	*out = (struct jst_cpuinfo){.sockets = 1};

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *v;
		if (len == 0 || jst_cpuinfo_value(line, "processor"))
			cpuinfo_block_end(&sockets, &cores, &phys, &core);
		if ((v = jst_cpuinfo_value(line, "model name")) && !out->model[0]) {
			size_t vl = len - (size_t)(v - line);
			while (vl && isspace((unsigned char)v[vl - 1]))
				vl--;
			if (vl >= sizeof out->model)
				vl = sizeof out->model - 1;
			memcpy(out->model, v, vl);
			out->model[vl] = 0;
		} else if ((v = jst_cpuinfo_value(line, "physical id"))) {
			phys = cpuinfo_id(v);
		} else if ((v = jst_cpuinfo_value(line, "core id"))) {
			core = cpuinfo_id(v);
		} else if ((v = jst_cpuinfo_value(line, "flags"))) {
			out->hypervisor |= flags_have(v, "hypervisor", len - (size_t)(v - line));
		}
		line = nl ? nl + 1 : NULL;
	}
	cpuinfo_block_end(&sockets, &cores, &phys, &core);

	/* Out of memory only loses topology: the defaults are still a model. */
	if (!sockets.oom && sockets.n > 0)
		out->sockets = (unsigned)sockets.n;
	if (!cores.oom)
		out->cores = (unsigned)cores.n;
	free(sockets.v);
	free(cores.v);
}

/* ---- readers ------------------------------------------------------------------ */

/* procfs reports size 0, and cpuinfo on a large machine is megabytes: grow. */
#define PROC_FILE_MAX (64u << 20)

int jst_proc_file_read(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	int rc = buf ? 0 : -ENOMEM;
	while (!rc) {
		if (cap - len < 4096) {
			char *nb = cap < PROC_FILE_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				rc = cap < PROC_FILE_MAX ? -ENOMEM : -EFBIG;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		else if (r == 0)
			break;
		else
			len += (size_t)r;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[len] = 0;
	*out = buf;
	return (int)len; /* at most PROC_FILE_MAX */
}

/* The aggregate line is about 100 characters and always the first. Opening
 * the file anew each time (rather than keeping it open) costs a few
 * microseconds next to the kernel's formatting of /proc/stat, and keeps test
 * fixtures that are replaced by rename(2) working. */
int jst_proc_stat_read(const char *path, struct jst_cpu_ticks *out, char *why, size_t why_len)
{
	char buf[1024], inner[JST_NOTE_MAX];
	const char *tail = jst_path_tail(path, 60);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_len, "%s: %s", tail, strerror(e));
		return -e;
	}
	ssize_t r;
	do
		r = read(fd, buf, sizeof buf - 1);
	while (r < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (r < 0) {
		snprintf(why, why_len, "%s: %s", tail, strerror(e));
		return -e;
	}
	buf[r] = 0;
	if (!memchr(buf, '\n', (size_t)r) && (size_t)r == sizeof buf - 1) {
		snprintf(why, why_len, "%s: first line longer than %zu bytes", tail,
		         sizeof buf - 1);
		return -EINVAL;
	}
	int rc = jst_proc_stat_ticks_parse(buf, out, inner, sizeof inner);
	if (rc < 0)
		snprintf(why, why_len, "%s: %s", tail, inner);
	return rc;
}
