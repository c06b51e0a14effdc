/*
 * NVIDIA GPUs through DCGM (libdcgm loaded at run time, dcgm_session.c): an
 * embedded host engine, or nv-hostengine at dcgm.address, watches each GPU's
 * total-energy field (mJ since the driver loaded) with power, temperature,
 * utilisation and clocks; the backend reads the latest cached values of all
 * GPUs in one call. Its domains carry the same device identity as NVML's
 * ("gpu:GPU-<uuid>"), so the core counts a GPU once, from DCGM, and shows
 * NVML beside it only under cross-validation.
 */
#include "dcgm.h"
#include "backend.h"
#include "dcgm_api.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DCGM_ACCURACY 0.02       /* DCGM's class in the accuracy hierarchy */
#define DCGM_POWER_ACCURACY 0.10 /* GPUs without the energy field: power readings */

/* What is watched: energy first, then what the telemetry series shows. */
static const unsigned short watched[] = {
    DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION,
    DCGM_FI_DEV_POWER_USAGE,
    DCGM_FI_DEV_POWER_USAGE_INSTANT,
    DCGM_FI_DEV_GPU_TEMP,
    DCGM_FI_DEV_GPU_UTIL,
    DCGM_FI_DEV_SM_CLOCK,
    DCGM_FI_DEV_ENFORCED_POWER_LIMIT,
    DCGM_FI_DEV_UUID,
    DCGM_FI_DEV_NAME,
};
enum { F_ENERGY, F_POWER, F_INSTANT, F_TEMP, F_UTIL, F_CLOCK, F_LIMIT, F_UUID, F_NAME, F_COUNT };
/* Fields a read with telemetry asks for (the UUID and name only at probe). */
#define F_READ (F_UUID)

struct dcgm_gpu {
	unsigned id; /* DCGM's GPU id */
	int counter; /* has the energy field; else power */
	int lost;    /* sticky */
	char lost_error[JST_ERROR_MAX];
};

struct dcgm_state {
	const struct jst_dcgm_api *api;
	dcgmHandle_t handle;
	dcgmGpuGrp_t group;
	dcgmFieldGrp_t fields;
	int have_group, have_fields;
	long long update_us;
	unsigned edge_fields; /* what a window edge reads: energy, and power if a GPU lacks it */
	int pid_stats;        /* dcgmWatchPidFields succeeded */
	char model[DCGM_MAX_STR_LENGTH]; /* the GPUs' model, "" when unknown, "*" when several */
	char pid_stats_why[JST_NOTE_MAX];
	size_t ngpus;
	struct dcgm_gpu gpus[DCGM_MAX_NUM_DEVICES];
	dcgmGroupEntityPair_t entities[DCGM_MAX_NUM_DEVICES];
	struct jst_domain_desc descs[DCGM_MAX_NUM_DEVICES];
	dcgmFieldValue_v2 *values; /* ngpus x F_COUNT, reused by every read */
};

/* GPU g's value of field among the nvalues last fetched: where DCGM puts it
 * (entity-major, in the order asked), else wherever it is. */
static const dcgmFieldValue_v2 *value_of(const struct dcgm_state *s, size_t nvalues, size_t g,
                                         unsigned short field)
{
	unsigned id = s->entities[g].entityId;
	size_t nf = s->ngpus ? nvalues / s->ngpus : 0;
	for (size_t k = 0; k < nf; k++) {
		const dcgmFieldValue_v2 *v = &s->values[g * nf + k];
		if (watched[k] == field && v->entityId == id && v->fieldId == field)
			return v;
	}
	for (size_t i = 0; i < nvalues; i++)
		if (s->values[i].entityId == id && s->values[i].fieldId == field)
			return &s->values[i];
	return NULL;
}

