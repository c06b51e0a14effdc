/*
 * AMD GPUs through AMD SMI (libamd_smi.so), or ROCm SMI (librocm_smi64.so)
 * where AMD SMI is missing, loaded with dlopen. Energy is the device's
 * accumulator times its counter resolution, which the library states (15.3 uJ
 * on current parts): read, never assumed, and checked, since a wrong one is how
 * a GPU comes to draw megawatts. docs/backends/amdsmi.md
 */
#include "amdsmi_api.h"
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AMD_MAX_GPUS 64
#define AMD_ACC 0.05
/* The bound on a jump of the counter: more than any accelerator draws. */
#define AMD_MAX_POWER_W 1500.0

struct amd_gpu {
	amdsmi_processor_handle h; /* AMD SMI */
	uint32_t index;            /* ROCm SMI */
	char note[JST_NOTE_MAX];
};

struct amd_state {
	struct jst_amd_api api;
	struct amd_gpu gpu[AMD_MAX_GPUS];
	struct jst_domain_desc desc[AMD_MAX_GPUS];
	size_t n;
};

#define LOAD(f) (*(void **)(&a->f) = dlsym(a->lib, #f))

static int amd_load(struct jst_amd_api *a, const char *path)
{
	memset(a, 0, sizeof *a);
	if (!(a->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
		return -ENOENT;
	snprintf(a->path, sizeof a->path, "%s", path);
	LOAD(amdsmi_init);
	LOAD(amdsmi_shut_down);
	LOAD(amdsmi_get_socket_handles);
	LOAD(amdsmi_get_processor_handles);
	LOAD(amdsmi_get_energy_count);
	LOAD(amdsmi_get_gpu_device_uuid);
	LOAD(amdsmi_get_temp_metric);
	LOAD(amdsmi_get_gpu_activity);
	LOAD(amdsmi_status_code_to_string);
	LOAD(amdsmi_get_gpu_compute_partition);
	if (a->amdsmi_init && a->amdsmi_shut_down && a->amdsmi_get_socket_handles &&
	    a->amdsmi_get_processor_handles && a->amdsmi_get_energy_count)
		return 0;
	LOAD(rsmi_init);
	LOAD(rsmi_shut_down);
	LOAD(rsmi_num_monitor_devices);
	LOAD(rsmi_dev_energy_count_get);
	LOAD(rsmi_dev_unique_id_get);
	LOAD(rsmi_dev_power_ave_get);
	LOAD(rsmi_dev_temp_metric_get);
	LOAD(rsmi_dev_busy_percent_get);
	LOAD(rsmi_status_string);
	if (a->rsmi_init && a->rsmi_shut_down && a->rsmi_num_monitor_devices &&
	    a->rsmi_dev_energy_count_get) {
		a->rsmi = 1;
		return 0;
	}
	dlclose(a->lib);
	a->lib = NULL;
	return -ENOSYS;
}

static const char *amd_strerror(const struct jst_amd_api *a, int status)
{
	const char *s = NULL;
	if (a->rsmi ? a->rsmi_status_string && a->rsmi_status_string(status, &s) == 0
	            : a->amdsmi_status_code_to_string &&
	                  a->amdsmi_status_code_to_string(status, &s) == 0)
		return s ? s : "unknown error";
	return "unknown error";
}

static int amd_energy(const struct amd_state *st, size_t i, uint64_t *acc, float *res, uint64_t *ts)
{
	const struct jst_amd_api *a = &st->api;
	return a->rsmi ? a->rsmi_dev_energy_count_get(st->gpu[i].index, acc, res, ts)
	               : a->amdsmi_get_energy_count(st->gpu[i].h, acc, res, ts);
}

static void amd_close(void *state)
{
	struct amd_state *st = state;
	if (!st)
		return;
	if (st->api.lib) {
		if (st->api.rsmi)
			st->api.rsmi_shut_down();
		else
			st->api.amdsmi_shut_down();
		dlclose(st->api.lib);
	}
	free(st);
}

static int amd_init_reason(const struct jst_amd_api *a, int r, char *reason, size_t len)
{
	const char *todo =
	    (a->rsmi ? r == RSMI_STATUS_PERMISSION : r == AMDSMI_STATUS_NO_PERM)
	        ? "no permission to /dev/kfd or /dev/dri/renderD*: add this user to the video "
	          "and render groups"
	    : (!a->rsmi && r == AMDSMI_STATUS_DRIVER_NOT_LOADED)
	        ? "the amdgpu kernel driver is not loaded (modprobe amdgpu)"
	        : "check that amd-smi (or rocm-smi) works for this user";
	snprintf(reason, len, "%s: %s failed: %s; %s", a->path,
	         a->rsmi ? "rsmi_init" : "amdsmi_init", amd_strerror(a, r), todo);
	return -EIO;
}

/* Every GPU's handle (AMD SMI: through its sockets) or index (ROCm SMI). */
static int amd_enumerate(struct amd_state *st, char *reason, size_t len)
{
	struct jst_amd_api *a = &st->api;
	if (a->rsmi) {
		uint32_t n = 0;
		int r = a->rsmi_num_monitor_devices(&n);
		if (r) {
			snprintf(reason, len, "rsmi_num_monitor_devices: %s", amd_strerror(a, r));
			return -EIO;
		}
		for (uint32_t i = 0; i < n && st->n < AMD_MAX_GPUS; i++)
			st->gpu[st->n++].index = i;
		return 0;
	}
	amdsmi_socket_handle sockets[AMD_MAX_GPUS];
	uint32_t ns = AMD_MAX_GPUS;
	int r = a->amdsmi_get_socket_handles(&ns, sockets);
	if (r) {
		snprintf(reason, len, "amdsmi_get_socket_handles: %s", amd_strerror(a, r));
		return -EIO;
	}
	for (uint32_t s = 0; s < ns && s < AMD_MAX_GPUS; s++) {
		amdsmi_processor_handle h[AMD_MAX_GPUS];
		uint32_t np = AMD_MAX_GPUS;
		if (a->amdsmi_get_processor_handles(sockets[s], &np, h) || np == 0)
			continue;
		/* Compute partitions (MI300 CPX, DPX...) are processors of one socket
		 * that share the GPU's energy counter: one domain, the whole GPU, as
		 * MIG instances are. */
		char part[16] = "";
		if (np > 1 && a->amdsmi_get_gpu_compute_partition &&
		    a->amdsmi_get_gpu_compute_partition(h[0], part, sizeof part) == 0 && part[0] &&
		    strcmp(part, "SPX") != 0) {
			struct amd_gpu *g = &st->gpu[st->n++];
			g->h = h[0];
			snprintf(g->note, sizeof g->note,
			         "compute partitions (%.8s, %u): energy is the whole GPU's, "
			         "reported once",
			         part, (unsigned)np);
			if (st->n == AMD_MAX_GPUS)
				break;
			continue;
		}
		for (uint32_t p = 0; p < np && st->n < AMD_MAX_GPUS; p++)
			st->gpu[st->n++].h = h[p];
	}
	return 0;
}

/* Declare GPU i's counter; 0, 1 when it has none, or negative with a reason. */
static int amd_declare(struct amd_state *st, size_t i, size_t *nd, char *reason, size_t len)
{
	const struct jst_amd_api *a = &st->api;
	uint64_t acc = 0, ts = 0;
	float res = 0;
	int r = amd_energy(st, i, &acc, &res, &ts);
	(void)acc;
	(void)ts;                           /* the core times readings by its own clock */
	if (r == RSMI_STATUS_NOT_SUPPORTED) /* AMDSMI_STATUS_NOT_SUPPORTED is the same 2 */
		return 1;
	if (r) {
		snprintf(reason, len, "GPU %zu: energy counter: %s", i, amd_strerror(a, r));
		return -EIO;
	}
	/* 15.3 uJ on current parts; anything outside a nanojoule to a joule is a
	 * library or firmware bug, not a unit to multiply by. */
	if (!(res >= 1e-3f && res <= 1e6f)) {
		snprintf(reason, len,
		         "GPU %zu: the library states a counter resolution of %g uJ, which no AMD "
		         "GPU has: update ROCm / amd-smi",
		         i, (double)res);
		return -EIO;
	}
	struct jst_domain_desc *d = &st->desc[*nd];
	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "amdgpu%zu", i);
	d->kind = JST_KIND_GPU;
	char uuid[64] = "";
	unsigned ulen = sizeof uuid;
	uint64_t uid = 0;
	if (!a->rsmi && a->amdsmi_get_gpu_device_uuid &&
	    a->amdsmi_get_gpu_device_uuid(st->gpu[i].h, &ulen, uuid) == 0 && uuid[0])
		snprintf(d->device, sizeof d->device, "gpu:%s", uuid);
	else if (a->rsmi && a->rsmi_dev_unique_id_get &&
	         a->rsmi_dev_unique_id_get(st->gpu[i].index, &uid) == 0)
		snprintf(d->device, sizeof d->device, "gpu:amd-%016llx", (unsigned long long)uid);
	else
		snprintf(d->device, sizeof d->device, "gpu:amd-index-%zu", i);
	d->method = JST_METHOD_COUNTER;
	snprintf(d->source, sizeof d->source, "energy-counter");
	d->accuracy = AMD_ACC;
	d->parent = -1;
	d->unit_j = (double)res * 1e-6;
	/* The firmware's accumulator is 32 bits on some parts (SMU 11's
	 * EnergyAccumulator) and 64 on others, and the API says 64 either way.
	 * Declared as its low 32 bits, it is right for both: the core extends the
	 * wraps (every 65 kJ at 15.3 uJ, minutes at full power; the sampler reads
	 * far more often), and a reset is a fall no power explains. */
	d->modulus = UINT64_C(1) << 32;
	d->max_power_w = AMD_MAX_POWER_W;
	d->refresh_s = 0; /* firmware-dependent: measured by the core */
	d->resolution_j = d->unit_j;
	/* A copy between two members of st: snprintf's restrict is more than
	 * GCC can prove of them at -O2 (it refuses the build under sanitizers). */
	size_t nl = strnlen(st->gpu[i].note, sizeof d->note - 1);
	memcpy(d->note, st->gpu[i].note, nl);
	d->note[nl] = 0;
	/* Keep the handle with the domain it now belongs to. */
	st->gpu[*nd] = st->gpu[i];
	(*nd)++;
	return 0;
}

/* An explicit GPU selection (--gpus) names AMD GPUs by their index (amdgpuN):
 * with i, whether GPU i is selected (1 or 0); without, whether the selection
 * is one this backend can honour (0, or -ENXIO with the reason: an entry that
 * is no index, or one past the found GPUs). A selection from
 * CUDA_VISIBLE_DEVICES is NVIDIA's and leaves every AMD GPU selected. */
static int amd_selected(const struct jst_backend_ctx *ctx, size_t found, const size_t *i,
                        char *reason, size_t len)
{
	if (!ctx->gpus || ctx->gpus_from_env)
		return i ? 1 : 0;
	const char *p = ctx->gpus;
	while (*p) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || errno || (*end && *end != ',') || *p == '-' || *p == '+') {
			snprintf(reason, len,
			         "GPU selection '%s' cannot be measured: AMD GPUs are selected by "
			         "index (amdgpuN's N)",
			         ctx->gpus);
			return -ENXIO;
		}
		if (i && v == *i)
			return 1;
		if (!i && v >= found) {
			snprintf(
			    reason, len,
			    "GPU selection '%s' cannot be measured: no amdgpu%lu (AMD SMI sees "
			    "%zu GPU%s)",
			    ctx->gpus, v, found, found == 1 ? "" : "s");
			return -ENXIO;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int amd_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	struct amd_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	const char *want = jst_backend_option(ctx, "amdsmi.library", "");
	int r;
	if (want && *want) {
		r = amd_load(&st->api, want);
	} else {
		r = amd_load(&st->api, "libamd_smi.so");
		if (r == -ENOENT)
			r = amd_load(&st->api, "librocm_smi64.so");
	}
	if (r < 0) {
		if (r == -ENOENT && want && *want)
			snprintf(reason, len,
			         "%s not found: install amd-smi (ROCm 6+) or rocm-smi, or set "
			         "JOULESTAT_AMDSMI_LIBRARY",
			         want);
		else if (r == -ENOENT)
			snprintf(
			    reason, len,
			    "neither libamd_smi.so nor librocm_smi64.so found: install amd-smi "
			    "(ROCm 6+) or rocm-smi, or set JOULESTAT_AMDSMI_LIBRARY");
		else
			snprintf(reason, len,
			         "%s has neither the AMD SMI nor the ROCm SMI energy functions: "
			         "update ROCm",
			         want && *want ? want : "the AMD SMI library");
		free(st);
		return r;
	}
	struct jst_amd_api *a = &st->api;
	r = a->rsmi ? a->rsmi_init(0) : a->amdsmi_init(AMDSMI_INIT_AMD_GPUS);
	if (r) {
		amd_init_reason(a, r, reason, len);
		dlclose(a->lib);
		a->lib = NULL;
		free(st);
		return -EIO;
	}
	size_t found = 0, nd = 0;
	if ((r = amd_enumerate(st, reason, len)) == 0) {
		found = st->n;
		r = amd_selected(ctx, found, NULL, reason, len);
		for (size_t i = 0; i < found && r >= 0; i++)
			if (amd_selected(ctx, found, &i, reason, len) == 1)
				r = amd_declare(st, i, &nd, reason, len);
	}
	st->n = nd;
	if (r >= 0 && found == 0) {
		snprintf(reason, len, "%s sees no AMD GPU", a->path);
		r = -ENODEV;
	} else if (r >= 0 && nd == 0) {
		snprintf(reason, len,
		         "no AMD GPU here has an energy counter (amdgpu gpu_metrics; MI100, RDNA2 "
		         "and later)");
		r = -ENODEV;
	}
	if (r < 0) {
		amd_close(st);
		return r;
	}
	reason[0] = 0;
	*state = st;
	return 0;
}

static size_t amd_domains(void *state, const struct jst_domain_desc **out)
{
	struct amd_state *st = state;
	*out = st->desc;
	return st->n;
}

static void amd_telemetry(const struct amd_state *st, size_t i, struct jst_raw *raw)
{
	const struct jst_amd_api *a = &st->api;
	int64_t t;
	if (a->rsmi) {
		uint32_t idx = st->gpu[i].index, pct;
		uint64_t uw;
		if (a->rsmi_dev_temp_metric_get &&
		    !a->rsmi_dev_temp_metric_get(idx, RSMI_TEMP_TYPE_EDGE, RSMI_TEMP_CURRENT, &t))
			raw->temperature_c = (double)t / 1e3; /* millidegrees */
		if (a->rsmi_dev_busy_percent_get && !a->rsmi_dev_busy_percent_get(idx, &pct))
			raw->utilization_pct = pct;
		if (a->rsmi_dev_power_ave_get && !a->rsmi_dev_power_ave_get(idx, 0, &uw))
			raw->telemetry_power_w = (double)uw * 1e-6;
		return;
	}
	amdsmi_engine_usage_t u;
	if (a->amdsmi_get_temp_metric &&
	    !a->amdsmi_get_temp_metric(st->gpu[i].h, AMDSMI_TEMPERATURE_TYPE_EDGE,
	                               AMDSMI_TEMP_CURRENT, &t))
		raw->temperature_c = (double)t; /* AMD SMI converts to degrees */
	if (a->amdsmi_get_gpu_activity && !a->amdsmi_get_gpu_activity(st->gpu[i].h, &u))
		raw->utilization_pct = u.gfx_activity;
}

static int amd_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct amd_state *st = state;
	if (n > st->n)
		n = st->n;
	for (size_t i = 0; i < n; i++) {
		uint64_t ts;
		float res;
		uint64_t acc;
		int r = amd_energy(st, i, &acc, &res, &ts);
		out[i].counter = acc & 0xffffffffu;
		if (r) {
			out[i].status = -EIO;
			snprintf(out[i].error, sizeof out[i].error, "%s: energy counter: %s",
			         st->desc[i].name, amd_strerror(&st->api, r));
			continue;
		}
		if (flags & JST_READ_TELEMETRY)
			amd_telemetry(st, i, &out[i]);
	}
	return 0;
}

static const struct jst_option_desc amdsmi_options[] = {
    {"amdsmi.library", "JOULESTAT_AMDSMI_LIBRARY", "",
     "a path or soname of libamd_smi or librocm_smi64, or empty for both in turn"},
    {0},
};

const struct jst_backend_ops jst_backend_amdsmi = {
    .options = amdsmi_options,
    .name = "amdsmi",
    .description = "AMD GPU energy counters (AMD SMI, or ROCm SMI)",
    .accuracy = AMD_ACC,
    .probe = amd_probe,
    .domains = amd_domains,
    .read = amd_read,
    .close = amd_close,
};
