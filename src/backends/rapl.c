/*
 * RAPL through the Linux powercap sysfs tree (<sysfs>/class/powercap). The
 * kernel's intel_rapl_common driver serves Intel and AMD alike; it already
 * scales the MSR counter to microjoules, so every zone is a wrapping uJ
 * counter with its own range. Zone discovery is in rapl_zones.c; notes on
 * permissions, duplicates and accuracy in docs/backends/rapl.md.
 */
#include "rapl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- ops ------------------------------------------------------------------------ */

static void rapl_close(void *state)
{
	struct rapl_state *st = state;
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		if (st->zone[i].fd >= 0)
			close(st->zone[i].fd);
		free(st->zone[i].path);
	}
	free(st->desc);
	free(st->zone);
	free(st);
}

static int rapl_probe(const struct jst_backend_ctx *ctx, void **state, char *reason,
                      size_t reason_len)
{
	char powercap[4096];
	const char *root = jst_backend_option(ctx, "sysfs.root", "/sys");
	if (!jst_path_join(powercap, sizeof powercap, root, "class/powercap")) {
		snprintf(reason, reason_len, "sysfs root too long: %s", root);
		return -ENAMETOOLONG;
	}
	struct rapl_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	reason[0] = 0;
	int rc = jst_rapl_zones_discover(powercap, st, reason, reason_len);
	if (rc >= 0 && st->n == 0) {
		snprintf(
		    reason, reason_len,
		    "no RAPL powercap zones under %s: not an Intel/AMD CPU with RAPL, kernel "
		    "module intel_rapl_common not loaded (modprobe intel_rapl_msr), or running "
		    "in a VM/container without /sys/class/powercap",
		    powercap);
		rc = -ENODEV;
	}
	if (rc < 0) {
		rapl_close(st);
		return rc;
	}
	*state = st;
	return 0;
}

static size_t rapl_domains(void *state, const struct jst_domain_desc **out)
{
	struct rapl_state *st = state;
	*out = st->desc;
	return st->n;
}

/* One pread per zone and a parse: nothing else on the sampler's hot path. */
static int rapl_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct rapl_state *st = state;
	(void)flags; /* powercap has no telemetry beyond energy */
	if (n > st->n)
		n = st->n;
	/* Each read's end is the next one's start: one clock read per zone. */
	int64_t t0 = jst_backend_now_ns();
	for (size_t i = 0; i < n; i++) {
		char text[32], q[24];
		ssize_t r = pread(st->zone[i].fd, text, sizeof text - 1, 0);
		int64_t t1 = jst_backend_now_ns();
		jst_raw_stamp(&out[i], t0, t1);
		t0 = t1;
		if (r < 0) {
			out[i].status = -errno;
			snprintf(out[i].error, sizeof out[i].error, "%s: %s",
			         jst_path_tail(st->zone[i].path, 110), strerror(errno));
			continue;
		}
		text[r] = 0;
		if (jst_parse_u64(text, &out[i].counter) < 0) {
			jst_rapl_quote(q, sizeof q, text);
			out[i].status = -EIO;
			snprintf(out[i].error, sizeof out[i].error, "%s holds '%s'",
			         jst_path_tail(st->zone[i].path, 110), q);
		}
	}
	return 0;
}

/* The kernel never replaces energy_uj, but a container runtime or a test tree
 * may: the descriptor then reads a file nobody writes any more. */
static int rapl_reopen(void *state, size_t i)
{
	struct rapl_state *st = state;
	if (i >= st->n)
		return -EINVAL;
	int fd = open(st->zone[i].path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(st->zone[i].fd);
	st->zone[i].fd = fd;
	return 0;
}

static const struct jst_option_desc rapl_options[] = {
    {"sysfs.root", "JOULESTAT_SYSFS_ROOT", "/sys", "the directory sysfs is mounted on"},
    {0},
};

const struct jst_backend_ops jst_backend_rapl = {
    .name = "rapl",
    .options = rapl_options,
    .description = "CPU package, core, uncore, DRAM and psys energy counters (Linux powercap "
                   "sysfs)",
    .accuracy = 0.05,
    .probe = rapl_probe,
    .domains = rapl_domains,
    .read = rapl_read,
    .stamps = 1,
    .close = rapl_close,
    .reopen = rapl_reopen,
};