/* The value as a number, NaN when DCGM has none (a status or a blank). */
static double number_of(const dcgmFieldValue_v2 *v)
{
	if (!v || v->status != DCGM_ST_OK)
		return NAN;
	if (v->fieldType == DCGM_FT_DOUBLE)
		return DCGM_FP64_IS_BLANK(v->value.dbl) ? NAN : v->value.dbl;
	if (v->fieldType == DCGM_FT_INT64)
		return DCGM_INT64_IS_BLANK(v->value.i64) ? NAN : (double)v->value.i64;
	return NAN;
}

/* Whether a GPU has the energy field: a plain blank is a sample that failed
 * (transient), the other blanks say the GPU has no such field (before Volta). */
static int has_energy(const dcgmFieldValue_v2 *v)
{
	if (!v)
		return 0;
	if (v->status == DCGM_ST_TIMEOUT || v->status == DCGM_ST_NVML_DRIVER_TIMEOUT)
		return 1;
	if (v->status != DCGM_ST_OK || v->fieldType != DCGM_FT_INT64)
		return 0;
	return v->value.i64 != DCGM_INT64_NOT_FOUND && v->value.i64 != DCGM_INT64_NOT_SUPPORTED &&
	       v->value.i64 != DCGM_INT64_NOT_PERMISSIONED;
}

/* Latest values of nfields fields for every GPU into s->values. */
static dcgmReturn_t fetch(struct dcgm_state *s, unsigned short *fields, unsigned nfields)
{
	return s->api->EntitiesGetLatestValues(s->handle, s->entities, (unsigned)s->ngpus, fields,
	                                       nfields, 0, s->values);
}

/* ---- probing ------------------------------------------------------------------- */

static const char *uuid_of(const struct dcgm_state *s, size_t g)
{
	return s->descs[g].device + strlen("gpu:");
}

/* The GPU (index into s->gpus) a selection entry names: a DCGM id, or a GPU
 * UUID or a unique prefix of it, read as NVML's selection reads them. */
static int entry_gpu(const struct dcgm_state *s, const char *t, size_t *out, char *reason,
                     size_t len)
{
	int found = 0;
	if (isdigit((unsigned char)t[0])) {
		char *end;
		unsigned long v = strtoul(t, &end, 10);
		for (size_t g = 0; !*end && g < s->ngpus; g++)
			if (s->gpus[g].id == v) {
				*out = g;
				return 0;
			}
	} else if (strncmp(t, "MIG-", 4) != 0) {
		size_t n = strlen(t);
		for (size_t g = 0; g < s->ngpus; g++) {
			const char *u = uuid_of(s, g);
			if (strncmp(u, t, n) != 0)
				continue;
			*out = g;
			if (!u[n])
				return 0; /* exact */
			found++;
		}
		if (found == 1)
			return 0;
	}
	if (!strncmp(t, "MIG-", 4))
		snprintf(reason, len, "DCGM measures whole GPUs, not MIG instance %.80s", t);
	else if (found)
		snprintf(reason, len, "GPU UUID %.80s matches %d GPUs: give more of it", t, found);
	else
		snprintf(reason, len,
		         "DCGM has no GPU '%.80s' (DCGM names GPUs by its ids, which follow NVML's "
		         "indices, or by UUID)",
		         t);
	return -ENODEV;
}

/* Keep the selected GPUs, in the selection's order. As CUDA does with
 * CUDA_VISIBLE_DEVICES, an entry that names no GPU ends the list there; in an
 * explicit selection it is an error. */
