/*
 * The estimate backend: CPU energy modelled as TDP x utilisation, for machines
 * where nothing measures the CPU. It is a model, not a measurement (about
 * 20-30% off; docs/backends/estimate.md says why and when it is used).
 *
 * It is presented to the core as a counter, so the core's arithmetic applies
 * unchanged and no sampling error is added to the model's: the raw value is
 * the busy CPU time of all CPUs in clock ticks, and one tick of one CPU is
 * worth TDP_total / (ncpu x ticks per second) joules. Over any interval,
 * energy = TDP_total x (busy ticks / (ncpu x HZ x seconds)) x seconds, which
 * is TDP x utilisation x time exactly.
 */
#include "estimate.h"

#include "tdp_table.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ESTIMATE_ACCURACY 0.30
#define ESTIMATE_TDP_MAX_W 100000.0

struct est_state {
	char stat_path[PATH_MAX];
	struct jst_domain_desc desc;
	struct jst_cpu_ticks prev; /* for the utilisation telemetry */
	int have_prev;
};

/* ---- the model ------------------------------------------------------------ */

int jst_estimate_tdp_parse(const char *text, double *watts)
{
	char *end;
	if (!text)
		return -EINVAL;
	errno = 0;
	double w = strtod(text, &end);
	if (end == text || errno)
		return -EINVAL;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end || !isfinite(w) || !(w > 0) || w > ESTIMATE_TDP_MAX_W)
		return -EINVAL;
	*watts = w;
	return 0;
}

/* "2 x " before a per-package TDP on multi-socket machines, "" otherwise. */
static void sockets_prefix(char *buf, size_t len, unsigned sockets)
{
	if (sockets > 1)
		snprintf(buf, len, "%u x ", sockets);
	else
		buf[0] = 0;
}

/* 10 W per physical core, or per two logical CPUs where cpuinfo does not say
 * which CPUs share a core: roughly the TDP per core of server parts, and a
 * figure that grows with the machine rather than a constant that fits none. */
static void model_fallback(const struct jst_cpuinfo *ci, unsigned ncpu,
                           struct jst_estimate_model *out)
{
	char why[72], cores_text[40];
	unsigned cores = ci->cores;
	if (cores)
		snprintf(cores_text, sizeof cores_text, "%u cores", cores);
	else {
		cores = ncpu / 2 + ncpu % 2;
		if (!cores)
			cores = 1;
		snprintf(cores_text, sizeof cores_text, "%u cores (%u CPUs / 2)", cores, ncpu);
	}
	if (ci->hypervisor && ci->model[0])
		/* The table's TDP is for a whole host package, of which a VM has an
		 * unknown share: per core is closer. */
		snprintf(why, sizeof why, "virtual machine");
	else if (ci->model[0])
		snprintf(why, sizeof why, "'%.48s' not in TDP table", ci->model);
	else
		snprintf(why, sizeof why, "model unknown");
	out->tdp_total_w = (double)JST_ESTIMATE_FALLBACK_W_PER_CORE * cores;
	snprintf(out->note, sizeof out->note, "estimate: %s, %d W per core x %s fallback", why,
	         JST_ESTIMATE_FALLBACK_W_PER_CORE, cores_text);
}

int jst_estimate_model_choose(const struct jst_cpuinfo *ci, unsigned ncpu, const char *override,
                              struct jst_estimate_model *out, char *reason, size_t reason_len)
{
	char pre[24];
	unsigned sockets = ci->sockets ? ci->sockets : 1;
	double tdp;
	const char *matched;
	sockets_prefix(pre, sizeof pre, sockets);

	if (override && *override) {
		if (jst_estimate_tdp_parse(override, &tdp) < 0) {
			snprintf(reason, reason_len,
			         "%s='%.40s' is not a number of watts in (0, %g]: set it to the "
			         "TDP of one CPU package, or unset it",
			         JST_ESTIMATE_TDP_ENV, override, ESTIMATE_TDP_MAX_W);
			return -EINVAL;
		}
		out->tdp_total_w = tdp * sockets;
		snprintf(out->note, sizeof out->note,
		         "estimate: %s%g W TDP from %s x CPU utilisation", pre, tdp,
		         JST_ESTIMATE_TDP_ENV);
		return 0;
	}
	if (!ci->hypervisor && ci->model[0] && jst_tdp_lookup(ci->model, &tdp, &matched) == 0) {
		out->tdp_total_w = tdp * sockets;
		snprintf(out->note, sizeof out->note,
		         "estimate: %s%g W TDP (table: %s) x CPU utilisation", pre, tdp, matched);
		return 0;
	}
	model_fallback(ci, ncpu, out);
	return 0;
}

/* ---- ops ------------------------------------------------------------------ */

static void est_close(void *state)
{
	free(state);
}

/* Everything the model needs comes from procfs at probe: only the stat file
 * is essential; a missing cpuinfo leaves the fallback. */
