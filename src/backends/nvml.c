/*
 * NVIDIA GPUs through NVML, loaded at run time (nvml_session.c).
 *
 * Per GPU, the best method it offers: the total-energy counter (Volta and
 * newer, mJ, 64-bit), else the instantaneous power field, else
 * nvmlDeviceGetPowerUsage, which newer GPUs average over one second. Power
 * methods return watts; the core integrates them. With cross-validation every
 * method a GPU has is its own domain under the same device identity, and the
 * core picks the primary.
 */
#include "backend.h"
#include "nvml_api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_MAX_GPUS 64

enum nvml_source { SRC_COUNTER, SRC_INSTANT, SRC_AVERAGE, SRC_COUNT };

static const char *const source_names[SRC_COUNT] = {"energy-counter", "instant-power",
                                                    "average-power"};
static const double source_accuracy[SRC_COUNT] = {0.05, 0.10, 0.15};

struct nvml_gpu {
	nvmlDevice_t dev;
	unsigned index; /* NVML's: the domains are "gpu<index>" */
	int lost;       /* once lost, NVML is never asked about it again */
	char lost_error[JST_ERROR_MAX];
	int has_instant;
	nvmlReturn_t failure;                        /* why probe could not open it */
	char model[NVML_DEVICE_NAME_V2_BUFFER_SIZE]; /* nvmlDeviceGetName, or "" */
	double power_w; /* power read in this read() call, for the telemetry series */
};

struct nvml_dom {
	size_t gpu;
	enum nvml_source src;
	int status; /* sticky: a lost GPU ends its figures for good */
	char error[JST_ERROR_MAX];
};

struct nvml_state {
	const struct jst_nvml_api *api;
	size_t ngpus, ndoms;
	struct nvml_gpu gpus[NVML_MAX_GPUS];
	struct nvml_dom doms[NVML_MAX_GPUS * SRC_COUNT];
	struct jst_domain_desc descs[NVML_MAX_GPUS * SRC_COUNT];
};

/* ---- reading one value -------------------------------------------------------- */

static double value_as_double(const nvmlFieldValue_t *v)
{
	switch (v->valueType) {
	case NVML_VALUE_TYPE_DOUBLE:
		return v->value.dVal;
	case NVML_VALUE_TYPE_UNSIGNED_LONG:
		return (double)v->value.ulVal;
	case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
		return (double)v->value.ullVal;
	case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
		return (double)v->value.sllVal;
	case NVML_VALUE_TYPE_SIGNED_INT:
		return (double)v->value.siVal;
	case NVML_VALUE_TYPE_UNSIGNED_SHORT:
		return (double)v->value.usVal;
	default:
		return (double)v->value.uiVal;
	}
}

static nvmlReturn_t read_instant_w(const struct jst_nvml_api *api, nvmlDevice_t dev, double *w)
{
	if (!api->DeviceGetFieldValues)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	nvmlFieldValue_t v;
	memset(&v, 0, sizeof v);
	v.fieldId = NVML_FI_DEV_POWER_INSTANT;
	v.scopeId = 0; /* the GPU alone, not a Grace-Hopper module */
	nvmlReturn_t r = api->DeviceGetFieldValues(dev, 1, &v);
	/* The call can succeed while the field itself failed. */
	if (r == NVML_SUCCESS)
		r = v.nvmlReturn;
	if (r == NVML_SUCCESS)
		*w = value_as_double(&v) / 1e3;
	return r;
}

static nvmlReturn_t read_average_w(const struct jst_nvml_api *api, nvmlDevice_t dev, double *w)
{
	unsigned mw = 0;
	if (!api->DeviceGetPowerUsage)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	nvmlReturn_t r = api->DeviceGetPowerUsage(dev, &mw);
	if (r == NVML_SUCCESS)
		*w = mw / 1e3;
	return r;
}

