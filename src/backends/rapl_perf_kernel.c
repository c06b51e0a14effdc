/* The rapl-perf backend's default seam: the perf_event_open(2) system call. */
#include "perf_ops.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int kernel_open(uint32_t type, uint64_t config, int cpu)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.type = type;
	attr.size = sizeof attr;
	attr.config = config;
	/* pid -1 with a cpu: every process on that CPU, which is how the power PMU
	 * counts (it refuses per-task events). */
	long fd = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

static int kernel_read(int fd, uint64_t *count)
{
	/* A perf fd has no file position: read, not pread. */
	ssize_t r = read(fd, count, sizeof *count);
	if (r < 0)
		return -errno;
	return r == (ssize_t)sizeof *count ? 0 : -EIO;
}

static void kernel_close(int fd)
{
	close(fd);
}

const struct jst_perf_ops jst_perf_ops_kernel = {kernel_open, kernel_read, kernel_close};