static int select_gpus(struct dcgm_state *s, const struct jst_backend_ctx *ctx, char *reason,
                       size_t len)
{
	size_t pick[DCGM_MAX_NUM_DEVICES], n = 0;
	char list[1024];
	snprintf(list, sizeof list, "%s", ctx->gpus);
	for (char *save = NULL, *t = strtok_r(list, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		size_t g = 0;
		int rc = entry_gpu(s, t, &g, reason, len);
		if (rc && ctx->gpus_from_env && n > 0)
			break;
		if (rc)
			return rc;
		int dup = 0;
		for (size_t k = 0; k < n; k++)
			dup |= pick[k] == g;
		if (!dup && n < DCGM_MAX_NUM_DEVICES)
			pick[n++] = g;
	}
	struct dcgm_gpu gpus[DCGM_MAX_NUM_DEVICES];
	dcgmGroupEntityPair_t entities[DCGM_MAX_NUM_DEVICES];
	struct jst_domain_desc descs[DCGM_MAX_NUM_DEVICES];
	for (size_t k = 0; k < n; k++) {
		gpus[k] = s->gpus[pick[k]];
		entities[k] = s->entities[pick[k]];
		descs[k] = s->descs[pick[k]];
	}
	memcpy(s->gpus, gpus, n * sizeof gpus[0]);
	memcpy(s->entities, entities, n * sizeof entities[0]);
	memcpy(s->descs, descs, n * sizeof descs[0]);
	s->ngpus = n;
	reason[0] = 0;
	return n ? 0 : -ENODEV;
}

static int watch(struct dcgm_state *s, char *reason, size_t len)
{
	dcgmReturn_t r = s->api->WatchFields(s->handle, s->group, s->fields, s->update_us, 10.0, 0);
	if (r == DCGM_ST_OK)
		r = s->api->UpdateAllFields(s->handle, 1);
	if (r != DCGM_ST_OK)
		snprintf(reason, len, "dcgmWatchFields failed (DCGM: %s)",
		         jst_dcgm_strerror(s->api, r));
	return r == DCGM_ST_OK ? 0 : -EIO;
}

static int make_groups(struct dcgm_state *s, const unsigned *ids, int count, char *reason,
                       size_t len)
{
	static unsigned serial; /* names are unique per host engine */
	char name[96];
	snprintf(name, sizeof name, "joulestat-%ld-%u", (long)getpid(),
	         __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
	dcgmReturn_t r = s->api->GroupCreate(s->handle, DCGM_GROUP_EMPTY, name, &s->group);
	s->have_group = r == DCGM_ST_OK;
	for (int i = 0; r == DCGM_ST_OK && i < count; i++)
		r = s->api->GroupAddDevice(s->handle, s->group, ids[i]);
	if (r == DCGM_ST_OK) {
		r = s->api->FieldGroupCreate(s->handle, F_COUNT, watched, name, &s->fields);
		s->have_fields = r == DCGM_ST_OK;
	}
	if (r != DCGM_ST_OK) {
		snprintf(reason, len, "cannot create DCGM groups (DCGM: %s)",
		         jst_dcgm_strerror(s->api, r));
		return -EIO;
	}
	for (int i = 0; i < count; i++)
		s->entities[i] =
		    (dcgmGroupEntityPair_t){.entityGroupId = DCGM_FE_GPU, .entityId = ids[i]};
	s->ngpus = (size_t)count;
	return watch(s, reason, len);
}

static void declare(struct dcgm_state *s, size_t g, const char *uuid, double limit_w)
{
	struct dcgm_gpu *gpu = &s->gpus[g];
	struct jst_domain_desc *d = &s->descs[g];
	*d = (struct jst_domain_desc){
	    .kind = JST_KIND_GPU,
	    .method = gpu->counter ? JST_METHOD_COUNTER : JST_METHOD_POWER,
	    .accuracy = gpu->counter ? DCGM_ACCURACY : DCGM_POWER_ACCURACY,
	    .parent = -1,
	    .unit_j = gpu->counter ? 1e-3 : 0,
	    .modulus = 0,
	    /* Transients exceed the limit briefly. */
	    .max_power_w = isnan(limit_w) || limit_w <= 0 ? 1000.0 : limit_w * 1.5,
	    /* DCGM's cache refreshes at the watch's period, the GPU's counter at
	     * its own (10 to 100 ms): the core measures what the two make. */
	    .refresh_s = gpu->counter ? 0 : (double)s->update_us / 1e6,
	};
	snprintf(d->name, sizeof d->name, "gpu%u", gpu->id);
	snprintf(d->device, sizeof d->device, "gpu:%.100s", uuid);
	snprintf(d->source, sizeof d->source, "%s", gpu->counter ? "energy-field" : "power-field");
}

/* Identity and readings of every GPU in the group: a GPU with neither energy
 * nor power is left out. */
static int probe_gpus(struct dcgm_state *s, char *reason, size_t len)
{
	unsigned short fields[F_COUNT];
	memcpy(fields, watched, sizeof fields);
	dcgmReturn_t r = fetch(s, fields, F_COUNT);
	if (r != DCGM_ST_OK) {
		snprintf(reason, len, "dcgmEntitiesGetLatestValues failed (DCGM: %s)",
		         jst_dcgm_strerror(s->api, r));
		return -EIO;
	}
	size_t nvalues = s->ngpus * F_COUNT, keep = 0;
	for (size_t g = 0; g < s->ngpus; g++) {
		struct dcgm_gpu gpu = {.id = s->entities[g].entityId};
		const dcgmFieldValue_v2 *u = value_of(s, nvalues, g, DCGM_FI_DEV_UUID);
		if (!u || u->status != DCGM_ST_OK || strncmp(u->value.str, "GPU-", 4) != 0) {
			snprintf(reason, len, "DCGM gives no UUID for GPU %u", gpu.id);
			return -EIO;
		}
		gpu.counter =
		    has_energy(value_of(s, nvalues, g, DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION));
		int power = !isnan(number_of(value_of(s, nvalues, g, DCGM_FI_DEV_POWER_USAGE)));
		if (!gpu.counter && !power)
			continue; /* a selection that names it then says so */
		const dcgmFieldValue_v2 *name = value_of(s, nvalues, g, DCGM_FI_DEV_NAME);
		if (name && name->status == DCGM_ST_OK && name->fieldType == DCGM_FT_STRING &&
		    strcmp(s->model, "*") != 0) {
			if (!s->model[0])
				snprintf(s->model, sizeof s->model, "%.255s", name->value.str);
			else if (strncmp(s->model, name->value.str, sizeof s->model - 1) != 0)
				snprintf(s->model, sizeof s->model, "*");
		}
		s->gpus[keep] = gpu;
		s->entities[keep] = s->entities[g];
		declare(s, keep, u->value.str,
		        number_of(value_of(s, nvalues, g, DCGM_FI_DEV_ENFORCED_POWER_LIMIT)));
		keep++;
	}
	s->ngpus = keep;
	s->edge_fields = 1;
	for (size_t g = 0; g < keep; g++)
		if (!s->gpus[g].counter)
			s->edge_fields = 2; /* F_POWER follows F_ENERGY */
	if (!keep) {
		snprintf(reason, len, "no GPU reports energy or power through DCGM");
		return -ENODEV;
	}
	return 0;
}

static void pid_stats_start(struct dcgm_state *s, const struct jst_backend_ctx *ctx)
{
	const char *on = jst_backend_option(ctx, "dcgm.process-stats", "0");
	if (strcmp(on, "1") != 0) {
		snprintf(s->pid_stats_why, sizeof s->pid_stats_why,
		         "process statistics are off (dcgm.process-stats=1 turns them on)");
		return;
	}
	if (!s->api->WatchPidFields || !s->api->GetPidInfo) {
		snprintf(s->pid_stats_why, sizeof s->pid_stats_why,
		         "%.100s lacks dcgmWatchPidFields or dcgmGetPidInfo", s->api->path);
		return;
	}
	dcgmReturn_t r = s->api->WatchPidFields(s->handle, s->group, s->update_us, 3600.0, 0);
	if (r != DCGM_ST_OK) {
		snprintf(s->pid_stats_why, sizeof s->pid_stats_why,
		         "dcgmWatchPidFields failed (DCGM: %s)%s", jst_dcgm_strerror(s->api, r),
		         r == DCGM_ST_REQUIRES_ROOT ? ": run nvidia-smi -am 1 as root first" : "");
		return;
	}
	s->pid_stats = 1;
}

static void dcgm_free(struct dcgm_state *s)
{
	/* Group ids are DCGM's to choose (0 may be one): flags say what exists. */
	if (s->have_fields && s->have_group && s->api->UnwatchFields)
		s->api->UnwatchFields(s->handle, s->group, s->fields);
	if (s->have_fields)
		s->api->FieldGroupDestroy(s->handle, s->fields);
	if (s->have_group)
		s->api->GroupDestroy(s->handle, s->group);
	free(s->values);
	free(s);
	jst_dcgm_session_release();
}

/* How often DCGM samples the watched fields: dcgm.update-ms, else the
 * sampler's period kept within 10 to 100 ms (slower would coarsen the
 * counter's refresh, faster would load the host engine for little). */
static int parse_update_ms(const struct jst_backend_ctx *ctx, long long *us, char *reason,
                           size_t len)
{
	const char *v = jst_backend_option(ctx, "dcgm.update-ms", "");
	double ms;
	if (!*v) {
		ms = ctx->period_s > 0 ? ctx->period_s * 1e3 : 100;
		ms = ms < 10 ? 10 : ms > 100 ? 100 : ms;
	} else {
		char *end;
		ms = strtod(v, &end);
		if (end == v || *end || !(ms >= 1 && ms <= 10000)) {
			snprintf(reason, len, "dcgm.update-ms must be 1 to 10000 (ms), got '%s'",
			         v);
			return -EINVAL;
		}
	}
	*us = (long long)llround(ms * 1e3);
	return 0;
}

static int dcgm_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	if (ctx->gpus && !*ctx->gpus) {
		snprintf(reason, len,
		         "no GPU selected (CUDA_VISIBLE_DEVICES or --gpus is empty or invalid): "
		         "unset CUDA_VISIBLE_DEVICES or pass --gpus");
		return -ENODEV;
	}
	struct dcgm_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int rc = parse_update_ms(ctx, &s->update_us, reason, len);
	if (rc) {
		free(s);
		return rc;
	}
	rc = jst_dcgm_session_acquire(
	    jst_backend_option(ctx, "dcgm.library", "libdcgm.so.4,libdcgm.so.3"),
	    jst_backend_option(ctx, "dcgm.address", ""), &s->api, &s->handle, reason, len);
	if (rc) {
		free(s);
		return rc;
	}
	unsigned ids[DCGM_MAX_NUM_DEVICES];
	int count = 0;
	dcgmReturn_t r = s->api->GetAllSupportedDevices(s->handle, ids, &count);
	if (r != DCGM_ST_OK || count <= 0) {
		if (r != DCGM_ST_OK)
			snprintf(reason, len, "dcgmGetAllSupportedDevices failed (DCGM: %s)",
			         jst_dcgm_strerror(s->api, r));
		else
			snprintf(reason, len,
			         "DCGM sees no supported GPU (it supports Volta and newer "
			         "data-centre GPUs): check dcgmi discovery -l");
		dcgm_free(s);
		return -ENODEV;
	}
	if (count > DCGM_MAX_NUM_DEVICES)
		count = DCGM_MAX_NUM_DEVICES;
	s->values = calloc((size_t)count * F_COUNT, sizeof *s->values);
	if (!s->values) {
		dcgm_free(s);
		return -ENOMEM;
	}
	rc = make_groups(s, ids, count, reason, len);
	if (!rc)
		rc = probe_gpus(s, reason, len);
	if (!rc && ctx->gpus)
		rc = select_gpus(s, ctx, reason, len);
	if (rc) {
		dcgm_free(s);
		return rc;
	}
	pid_stats_start(s, ctx);
	/* Available, the reason is a remark: the GPUs, their model, the engine. */
	const char *address = jst_backend_option(ctx, "dcgm.address", "");
	char model[DCGM_MAX_STR_LENGTH + 4] = "";
	if (s->model[0])
		snprintf(model, sizeof model, ", %s,",
		         strcmp(s->model, "*") != 0 ? s->model : "several models");
	snprintf(reason, len, "%zu GPU%s%s through %s", s->ngpus, s->ngpus == 1 ? "" : "s", model,
	         *address && strcmp(address, "embedded") != 0 ? address
	                                                      : "an embedded host engine");
	*state = s;
	return 0;
}

static size_t dcgm_domains(void *state, const struct jst_domain_desc **out)
{
	struct dcgm_state *s = state;
	*out = s->descs;
	return s->ngpus;
}

/* ---- reading -------------------------------------------------------------------- */

static void gpu_mark_lost(struct dcgm_gpu *gpu, const char *why)
{
	if (gpu->lost)
		return;
	gpu->lost = 1;
	snprintf(gpu->lost_error, sizeof gpu->lost_error, "gpu%u: %s", gpu->id, why);
}

static void gpu_read(struct dcgm_state *s, size_t g, size_t nvalues, struct jst_raw *raw)
{
	struct dcgm_gpu *gpu = &s->gpus[g];
	unsigned short field =
	    gpu->counter ? DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION : DCGM_FI_DEV_POWER_USAGE;
	const dcgmFieldValue_v2 *v = value_of(s, nvalues, g, field);
	if (v && v->status == DCGM_ST_GPU_IS_LOST)
		gpu_mark_lost(gpu, "GPU is lost (DCGM)");
	if (gpu->lost) {
		raw->status = -ENODEV;
		snprintf(raw->error, sizeof raw->error, "%s", gpu->lost_error);
		return;
	}
	double x = number_of(v);
	if (!v || isnan(x) || x < 0) {
		/* A stale or missing value costs this reading only. */
		raw->status = -EIO;
		snprintf(raw->error, sizeof raw->error, "gpu%u: no %s value from DCGM (%s)",
		         gpu->id, gpu->counter ? "energy" : "power",
		         !v                        ? "not returned"
		         : v->status != DCGM_ST_OK ? jst_dcgm_strerror(s->api, v->status)
		                                   : "blank");
		return;
	}
	if (gpu->counter)
		raw->counter = (uint64_t)v->value.i64;
	else
		raw->power_w = x;
}

static void gpu_telemetry(struct dcgm_state *s, size_t g, size_t nvalues, struct jst_raw *raw)
{
	double w = number_of(value_of(s, nvalues, g, DCGM_FI_DEV_POWER_USAGE_INSTANT));
	if (isnan(w))
		w = number_of(value_of(s, nvalues, g, DCGM_FI_DEV_POWER_USAGE));
	raw->telemetry_power_w = w;
	raw->temperature_c = number_of(value_of(s, nvalues, g, DCGM_FI_DEV_GPU_TEMP));
	raw->utilization_pct = number_of(value_of(s, nvalues, g, DCGM_FI_DEV_GPU_UTIL));
	raw->clock_mhz = number_of(value_of(s, nvalues, g, DCGM_FI_DEV_SM_CLOCK));
	raw->power_limit_w = number_of(value_of(s, nvalues, g, DCGM_FI_DEV_ENFORCED_POWER_LIMIT));
}

static int dcgm_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct dcgm_state *s = state;
	if (n > s->ngpus)
		n = s->ngpus;
	/* Window edges read the energy field alone: one call, every GPU. */
	unsigned short fields[F_READ];
	unsigned nfields = flags & JST_READ_TELEMETRY ? F_READ : s->edge_fields;
	memcpy(fields, watched, nfields * sizeof fields[0]);
	int64_t t0 = jst_backend_now_ns();
	dcgmReturn_t r = fetch(s, fields, nfields);
	int64_t t1 = jst_backend_now_ns();
	for (size_t g = 0; g < n; g++) {
		jst_raw_stamp(&out[g], t0, t1);
		if (r == DCGM_ST_CONNECTION_NOT_VALID)
			gpu_mark_lost(&s->gpus[g], "the connection to nv-hostengine is lost (its "
			                           "watches went with it)");
		if (r != DCGM_ST_OK && !s->gpus[g].lost) {
			out[g].status = -EIO;
			snprintf(out[g].error, sizeof out[g].error,
			         "dcgmEntitiesGetLatestValues failed (DCGM: %s)",
			         jst_dcgm_strerror(s->api, r));
			continue;
		}
		gpu_read(s, g, s->ngpus * nfields, &out[g]);
		if (!out[g].status && (flags & JST_READ_TELEMETRY))
			gpu_telemetry(s, g, s->ngpus * nfields, &out[g]);
	}
	return 0;
}