static nvmlReturn_t read_counter(const struct jst_nvml_api *api, nvmlDevice_t dev, uint64_t *mj)
{
	unsigned long long v = 0;
	if (!api->DeviceGetTotalEnergyConsumption)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	nvmlReturn_t r = api->DeviceGetTotalEnergyConsumption(dev, &v);
	if (r == NVML_SUCCESS)
		*mj = v;
	return r;
}

/* ---- probing -------------------------------------------------------------------- */

static void note_append(char *note, size_t len, const char *text)
{
	size_t used = strlen(note);
	if (used && used + 2 < len)
		used += (size_t)snprintf(note + used, len - used, "; ");
	if (used < len)
		snprintf(note + used, len - used, "%s", text);
}

/* Whether a GPU name is a GA100 part: A100, A800 or A30, with or without the X
 * of the converged cards. Matched as whole words of the name ("NVIDIA
 * A100-SXM4-80GB"), because a substring would take an RTX A1000 (GA107) or an
 * RTX A3000 (GA104) for one. */
static int name_is_ga100(const char *name)
{
	static const char *const models[] = {"A100", "A100X", "A800", "A30", "A30X"};
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, " -_/()");
		for (size_t i = 0; n && i < sizeof models / sizeof models[0]; i++)
			if (n == strlen(models[i]) && !strncmp(p, models[i], n))
				return 1;
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

/* Newer GPUs report nvmlDeviceGetPowerUsage as a 1-second average; GA100 does not. */
static int average_is_smoothed(const struct jst_nvml_api *api, nvmlDevice_t dev)
{
	unsigned arch = 0;
	char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "";
	/* An architecture NVML cannot name is newer than this code: warn. */
	if (!api->DeviceGetArchitecture || api->DeviceGetArchitecture(dev, &arch) != NVML_SUCCESS ||
	    arch == NVML_DEVICE_ARCH_UNKNOWN)
		return 1;
	if (arch < NVML_DEVICE_ARCH_AMPERE)
		return 0;
	if (arch == NVML_DEVICE_ARCH_AMPERE && api->DeviceGetName &&
	    api->DeviceGetName(dev, name, sizeof name) == NVML_SUCCESS && name_is_ga100(name))
		return 0;
	return 1;
}

static void gpu_common_note(const struct jst_nvml_api *api, nvmlDevice_t dev, char *note,
                            size_t len)
{
	unsigned cur = 0, pending = 0;
	note[0] = 0;
	if (api->DeviceGetMigMode && api->DeviceGetMigMode(dev, &cur, &pending) == NVML_SUCCESS &&
	    cur == NVML_DEVICE_MIG_ENABLE)
		note_append(note, len,
		            "MIG enabled: energy is for the whole GPU, not per MIG "
		            "instance");
}

static double gpu_max_power(const struct jst_nvml_api *api, nvmlDevice_t dev)
{
	unsigned mw = 0;
	if (api->DeviceGetEnforcedPowerLimit &&
	    api->DeviceGetEnforcedPowerLimit(dev, &mw) == NVML_SUCCESS && mw > 0)
		return mw / 1e3 * 1.5; /* transients exceed the limit briefly */
	return 1000.0;
}

static void declare(struct nvml_state *s, size_t g, enum nvml_source src, const char *uuid,
                    double max_w, const char *note)
{
	struct jst_domain_desc *d = &s->descs[s->ndoms];
	struct nvml_dom *dom = &s->doms[s->ndoms++];
	*dom = (struct nvml_dom){.gpu = g, .src = src};
	*d = (struct jst_domain_desc){
	    .kind = JST_KIND_GPU,
	    .method = src == SRC_COUNTER ? JST_METHOD_COUNTER : JST_METHOD_POWER,
	    .accuracy = source_accuracy[src],
	    .parent = -1,
	    .unit_j = src == SRC_COUNTER ? 1e-3 : 0,
	    .modulus = 0,
	    .max_power_w = max_w,
	    /* The counter's refresh differs by GPU model (10 to 100 ms): NVML does
	     * not say, so the core measures it. Power readings refresh about every
	     * 100 ms. */
	    .refresh_s = src == SRC_COUNTER ? 0 : 0.1,
	};
	snprintf(d->name, sizeof d->name, "gpu%u", s->gpus[g].index);
	snprintf(d->device, sizeof d->device, "gpu:%s", uuid);
	snprintf(d->source, sizeof d->source, "%s", source_names[src]);
	snprintf(d->note, sizeof d->note, "%s", note);
}

