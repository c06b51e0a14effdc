/*
 * libamd_smi.so / librocm_smi64.so stand-in (sim/amdsmi): AMD GPUs whose
 * energy accumulator counts a power trace in units of a stated resolution,
 * with an exact truth. Built twice from this file: with SIM_RSMI the ROCm SMI
 * entry points, without it the AMD SMI ones. Configured at init from
 * JSTSIM_AMDSMI_* (README.md beside this file); every reading is computed
 * from CLOCK_MONOTONIC when asked for, so no thread is needed.
 */
#include "amdsmi_api.h"
#include "json_out.h"
#include "trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define SIM_MAX 8
#define SIM_PARTS 8
#define SIM_TICK_NS 1000000LL /* the accumulator refreshes every 1 ms */
#define SIM_FAIL 1            /* a generic failure code of both APIs */

struct sim_gpu {
	double scale;
	uint64_t base;
	double reset_after_s; /* < 0: never */
	char uuid[40];
};

static struct {
	int refs;
	int64_t start_ns;
	unsigned n;
	int nocounter;
	char partition[8]; /* "SPX", or "CPX" with nparts processors per GPU */
	unsigned nparts;
	unsigned wrap_bits; /* the accumulator's width: 32 (SMU 11) or 64 */
	double res_uj;
	struct sim_trace *trace;
	char spec[256], truth[1024];
	struct sim_gpu gpu[SIM_MAX];
} sim;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *env(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static int sim_init(void)
{
	if (sim.refs++)
		return 0;
	const char *fail = env("JSTSIM_AMDSMI_FAIL_INIT", "");
#ifdef SIM_RSMI
	if (!strcmp(fail, "permission"))
		return sim.refs--, RSMI_STATUS_PERMISSION;
	if (*fail)
		return sim.refs--, RSMI_STATUS_INIT_ERROR;
#else
	if (!strcmp(fail, "permission"))
		return sim.refs--, AMDSMI_STATUS_NO_PERM;
	if (*fail)
		return sim.refs--, AMDSMI_STATUS_DRIVER_NOT_LOADED;
#endif
	sim.n = (unsigned)atoi(env("JSTSIM_AMDSMI_GPUS", "1"));
	if (sim.n < 1 || sim.n > SIM_MAX)
		sim.n = 1;
	sim.res_uj = atof(env("JSTSIM_AMDSMI_RESOLUTION_UJ", "15.2587890625"));
	sim.nocounter = atoi(env("JSTSIM_AMDSMI_NOCOUNTER", "0"));
	/* "CPX:4": each GPU shows as 4 partitions of one socket, sharing its counter. */
	const char *part = env("JSTSIM_AMDSMI_PARTITION", "SPX");
	sim.nparts = 1;
	if (sscanf(part, "%7[A-Z]:%u", sim.partition, &sim.nparts) < 1)
		snprintf(sim.partition, sizeof sim.partition, "SPX");
	if (sim.nparts < 1 || sim.nparts > SIM_PARTS)
		sim.nparts = 1;
	sim.wrap_bits = (unsigned)atoi(env("JSTSIM_AMDSMI_WRAP_BITS", "64"));
	int near_wrap = atoi(env("JSTSIM_AMDSMI_NEAR_WRAP", "0"));
	snprintf(sim.spec, sizeof sim.spec, "%s", env("JSTSIM_AMDSMI_TRACE", "const:300"));
	snprintf(sim.truth, sizeof sim.truth, "%s", env("JSTSIM_AMDSMI_TRUTH", ""));
	char err[200];
	if (!(sim.trace = sim_trace_parse(sim.spec, err, sizeof err))) {
		fprintf(stderr, "libamd_smi (joulestat simulator): JSTSIM_AMDSMI_TRACE: %s\n", err);
		sim.refs--;
		return SIM_FAIL;
	}
	for (unsigned k = 0; k < SIM_MAX; k++) {
		struct sim_gpu *g = &sim.gpu[k];
		g->scale = 1.0 - 0.1 * k;
		/* A large base: a figure that leaked it would be absurd. */
		g->base = (UINT64_C(1) << 40) + (uint64_t)1000003u * k;
		if (sim.wrap_bits == 32) /* a 32-bit accumulator, or 3 J short of its wrap */
			g->base = near_wrap
			              ? (UINT64_C(1) << 32) - (uint64_t)(3.0 / (sim.res_uj * 1e-6))
			              : 0x40000000u + (uint64_t)1000003u * k;
		g->reset_after_s = -1;
		snprintf(g->uuid, sizeof g->uuid, "a1c00000-0000-4000-9000-%012x", k);
	}
	/* "K@S": GPU K's accumulator restarts at 0 S seconds after init (a GPU reset). */
	const char *reset = env("JSTSIM_AMDSMI_RESET", "");
	unsigned k;
	double s;
	if (*reset && sscanf(reset, "%u@%lf", &k, &s) == 2 && k < SIM_MAX)
		sim.gpu[k].reset_after_s = s;
	sim.start_ns = now_ns();
	return 0;
}

static void sim_write_truth(void)
{
	if (!sim.truth[0])
		return;
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", sim.truth, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "{\"start_ns\": %lld, \"end_ns\": %lld, \"tick_s\": %.3f, \"trace\": ",
	        (long long)sim.start_ns, (long long)now_ns(), SIM_TICK_NS / 1e9);
	sim_json_string(f, sim.spec);
	fprintf(f, ", \"resolution_uj\": %.17g, \"gpus\": [", sim.res_uj);
	for (unsigned i = 0; i < sim.n; i++)
		fprintf(
		    f,
		    "%s{\"index\": %u, \"uuid\": \"%s\", \"scale\": %.17g, \"reset_after_s\": %g}",
		    i ? ", " : "", i, sim.gpu[i].uuid, sim.gpu[i].scale, sim.gpu[i].reset_after_s);
	fprintf(f, "]}\n");
	if (fclose(f) == 0)
		rename(tmp, sim.truth);
	else
		unlink(tmp);
}

static int sim_shut_down(void)
{
	if (sim.refs <= 0)
		return SIM_FAIL;
	if (--sim.refs == 0) {
		sim_write_truth();
		sim_trace_free(sim.trace);
		sim.trace = NULL;
	}
	return 0;
}

/* Trace time of the accumulator's last refresh. */
static double sim_tick_s(void)
{
	int64_t t = now_ns() - sim.start_ns;
	return (double)(t - t % SIM_TICK_NS) / 1e9;
}

static int sim_energy(unsigned k, uint64_t *acc, float *res, uint64_t *ts)
{
	if (!sim.refs || k >= sim.n || !acc || !res || !ts)
		return SIM_FAIL;
	if (sim.nocounter)
		return AMDSMI_STATUS_NOT_SUPPORTED; /* == RSMI_STATUS_NOT_SUPPORTED */
	const struct sim_gpu *g = &sim.gpu[k];
	double t = sim_tick_s(), unit = sim.res_uj * 1e-6;
	if (g->reset_after_s >= 0 && t >= g->reset_after_s)
		*acc = (uint64_t)floor(g->scale * sim_trace_energy(sim.trace, g->reset_after_s, t) /
		                       unit);
	else
		*acc =
		    g->base + (uint64_t)floor(g->scale * sim_trace_energy(sim.trace, 0, t) / unit);
	if (sim.wrap_bits == 32)
		*acc &= 0xffffffffu;
	*res = (float)sim.res_uj;
	*ts = (uint64_t)(sim.start_ns + (int64_t)llround(t * 1e9));
	return 0;
}

static double sim_power(unsigned k)
{
	return sim.gpu[k].scale * sim_trace_power(sim.trace, sim_tick_s());
}

static const char *sim_status(int status)
{
	return status ? "simulated failure" : "success";
}

#ifdef SIM_RSMI

EXPORT int rsmi_init(uint64_t flags)
{
	(void)flags;
	return sim_init();
}
EXPORT int rsmi_shut_down(void)
{
	return sim_shut_down();
}
EXPORT int rsmi_num_monitor_devices(uint32_t *n)
{
	if (!sim.refs || !n)
		return SIM_FAIL;
	*n = sim.n;
	return 0;
}
EXPORT int rsmi_dev_energy_count_get(uint32_t dv, uint64_t *e, float *res, uint64_t *ts)
{
	return sim_energy(dv, e, res, ts);
}
EXPORT int rsmi_dev_unique_id_get(uint32_t dv, uint64_t *id)
{
	if (!sim.refs || dv >= sim.n || !id)
		return SIM_FAIL;
	*id = 0x5a1c000000000000ull + dv;
	return 0;
}
EXPORT int rsmi_dev_power_ave_get(uint32_t dv, uint32_t sensor, uint64_t *uw)
{
	if (!sim.refs || dv >= sim.n || sensor || !uw)
		return SIM_FAIL;
	*uw = (uint64_t)llround(sim_power(dv) * 1e6);
	return 0;
}
EXPORT int rsmi_dev_temp_metric_get(uint32_t dv, uint32_t type, uint32_t metric, int64_t *mc)
{
	if (!sim.refs || dv >= sim.n || type || metric || !mc)
		return SIM_FAIL;
	*mc = llround((40 + sim_power(dv) / 10) * 1e3);
	return 0;
}
EXPORT int rsmi_dev_busy_percent_get(uint32_t dv, uint32_t *pct)
{
	if (!sim.refs || dv >= sim.n || !pct)
		return SIM_FAIL;
	double p = sim_power(dv) / 7;
	*pct = (uint32_t)(p > 100 ? 100 : p);
	return 0;
}
EXPORT int rsmi_status_string(int status, const char **text)
{
	*text = sim_status(status);
	return 0;
}

#else

/* Handles point into these: a socket per GPU, a processor per partition. */
static unsigned socket_handle[SIM_MAX];
static unsigned proc_handle[SIM_MAX][SIM_PARTS];

static int sim_index(amdsmi_processor_handle h, unsigned *k)
{
	const unsigned *p = h, *first = &proc_handle[0][0];
	if (!sim.refs || p < first || p > &proc_handle[SIM_MAX - 1][SIM_PARTS - 1])
		return SIM_FAIL;
	*k = (unsigned)((p - first) / SIM_PARTS);
	return *k < sim.n ? 0 : SIM_FAIL;
}

EXPORT int amdsmi_init(uint64_t flags)
{
	return flags & AMDSMI_INIT_AMD_GPUS ? sim_init() : SIM_FAIL;
}
EXPORT int amdsmi_shut_down(void)
{
	return sim_shut_down();
}
EXPORT int amdsmi_get_socket_handles(uint32_t *count, amdsmi_socket_handle *h)
{
	if (!sim.refs || !count)
		return SIM_FAIL;
	if (h) {
		for (unsigned k = 0; k < sim.n && k < *count; k++)
			h[k] = &socket_handle[k];
	}
	*count = sim.n;
	return 0;
}
EXPORT int amdsmi_get_processor_handles(amdsmi_socket_handle s, uint32_t *count,
                                        amdsmi_processor_handle *h)
{
	const unsigned *p = s;
	if (!sim.refs || !count || p < &socket_handle[0] || p >= &socket_handle[sim.n])
		return SIM_FAIL;
	unsigned k = (unsigned)(p - socket_handle);
	for (unsigned i = 0; h && i < sim.nparts && i < *count; i++)
		h[i] = &proc_handle[k][i];
	*count = sim.nparts;
	return 0;
}
EXPORT int amdsmi_get_gpu_compute_partition(amdsmi_processor_handle h, char *part, uint32_t len)
{
	unsigned k;
	if (sim_index(h, &k) || !part || len < 4)
		return SIM_FAIL;
	snprintf(part, len, "%s", sim.partition);
	return 0;
}
EXPORT int amdsmi_get_energy_count(amdsmi_processor_handle h, uint64_t *e, float *res, uint64_t *ts)
{
	unsigned k;
	return sim_index(h, &k) ? SIM_FAIL : sim_energy(k, e, res, ts);
}
EXPORT int amdsmi_get_gpu_device_uuid(amdsmi_processor_handle h, unsigned *len, char *uuid)
{
	unsigned k;
	if (sim_index(h, &k) || !len || !uuid || *len < AMDSMI_GPU_UUID_SIZE)
		return SIM_FAIL;
	snprintf(uuid, *len, "%s", sim.gpu[k].uuid);
	return 0;
}
EXPORT int amdsmi_get_temp_metric(amdsmi_processor_handle h, int type, int metric, int64_t *t)
{
	unsigned k;
	if (sim_index(h, &k) || type || metric || !t)
		return SIM_FAIL;
	*t = llround(40 + sim_power(k) / 10);
	return 0;
}
EXPORT int amdsmi_get_gpu_activity(amdsmi_processor_handle h, amdsmi_engine_usage_t *u)
{
	unsigned k;
	if (sim_index(h, &k) || !u)
		return SIM_FAIL;
	memset(u, 0, sizeof *u);
	double p = sim_power(k) / 7;
	u->gfx_activity = (uint32_t)(p > 100 ? 100 : p);
	return 0;
}
EXPORT int amdsmi_status_code_to_string(int status, const char **text)
{
	*text = sim_status(status);
	return 0;
}

#endif