/* A value that stopped changing: the watch may have been dropped (a host
 * engine restarted, another client unwatched): watch again. */
static int dcgm_reopen(void *state, size_t i)
{
	struct dcgm_state *s = state;
	char why[JST_NOTE_MAX];
	(void)i;
	return watch(s, why, sizeof why);
}

static void dcgm_close(void *state)
{
	if (state)
		dcgm_free(state);
}

/* ---- process statistics ------------------------------------------------------- */

int jst_dcgm_pid_energy(void *state, unsigned pid, struct jst_dcgm_pid_energy *out, size_t max,
                        size_t *n, char *reason, size_t len)
{
	struct dcgm_state *s = state;
	*n = 0;
	if (!s->pid_stats) {
		snprintf(reason, len, "%s", s->pid_stats_why);
		return -ENOTSUP;
	}
	dcgmPidInfo_v2 *info = calloc(1, sizeof *info);
	if (!info)
		return -ENOMEM;
	info->version = dcgmPidInfo_version2;
	info->pid = pid;
	dcgmReturn_t r = s->api->GetPidInfo(s->handle, s->group, info);
	int rc = 0;
	if (r == DCGM_ST_NO_DATA) {
		snprintf(reason, len, "DCGM saw no process %u on the GPUs", pid);
		rc = -ESRCH;
	} else if (r != DCGM_ST_OK) {
		snprintf(reason, len, "dcgmGetPidInfo failed (DCGM: %s)",
		         jst_dcgm_strerror(s->api, r));
		rc = -EIO;
	}
	for (int g = 0; !rc && g < info->numGpus && g < DCGM_MAX_NUM_DEVICES && *n < max; g++) {
		const dcgmPidSingleInfo_t *gi = &info->gpus[g];
		if (DCGM_INT64_IS_BLANK(gi->energyConsumed) || gi->energyConsumed < 0)
			continue;
		out[(*n)++] = (struct jst_dcgm_pid_energy){
		    .gpu_id = gi->gpuId,
		    .energy_j = (double)gi->energyConsumed / 1e3,
		    .start_s = (double)gi->startTime / 1e6,
		    .end_s = (double)gi->endTime / 1e6,
		};
	}
	free(info);
	return rc;
}

static const struct jst_option_desc dcgm_options[] = {
    {"dcgm.library", "JOULESTAT_DCGM_LIBRARY", "libdcgm.so.4,libdcgm.so.3",
     "paths or sonames of libdcgm, comma-separated, tried in order"},
    {"dcgm.address", "JOULESTAT_DCGM_ADDRESS", "",
     "empty or 'embedded' (start a host engine in this process), host[:port] of "
     "nv-hostengine, or unix:/path of its socket"},
    {"dcgm.update-ms", NULL, "",
     "how often DCGM samples the watched fields, 1 to 10000 ms (empty: the sampler's period, "
     "kept within 10 to 100 ms)"},
    {"dcgm.process-stats", NULL, "0", "1 to watch per-process statistics, 0 not to"},
    {0},
};

const struct jst_backend_ops jst_backend_dcgm = {
    .name = "dcgm",
    .options = dcgm_options,
    .description = "NVIDIA GPUs through DCGM: the total-energy field of an embedded or "
                   "standalone host engine",
    .accuracy = DCGM_ACCURACY,
    .probe = dcgm_probe,
    .domains = dcgm_domains,
    .read = dcgm_read,
    .stamps = 1,
    .close = dcgm_close,
    .reopen = dcgm_reopen,
};