/* What a person can do about a GPU that NVML counts but cannot open. */
static const char *gpu_open_advice(nvmlReturn_t r)
{
	switch (r) {
	case NVML_ERROR_GPU_IS_LOST:
		return "it has fallen off the bus: the node needs a GPU reset or a reboot";
	case NVML_ERROR_NO_PERMISSION:
		return "this user (or container) may not open its /dev/nvidia* device";
	case NVML_ERROR_RESET_REQUIRED:
		return "it needs a reset (nvidia-smi -r) or a reboot";
	default:
		return "check nvidia-smi";
	}
}

/* Declare the domains of one GPU: its best method, or every method it has. */
static int probe_gpu(struct nvml_state *s, unsigned index, int all, char *reason, size_t len)
{
	const struct jst_nvml_api *api = s->api;
	struct nvml_gpu *gpu = &s->gpus[s->ngpus];
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	nvmlReturn_t r = api->DeviceGetHandleByIndex(index, &gpu->dev);
	if (r == NVML_SUCCESS)
		r = api->DeviceGetUUID(gpu->dev, uuid, sizeof uuid);
	if (r != NVML_SUCCESS) {
		gpu->failure = r;
		snprintf(reason, len, "gpu%u: NVML: %s: %s, or leave it out with --gpus", index,
		         jst_nvml_strerror(api, r), gpu_open_advice(r));
		return -ENODEV;
	}
	gpu->index = index;
	gpu->model[0] = 0;
	if (api->DeviceGetName &&
	    api->DeviceGetName(gpu->dev, gpu->model, sizeof gpu->model) != NVML_SUCCESS)
		gpu->model[0] = 0;

	uint64_t mj;
	double w;
	int has[SRC_COUNT] = {
	    read_counter(api, gpu->dev, &mj) == NVML_SUCCESS,
	    read_instant_w(api, gpu->dev, &w) == NVML_SUCCESS,
	    read_average_w(api, gpu->dev, &w) == NVML_SUCCESS,
	};
	gpu->has_instant = has[SRC_INSTANT];
	if (!has[SRC_COUNTER] && !has[SRC_INSTANT] && !has[SRC_AVERAGE]) {
		snprintf(reason, len,
		         "gpu%u reports neither energy nor power through NVML (not supported on "
		         "this GPU)",
		         index);
		return -ENOTSUP;
	}
	char common[JST_NOTE_MAX], note[JST_NOTE_MAX];
	gpu_common_note(api, gpu->dev, common, sizeof common);
	double max_w = gpu_max_power(api, gpu->dev);
	for (int src = 0; src < SRC_COUNT; src++) {
		if (!has[src])
			continue;
		snprintf(note, sizeof note, "%s", common);
		if (src == SRC_AVERAGE && average_is_smoothed(api, gpu->dev))
			note_append(note, sizeof note,
			            "power is a 1-second average on this GPU: short bursts are "
			            "smeared");
		declare(s, s->ngpus, (enum nvml_source)src, uuid, max_w, note);
		if (!all)
			break;
	}
	s->ngpus++;
	return 0;
}

static const char *model_of(const struct nvml_gpu *gpu)
{
	return gpu->model[0] ? gpu->model : "model unknown";
}

/* What the GPUs measured are, for `joulestat list`: each model once, with the
 * GPUs of that model as ranges of indices ("gpu0-1, gpu3: NVIDIA H100 80GB HBM3"). */