static int est_probe(const struct jst_backend_ctx *ctx, void **state, char *reason,
                     size_t reason_len)
{
	const char *root = jst_backend_option(ctx, "procfs.root", "/proc");
	char cpuinfo_path[PATH_MAX], why[JST_NOTE_MAX];
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0) {
		snprintf(reason, reason_len, "sysconf(_SC_CLK_TCK) failed: no clock tick rate");
		return -EINVAL;
	}
	struct est_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	if (!jst_path_join(st->stat_path, sizeof st->stat_path, root, "stat") ||
	    !jst_path_join(cpuinfo_path, sizeof cpuinfo_path, root, "cpuinfo")) {
		snprintf(reason, reason_len, "procfs root too long: %.200s", root);
		free(st);
		return -ENAMETOOLONG;
	}

	char *text = NULL;
	int rc = jst_proc_file_read(st->stat_path, &text);
	if (rc < 0) {
		snprintf(reason, reason_len,
		         "cannot read %s: %s; the CPU estimate needs procfs (is /proc mounted? "
		         "is the procfs.root option (JOULESTAT_PROCFS_ROOT) right?)",
		         st->stat_path, strerror(-rc));
		free(st);
		return rc;
	}
	struct jst_cpu_ticks ticks;
	unsigned ncpu = 0;
	rc = jst_proc_stat_parse(text, &ticks, &ncpu, why, sizeof why);
	free(text);
	if (rc < 0) {
		snprintf(reason, reason_len, "%s is not in the proc(5) format: %s", st->stat_path,
		         why);
		free(st);
		return rc;
	}

	struct jst_cpuinfo ci;
	text = NULL;
	jst_proc_cpuinfo_parse(jst_proc_file_read(cpuinfo_path, &text) >= 0 ? text : "", &ci);
	free(text);

	struct jst_estimate_model model;
	/* An override: ignored in a privileged process (AT_SECURE), as config.c's. */
	rc = jst_estimate_model_choose(&ci, ncpu, secure_getenv(JST_ESTIMATE_TDP_ENV), &model,
	                               reason, reason_len);
	if (rc < 0) {
		free(st);
		return rc;
	}

	struct jst_domain_desc *d = &st->desc;
	snprintf(d->name, sizeof d->name, "cpu");
	d->kind = JST_KIND_PACKAGE;
	/* "cpu" is covered by any measured "cpu:package-N": RAPL wins where present. */
	snprintf(d->device, sizeof d->device, "cpu");
	d->method = JST_METHOD_ESTIMATE;
	snprintf(d->source, sizeof d->source, "tdp-utilization");
	d->accuracy = ESTIMATE_ACCURACY;
	d->parent = -1;
	d->unit_j = model.tdp_total_w / ((double)ncpu * (double)hz);
	d->modulus = 0; /* 64-bit tick sums: centuries from wrapping */
	/* The model never exceeds TDP; the core's 2x margin absorbs tick jitter. */
	d->max_power_w = model.tdp_total_w;
	d->refresh_s = 1.0 / (double)hz; /* /proc/stat moves in whole ticks */
	snprintf(d->note, sizeof d->note, "%s", model.note);
	*state = st;
	return 0;
}

static size_t est_domains(void *state, const struct jst_domain_desc **out)
{
	struct est_state *st = state;
	*out = &st->desc;
	return 1;
}

static int est_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct est_state *st = state;
	struct jst_cpu_ticks t;
	if (n == 0)
		return 0;
	int rc = jst_proc_stat_read(st->stat_path, &t, out[0].error, sizeof out[0].error);
	if (rc < 0) {
		out[0].status = rc;
		return 0;
	}
	out[0].counter = t.busy;
	/* The core serialises reads, so the previous reading is ours alone. Idle
	 * time can step back slightly on NO_HZ kernels: no figure then. */
	if ((flags & JST_READ_TELEMETRY) && st->have_prev && t.total > st->prev.total &&
	    t.busy >= st->prev.busy) {
		double u =
		    100.0 * (double)(t.busy - st->prev.busy) / (double)(t.total - st->prev.total);
		out[0].utilization_pct = u > 100.0 ? 100.0 : u;
	}
	st->prev = t;
	st->have_prev = 1;
	return 0;
}

static const struct jst_option_desc est_options[] = {
    {"procfs.root", "JOULESTAT_PROCFS_ROOT", "/proc", "the directory procfs is mounted on"},
    {0},
};

const struct jst_backend_ops jst_backend_estimate = {
    .name = "estimate",
    .options = est_options,
    .description = "CPU energy modelled as TDP x utilisation (/proc/stat): an estimate, not a "
                   "measurement",
    .accuracy = ESTIMATE_ACCURACY,
    .probe = est_probe,
    .domains = est_domains,
    .read = est_read,
    .close = est_close,
};
