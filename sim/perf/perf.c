/*
 * libjst-sim-perf: the rapl-perf backend's seam (src/backends/perf_ops.h)
 * served from jst-sim-powercap's --perf directory instead of the kernel, so
 * that tests run the backend's real code without CAP_PERFMON. Loaded through
 * JOULESTAT_PERF_LIBRARY; the directory comes from JSTSIM_PERF_DIR:
 *   DIR/type             the PMU type events must name
 *   DIR/refuse           present: every open fails with EACCES (paranoid kernel)
 *   DIR/cpuN/event-C     the count of event config C on CPU N, 8 bytes
 */
#include "perf_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sim_open(uint32_t type, uint64_t config, int cpu)
{
	const char *dir = getenv("JSTSIM_PERF_DIR");
	char path[4096], text[32];
	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof path, "%s/refuse", dir);
	if (access(path, F_OK) == 0)
		return -EACCES;
	snprintf(path, sizeof path, "%s/type", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = 0;
	if (strtoul(text, NULL, 10) != type)
		return -ENOENT; /* the kernel: no such PMU */
	snprintf(path, sizeof path, "%s/cpu%d/event-%llu", dir, cpu, (unsigned long long)config);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int sim_read(int fd, uint64_t *count)
{
	ssize_t r = pread(fd, count, sizeof *count, 0);
	if (r < 0)
		return -errno;
	return r == (ssize_t)sizeof *count ? 0 : -EIO;
}

static void sim_close(int fd)
{
	close(fd);
}

__attribute__((visibility("default")))
const struct jst_perf_ops jst_perf_ops = {sim_open, sim_read, sim_close};