static void models_remark(const struct nvml_state *s, char *out, size_t len)
{
	size_t used = 0;
	out[0] = 0;
	for (size_t g = 0; g < s->ngpus; g++) {
		const char *model = model_of(&s->gpus[g]);
		int seen = 0;
		for (size_t k = 0; k < g; k++)
			seen |= !strcmp(model_of(&s->gpus[k]), model);
		if (seen)
			continue;
		const char *sep = used ? "; " : "";
		for (size_t k = g; k < s->ngpus; k++) {
			if (strcmp(model_of(&s->gpus[k]), model) != 0)
				continue;
			size_t end = k;
			while (end + 1 < s->ngpus &&
			       s->gpus[end + 1].index == s->gpus[end].index + 1 &&
			       !strcmp(model_of(&s->gpus[end + 1]), model))
				end++;
			if (used < len && end > k)
				used += (size_t)snprintf(out + used, len - used, "%sgpu%u-%u", sep,
				                         s->gpus[k].index, s->gpus[end].index);
			else if (used < len)
				used += (size_t)snprintf(out + used, len - used, "%sgpu%u", sep,
				                         s->gpus[k].index);
			sep = ", ";
			k = end;
		}
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, ": %s", model);
	}
}

/* A selection that cannot be honoured fails the meter (-ENXIO) rather than
 * leave the GPUs out: the reason names the selection, why, and what exists. */
static int refuse(const struct jst_backend_ctx *ctx, unsigned count, int rc, char *reason,
                  size_t len)
{
	char why[JST_REASON_MAX];
	if (rc == -ENOMEM)
		return rc;
	snprintf(why, sizeof why, "%s", reason[0] ? reason : jst_strerror(rc));
	if (count && !strstr(why, "NVML sees"))
		snprintf(reason, len, "%s '%s' cannot be measured: %s (NVML sees %u GPU%s)",
		         ctx->gpus_from_env ? "CUDA_VISIBLE_DEVICES" : "GPU selection", ctx->gpus,
		         why, count, count == 1 ? "" : "s");
	else
		snprintf(reason, len, "%s '%s' cannot be measured: %s",
		         ctx->gpus_from_env ? "CUDA_VISIBLE_DEVICES" : "GPU selection", ctx->gpus,
		         why);
	return -ENXIO;
}

static int nvml_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	if (ctx->gpus && !*ctx->gpus) {
		snprintf(reason, len,
		         "no GPU selected (CUDA_VISIBLE_DEVICES or --gpus is empty or invalid): "
		         "unset CUDA_VISIBLE_DEVICES or pass --gpus");
		return -ENODEV;
	}
	struct nvml_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int rc = jst_nvml_session_acquire(
	    jst_backend_option(ctx, "nvml.library", "libnvidia-ml.so.1"), &s->api, reason, len);
	if (rc) {
		free(s);
		/* --gpus names GPUs that must be measured; a CUDA_VISIBLE_DEVICES
		 * inherited on a machine without NVML says nothing of the kind. */
		return ctx->gpus && !ctx->gpus_from_env ? refuse(ctx, 0, rc, reason, len) : rc;
	}
	unsigned count = 0, idx[NVML_MAX_GPUS];
	size_t n = 0;
	nvmlReturn_t r = s->api->DeviceGetCount(&count);
	if (r != NVML_SUCCESS) {
		snprintf(reason, len, "nvmlDeviceGetCount failed (NVML: %s): check nvidia-smi",
		         jst_nvml_strerror(s->api, r));
		rc = -ENODEV;
	} else if (count == 0) {
		snprintf(reason, len, "NVML sees no GPU: check nvidia-smi");
		rc = -ENODEV;
	} else {
		rc = jst_nvml_select(s->api, count, ctx->gpus, ctx->gpus_from_env, idx,
		                     NVML_MAX_GPUS, &n, reason, len);
	}
	char left_out[JST_NOTE_MAX] = "";
	for (size_t i = 0; !rc && i < n; i++) {
		rc = probe_gpu(s, idx[i], ctx->cross_validate, reason, len);
		/* With every GPU selected, one that has no readings, or that NVML
		 * cannot open (lost, or kept from this user or container), is left
		 * out, as nvidia-smi leaves it out: the others are still measured. */
		if (rc && !ctx->gpus && (rc == -ENOTSUP || rc == -ENODEV)) {
			char text[JST_NOTE_MAX];
			snprintf(text, sizeof text, "gpu%u left out: %s", idx[i],
			         rc == -ENOTSUP
			             ? "no energy or power readings"
			             : jst_nvml_strerror(s->api, s->gpus[s->ngpus].failure));
			note_append(left_out, sizeof left_out, text);
			rc = 0;
		}
	}
	/* Where every GPU was left out, reason still holds the last one's why. */
	if (!rc && s->ndoms == 0)
		rc = -ENODEV;
	if (rc && ctx->gpus)
		rc = refuse(ctx, count, rc, reason, len);
	for (size_t i = 0; !rc && left_out[0] && i < s->ndoms; i++)
		note_append(s->descs[i].note, sizeof s->descs[i].note, left_out);
	if (rc) {
		jst_nvml_session_release();
		free(s);
		return rc;
	}
	/* Available, the reason is a remark: which GPUs of which model. */
	models_remark(s, reason, len);
	*state = s;
	return 0;
}

