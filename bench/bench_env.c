#include "bench_env.h"

#include "bench_spawn.h"
#include "bench_stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_SIM_POWERCAP
#define BENCH_SIM_POWERCAP NULL
#endif
#ifndef BENCH_SIM_NVML
#define BENCH_SIM_NVML NULL
#endif
#ifndef BENCH_JOULESTAT
#define BENCH_JOULESTAT NULL
#endif

static const char *pick(const char *env, const char *built)
{
	const char *v = getenv(env);
	if (v && *v)
		return v;
	return built && access(built, F_OK) == 0 ? built : NULL;
}

const char *bench_sim_powercap(void)
{
	return pick("SIM_POWERCAP", BENCH_SIM_POWERCAP);
}

const char *bench_sim_nvml(void)
{
	return pick("SIM_NVML", BENCH_SIM_NVML);
}

const char *bench_joulestat(void)
{
	return pick("JOULESTAT", BENCH_JOULESTAT);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int bench_powercap_start(struct bench_powercap *s, int packages, const char *trace)
{
	const char *sim = bench_sim_powercap();
	*s = (struct bench_powercap){.pid = -1};
	if (!sim) {
		fprintf(stderr, "bench: no powercap simulator (set SIM_POWERCAP)\n");
		return -ENOENT;
	}
	snprintf(s->dir, sizeof s->dir, "/tmp/jst-bench-XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	snprintf(s->root, sizeof s->root, "%s/sys", s->dir);
	char ready[128], log[128], npk[16];
	snprintf(ready, sizeof ready, "%s/ready", s->dir);
	snprintf(log, sizeof log, "%s/sim.log", s->dir);
	snprintf(npk, sizeof npk, "%d", packages);
	mkdir(s->root, 0755);
	char *argv[] = {(char *)sim, "--root",      s->root,   "--packages", npk,
	                "--trace",   (char *)trace, "--ready", ready,        NULL};
	s->pid = bench_spawn(argv, NULL, log);
	/* Generous: the machine is shared and may be busy. */
	for (int i = 0; i < 3000; i++) {
		if (access(ready, F_OK) == 0)
			return 0;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			break;
		}
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	char text[512] = "";
	FILE *f = fopen(log, "r");
	if (f) {
		text[fread(text, 1, sizeof text - 1, f)] = 0;
		fclose(f);
	}
	fprintf(stderr, "bench: powercap simulator did not get ready: %s\n", text);
	bench_powercap_stop(s);
	return -EIO;
}

void bench_powercap_stop(struct bench_powercap *s)
{
	bench_stop(s->pid, 2000);
	s->pid = -1;
	if (s->dir[0])
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = 0;
}

void bench_nvml_env(unsigned gpus, const char *trace)
{
	char n[16];
	snprintf(n, sizeof n, "%u", gpus);
	setenv("JSTSIM_NVML_GPUS", n, 1);
	setenv("JSTSIM_NVML_TRACE", trace, 1);
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t bench_rapl_open(const char *root, int *fds, char (*names)[64], size_t max)
{
	char base[256], path[512], zname[64];
	snprintf(base, sizeof base, "%s/class/powercap", root);
	DIR *d = opendir(base);
	if (!d)
		return 0;
	char *zones[64];
	size_t nz = 0;
	for (struct dirent *e; (e = readdir(d)) && nz < 64;)
		if (!strncmp(e->d_name, "intel-rapl:", 11))
			zones[nz++] = strdup(e->d_name);
	closedir(d);
	qsort(zones, nz, sizeof *zones, cmp_name);

	size_t n = 0;
	for (size_t i = 0; i < nz; i++) {
		unsigned pkg = 0;
		sscanf(zones[i], "intel-rapl:%u", &pkg);
		snprintf(path, sizeof path, "%s/%s/name", base, zones[i]);
		if (n < max && read_small(path, zname, sizeof zname) == 0) {
			snprintf(path, sizeof path, "%s/%s/energy_uj", base, zones[i]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				/* Subzones are named "core", "dram": joulestat adds the package. */
				if (strchr(zones[i] + 11, ':'))
					snprintf(names[n], 64, "%.40s-%u", zname, pkg);
				else
					snprintf(names[n], 64, "%s", zname);
				fds[n++] = fd;
			}
		}
		free(zones[i]);
	}
	return n;
}

unsigned long long bench_rapl_read(const int *fds, size_t n)
{
	unsigned long long sum = 0;
	char buf[32];
	for (size_t i = 0; i < n; i++) {
		ssize_t r = pread(fds[i], buf, sizeof buf - 1, 0);
		if (r > 0) {
			buf[r] = 0;
			sum += strtoull(buf, NULL, 10);
		}
	}
	return sum;
}