static size_t nvml_domains(void *state, const struct jst_domain_desc **out)
{
	struct nvml_state *s = state;
	*out = s->descs;
	return s->ndoms;
}

/* ---- reading -------------------------------------------------------------------- */

static void gpu_mark_lost(struct nvml_state *s, struct nvml_gpu *gpu, nvmlReturn_t r)
{
	snprintf(gpu->lost_error, sizeof gpu->lost_error, "gpu%u: GPU is lost (NVML: %s)",
	         gpu->index, jst_nvml_strerror(s->api, r));
	gpu->lost = 1;
}

/* *t: the clock when this read starts; the clock when it ended on return, so
 * that consecutive reads share their bracket's edges. */
static void dom_read(struct nvml_state *s, struct nvml_dom *dom, struct jst_raw *raw, int64_t *t)
{
	struct nvml_gpu *gpu = &s->gpus[dom->gpu];
	if (!dom->status && !gpu->lost) {
		nvmlReturn_t r;
		double w = NAN;
		const char *fn;
		int64_t t0 = *t;
		switch (dom->src) {
		case SRC_COUNTER:
			r = read_counter(s->api, gpu->dev, &raw->counter);
			fn = "nvmlDeviceGetTotalEnergyConsumption";
			break;
		case SRC_INSTANT:
			r = read_instant_w(s->api, gpu->dev, &w);
			fn = "nvmlDeviceGetFieldValues(POWER_INSTANT)";
			break;
		default:
			r = read_average_w(s->api, gpu->dev, &w);
			fn = "nvmlDeviceGetPowerUsage";
			break;
		}
		*t = jst_backend_now_ns();
		jst_raw_stamp(raw, t0, *t);
		if (r == NVML_SUCCESS) {
			raw->power_w = w;
			if (!isnan(w) && (dom->src == SRC_INSTANT || isnan(gpu->power_w)))
				gpu->power_w = w;
			return;
		}
		if (r != NVML_ERROR_GPU_IS_LOST) {
			/* A timeout or a busy driver costs this reading only: the core
			 * skips it and the counter loses nothing. */
			raw->status = -EIO;
			snprintf(raw->error, sizeof raw->error, "gpu%u: %s failed (NVML: %s)",
			         gpu->index, fn, jst_nvml_strerror(s->api, r));
			return;
		}
		gpu_mark_lost(s, gpu, r);
	}
	/* A lost GPU, found now or before, ends each of its domains for good. */
	if (!dom->status && gpu->lost) {
		dom->status = -ENODEV;
		snprintf(dom->error, sizeof dom->error, "%s", gpu->lost_error);
	}
	raw->status = dom->status;
	snprintf(raw->error, sizeof raw->error, "%s", dom->error);
}

/* A telemetry call may fail for lack of support (NaN then); a lost GPU ends it. */
static int telemetry_ok(struct nvml_state *s, struct nvml_gpu *gpu, nvmlReturn_t r)
{
	if (r == NVML_ERROR_GPU_IS_LOST)
		gpu_mark_lost(s, gpu, r);
	return r == NVML_SUCCESS;
}

static void gpu_telemetry(struct nvml_state *s, struct nvml_gpu *gpu, struct jst_raw *t)
{
	const struct jst_nvml_api *api = s->api;
	unsigned v = 0;
	nvmlUtilization_t u = {0};
	double w = NAN;
	if (api->DeviceGetTemperature &&
	    telemetry_ok(s, gpu, api->DeviceGetTemperature(gpu->dev, NVML_TEMPERATURE_GPU, &v)))
		t->temperature_c = v;
	if (!gpu->lost && api->DeviceGetUtilizationRates &&
	    telemetry_ok(s, gpu, api->DeviceGetUtilizationRates(gpu->dev, &u)))
		t->utilization_pct = u.gpu;
	if (!gpu->lost && api->DeviceGetClockInfo &&
	    telemetry_ok(s, gpu, api->DeviceGetClockInfo(gpu->dev, NVML_CLOCK_SM, &v)))
		t->clock_mhz = v;
	if (!gpu->lost && api->DeviceGetEnforcedPowerLimit &&
	    telemetry_ok(s, gpu, api->DeviceGetEnforcedPowerLimit(gpu->dev, &v)))
		t->power_limit_w = v / 1e3;
	/* The series shows the device's own power; reuse what this read took. */
	if (!gpu->lost && isnan(gpu->power_w) &&
	    telemetry_ok(s, gpu,
	                 gpu->has_instant ? read_instant_w(api, gpu->dev, &w)
	                                  : read_average_w(api, gpu->dev, &w)))
		gpu->power_w = w;
	t->telemetry_power_w = gpu->power_w;
}

static int nvml_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct nvml_state *s = state;
	if (n > s->ndoms)
		n = s->ndoms;
	for (size_t g = 0; g < s->ngpus; g++)
		s->gpus[g].power_w = NAN;
	/* Energy first, for every GPU, so that the readings lie close in time. */
	int64_t t = jst_backend_now_ns();
	for (size_t i = 0; i < n; i++)
		dom_read(s, &s->doms[i], &out[i], &t);
	if (!(flags & JST_READ_TELEMETRY))
		return 0;
	for (size_t g = 0; g < s->ngpus; g++) {
		struct nvml_gpu *gpu = &s->gpus[g];
		struct jst_raw t;
		jst_raw_clear(&t);
		if (!gpu->lost)
			gpu_telemetry(s, gpu, &t);
		for (size_t i = 0; i < n; i++) {
			if (s->doms[i].gpu != g || out[i].status)
				continue;
			out[i].temperature_c = t.temperature_c;
			out[i].utilization_pct = t.utilization_pct;
			out[i].clock_mhz = t.clock_mhz;
			out[i].power_limit_w = t.power_limit_w;
			out[i].telemetry_power_w = t.telemetry_power_w;
		}
	}
	return 0;
}

static void nvml_close(void *state)
{
	if (!state)
		return;
	free(state);
	jst_nvml_session_release();
}

static const struct jst_option_desc nvml_options[] = {
    {"nvml.library", "JOULESTAT_NVML_LIBRARY", "libnvidia-ml.so.1",
     "a path or soname of libnvidia-ml"},
    {0},
};

const struct jst_backend_ops jst_backend_nvml = {
    .name = "nvml",
    .options = nvml_options,
    .description = "NVIDIA GPUs through NVML: energy counter (Volta and newer) or power "
                   "readings",
    .accuracy = 0.05,
    .probe = nvml_probe,
    .domains = nvml_domains,
    .read = nvml_read,
    .stamps = 1,
    .close = nvml_close,
};
