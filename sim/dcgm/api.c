/*
 * The DCGM entry points joulestat (and the benchmarks) call, as libdcgm.so.4
 * exports them. Thread safe: a reader-writer lock guards the state; reading
 * values only reads it. One host engine at a time (embedded, or a connection
 * to the nv-hostengine that JSTSIM_DCGM_HOSTENGINE says listens).
 */
#include "simdcgm.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define SIM_EXPORT __attribute__((visibility("default")))
#define SIM_HANDLE ((dcgmHandle_t)0x5a1c)

char sim_config_error[256];

static pthread_rwlock_t sim_lock = PTHREAD_RWLOCK_INITIALIZER;
static unsigned sim_refs;
static struct sim_dcgm sim;

/* ---- init, host engines --------------------------------------------------------- */

SIM_EXPORT dcgmReturn_t dcgmInit(void)
{
	dcgmReturn_t r = DCGM_ST_OK;
	pthread_rwlock_wrlock(&sim_lock);
	if (sim_refs == 0)
		r = sim_config_load(&sim);
	if (r == DCGM_ST_OK)
		sim_refs++;
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmShutdown(void)
{
	dcgmReturn_t r = DCGM_ST_OK;
	pthread_rwlock_wrlock(&sim_lock);
	if (sim_refs == 0) {
		r = DCGM_ST_UNINITIALIZED;
	} else if (--sim_refs == 0) {
		sim_truth_write(&sim, sim_now_ns());
		sim_config_free(&sim);
	}
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

/* At exit (or dlclose) with DCGM still initialised: the truth is still owed. */
__attribute__((destructor)) static void sim_fini(void)
{
	pthread_rwlock_wrlock(&sim_lock);
	if (sim_refs > 0) {
		sim_truth_write(&sim, sim_now_ns());
		sim_config_free(&sim);
		sim_refs = 0;
	}
	pthread_rwlock_unlock(&sim_lock);
}

SIM_EXPORT const char *errorString(dcgmReturn_t r)
{
	switch (r) {
	case DCGM_ST_OK:
		return "Success";
	case DCGM_ST_BADPARAM:
		return sim_config_error[0] ? sim_config_error : "Bad parameter passed to function";
	case DCGM_ST_NOT_SUPPORTED:
		return "This request is not supported by DCGM";
	case DCGM_ST_INIT_ERROR:
		return "DCGM initialization error";
	case DCGM_ST_UNINITIALIZED:
		return "Uninitialized";
	case DCGM_ST_NO_DATA:
		return "No data is available";
	case DCGM_ST_NOT_WATCHED:
		return "Field is not being updated";
	case DCGM_ST_GPU_IS_LOST:
		return "GPU is lost";
	case DCGM_ST_CONNECTION_NOT_VALID:
		return "The connection to the host engine is not valid any longer";
	case -26:
		return "Duplicate key passed to the function";
	default:
		return "Unknown error from DCGM";
	}
}

static dcgmReturn_t engine_start(int remote)
{
	dcgmReturn_t r = DCGM_ST_OK;
	pthread_rwlock_wrlock(&sim_lock);
	if (sim_refs == 0)
		r = DCGM_ST_UNINITIALIZED;
	else if (sim.engine)
		r = DCGM_ST_GENERIC_ERROR;
	else {
		sim.engine = 1;
		sim.remote = remote;
	}
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

static dcgmReturn_t engine_stop(dcgmHandle_t handle)
{
	pthread_rwlock_wrlock(&sim_lock);
	dcgmReturn_t r =
	    sim_refs && sim.engine && handle == SIM_HANDLE ? DCGM_ST_OK : DCGM_ST_BADPARAM;
	if (r == DCGM_ST_OK) {
		/* A connection's groups and watches go with it. */
		sim.engine = 0;
		memset(sim.groups, 0, sizeof sim.groups);
		memset(sim.fgroups, 0, sizeof sim.fgroups);
		for (unsigned k = 0; k < SIM_MAX_GPUS; k++)
			sim.gpu[k].watched = 0;
		sim.pid_watch_ns = INT64_MAX;
	}
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmStartEmbedded(int mode, dcgmHandle_t *handle)
{
	if (!handle || (mode != 1 && mode != 2))
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = engine_start(0);
	if (r == DCGM_ST_OK)
		*handle = SIM_HANDLE;
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmStopEmbedded(dcgmHandle_t handle)
{
	return engine_stop(handle);
}

SIM_EXPORT dcgmReturn_t dcgmConnect_v2(const char *address, dcgmConnectV2Params_v2 *params,
                                       dcgmHandle_t *handle)
{
	if (!address || !params || !handle || params->version != dcgmConnectV2Params_version2)
		return DCGM_ST_BADPARAM;
	pthread_rwlock_rdlock(&sim_lock);
	/* nv-hostengine listens where JSTSIM_DCGM_HOSTENGINE says, nowhere else. */
	const char *engine = sim.hostengine;
	int unix_socket = !strncmp(engine, "unix:", 5) || engine[0] == '/';
	if (!strncmp(engine, "unix:", 5))
		engine += 5;
	int listening = sim_refs && engine[0] && !strcmp(address, engine) &&
	                unix_socket == (params->addressIsUnixSocket != 0);
	pthread_rwlock_unlock(&sim_lock);
	if (!listening)
		return DCGM_ST_CONNECTION_NOT_VALID;
	dcgmReturn_t r = engine_start(1);
	if (r == DCGM_ST_OK)
		*handle = SIM_HANDLE;
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmDisconnect(dcgmHandle_t handle)
{
	return engine_stop(handle);
}

/* Take the lock and check the handle; on success the caller unlocks. */
static dcgmReturn_t enter(dcgmHandle_t handle, int write, int64_t *now)
{
	if (write)
		pthread_rwlock_wrlock(&sim_lock);
	else
		pthread_rwlock_rdlock(&sim_lock);
	*now = sim_now_ns();
	dcgmReturn_t r = DCGM_ST_OK;
	if (sim_refs == 0)
		r = DCGM_ST_UNINITIALIZED;
	else if (!sim.engine || handle != SIM_HANDLE)
		r = DCGM_ST_BADPARAM;
	else if (sim.remote && *now - sim.start_ns >= sim.disconnect_ns)
		r = DCGM_ST_CONNECTION_NOT_VALID;
	if (r != DCGM_ST_OK)
		pthread_rwlock_unlock(&sim_lock);
	return r;
}

static void leave(void)
{
	pthread_rwlock_unlock(&sim_lock);
}

/* ---- devices and groups ---------------------------------------------------------- */

SIM_EXPORT dcgmReturn_t dcgmGetAllSupportedDevices(dcgmHandle_t handle,
                                                   unsigned int ids[DCGM_MAX_NUM_DEVICES],
                                                   int *count)
{
	int64_t now;
	if (!ids || !count)
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = enter(handle, 0, &now);
	if (r)
		return r;
	*count = 0;
	for (unsigned k = 0; k < sim.ngpus; k++)
		if (!sim_lost(&sim, k, now))
			ids[(*count)++] = k;
	leave();
	return DCGM_ST_OK;
}

static dcgmReturn_t group_new(struct sim_group *table, const char *name, uintptr_t *id)
{
	for (unsigned i = 0; i < SIM_MAX_GROUPS; i++)
		if (table[i].used && !strcmp(table[i].name, name))
			return -26; /* DCGM_ST_DUPLICATE_KEY */
	for (unsigned i = 0; i < SIM_MAX_GROUPS; i++) {
		if (table[i].used)
			continue;
		table[i] = (struct sim_group){.used = 1};
		snprintf(table[i].name, sizeof table[i].name, "%s", name);
		*id = i + 1;
		return DCGM_ST_OK;
	}
	return -24; /* DCGM_ST_MAX_LIMIT */
}

static struct sim_group *group_get(struct sim_group *table, uintptr_t id)
{
	return id >= 1 && id <= SIM_MAX_GROUPS && table[id - 1].used ? &table[id - 1] : NULL;
}

SIM_EXPORT dcgmReturn_t dcgmGroupCreate(dcgmHandle_t handle, int type, const char *name,
                                        dcgmGpuGrp_t *group)
{
	int64_t now;
	if (!name || !group || type != DCGM_GROUP_EMPTY)
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	r = group_new(sim.groups, name, group);
	leave();
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmGroupDestroy(dcgmHandle_t handle, dcgmGpuGrp_t group)
{
	int64_t now;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	struct sim_group *g = group_get(sim.groups, group);
	if (g)
		g->used = 0;
	leave();
	return g ? DCGM_ST_OK : DCGM_ST_BADPARAM;
}

SIM_EXPORT dcgmReturn_t dcgmGroupAddDevice(dcgmHandle_t handle, dcgmGpuGrp_t group, unsigned int id)
{
	int64_t now;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	struct sim_group *g = group_get(sim.groups, group);
	if (!g || id >= sim.ngpus || g->n >= SIM_MAX_GPUS)
		r = DCGM_ST_BADPARAM;
	else
		g->ids[g->n++] = id;
	leave();
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmFieldGroupCreate(dcgmHandle_t handle, int n,
                                             const unsigned short *fields, const char *name,
                                             dcgmFieldGrp_t *fg)
{
	int64_t now;
	if (n < 1 || n > SIM_MAX_GPUS || !fields || !name || !fg)
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	r = group_new(sim.fgroups, name, fg);
	if (r == DCGM_ST_OK) {
		struct sim_group *g = group_get(sim.fgroups, *fg);
		for (int i = 0; i < n; i++)
			g->ids[g->n++] = fields[i];
	}
	leave();
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmFieldGroupDestroy(dcgmHandle_t handle, dcgmFieldGrp_t fg)
{
	int64_t now;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	struct sim_group *g = group_get(sim.fgroups, fg);
	if (g)
		g->used = 0;
	leave();
	return g ? DCGM_ST_OK : DCGM_ST_BADPARAM;
}

static dcgmReturn_t set_watch(dcgmHandle_t handle, dcgmGpuGrp_t group, dcgmFieldGrp_t fg, int on)
{
	int64_t now;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	struct sim_group *g = group_get(sim.groups, group);
	if (!g || !group_get(sim.fgroups, fg))
		r = DCGM_ST_BADPARAM;
	for (unsigned i = 0; !r && i < g->n; i++)
		if (on)
			sim.gpu[g->ids[i]].watched++;
		else if (sim.gpu[g->ids[i]].watched > 0)
			sim.gpu[g->ids[i]].watched--;
	leave();
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmWatchFields(dcgmHandle_t handle, dcgmGpuGrp_t group, dcgmFieldGrp_t fg,
                                        long long update_us, double keep_age, int keep_samples)
{
	if (update_us <= 0 || keep_age < 0 || keep_samples < 0)
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = set_watch(handle, group, fg, 1);
	if (r == DCGM_ST_OK) {
		pthread_rwlock_wrlock(&sim_lock);
		int64_t ns = update_us * 1000;
		if (sim_refs && (!sim.watch_ns || ns < sim.watch_ns))
			sim.watch_ns = ns;
		pthread_rwlock_unlock(&sim_lock);
	}
	return r;
}

SIM_EXPORT dcgmReturn_t dcgmUnwatchFields(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                          dcgmFieldGrp_t fg)
{
	return set_watch(handle, group, fg, 0);
}

SIM_EXPORT dcgmReturn_t dcgmUpdateAllFields(dcgmHandle_t handle, int wait)
{
	int64_t now;
	(void)wait; /* values are computed when asked for */
	dcgmReturn_t r = enter(handle, 0, &now);
	if (r)
		return r;
	leave();
	return DCGM_ST_OK;
}

/* ---- values ---------------------------------------------------------------------- */

static int64_t realtime_us(int64_t trace_ns)
{
	return sim.start_rt_us + trace_ns / 1000;
}

static void fill(dcgmFieldValue_v2 *v, unsigned k, unsigned short field, int64_t now)
{
	int64_t at = now - sim.start_ns;
	v->version = dcgmFieldValue_version2;
	v->entityGroupId = DCGM_FE_GPU;
	v->entityId = k;
	v->fieldId = field;
	v->status = DCGM_ST_OK;
	v->unused = 0;
	v->fieldType = DCGM_FT_DOUBLE;
	if (k >= sim.ngpus) {
		v->status = DCGM_ST_BADPARAM;
		return;
	}
	if (sim_lost(&sim, k, now)) {
		v->status = DCGM_ST_GPU_IS_LOST;
		return;
	}
	if (!sim.gpu[k].watched) {
		v->status = DCGM_ST_NOT_WATCHED;
		return;
	}
	double w = sim_power_w(&sim, k, now, &at);
	double util = fmin(100.0, 100.0 * w / SIM_POWER_LIMIT_W);
	switch (field) {
	case DCGM_FI_DEV_NAME:
		v->fieldType = DCGM_FT_STRING;
		snprintf(v->value.str, sizeof v->value.str, "%s", sim.name);
		break;
	case DCGM_FI_DEV_UUID:
		v->fieldType = DCGM_FT_STRING;
		snprintf(v->value.str, sizeof v->value.str, "%s", sim.gpu[k].uuid);
		break;
	case DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION:
		v->fieldType = DCGM_FT_INT64;
		v->value.i64 = (int64_t)sim_energy_mj(&sim, k, now, &at);
		/* Before Volta there is no such field; a failed sample is cached
		 * as a plain blank, as DCGM does. */
		if (sim.nocounter)
			v->value.i64 = DCGM_INT64_NOT_SUPPORTED;
		else if (sim_energy_blank(&sim, k, now))
			v->value.i64 = DCGM_INT64_BLANK;
		break;
	case DCGM_FI_DEV_POWER_USAGE:
		v->value.dbl = sim_average_w(&sim, k, now);
		break;
	case DCGM_FI_DEV_POWER_USAGE_INSTANT:
		v->value.dbl = w;
		break;
	case DCGM_FI_DEV_ENFORCED_POWER_LIMIT:
		v->value.dbl = SIM_POWER_LIMIT_W;
		break;
	case DCGM_FI_DEV_GPU_TEMP:
		v->fieldType = DCGM_FT_INT64;
		v->value.i64 = llround(35.0 + w / 10.0);
		break;
	case DCGM_FI_DEV_GPU_UTIL:
		v->fieldType = DCGM_FT_INT64;
		v->value.i64 = llround(util);
		break;
	case DCGM_FI_DEV_SM_CLOCK:
		v->fieldType = DCGM_FT_INT64;
		v->value.i64 = llround(345 + (1980 - 345) * util / 100.0);
		break;
	default:
		v->status = DCGM_ST_NOT_WATCHED;
		return;
	}
	v->ts = realtime_us(at);
}

SIM_EXPORT dcgmReturn_t dcgmEntitiesGetLatestValues(dcgmHandle_t handle,
                                                    dcgmGroupEntityPair_t entities[],
                                                    unsigned int nentities, unsigned short fields[],
                                                    unsigned int nfields, unsigned int flags,
                                                    dcgmFieldValue_v2 values[])
{
	int64_t now;
	(void)flags;
	if (!entities || !fields || !values || !nentities || !nfields)
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = enter(handle, 0, &now);
	if (r)
		return r;
	/* Entity-major, as DCGM orders them. */
	for (unsigned e = 0; e < nentities; e++)
		for (unsigned f = 0; f < nfields; f++) {
			dcgmFieldValue_v2 *v = &values[e * nfields + f];
			if (entities[e].entityGroupId != DCGM_FE_GPU) {
				v->status = DCGM_ST_NOT_SUPPORTED;
				continue;
			}
			fill(v, entities[e].entityId, fields[f], now);
		}
	leave();
	return DCGM_ST_OK;
}

/* ---- process statistics ---------------------------------------------------------- */

SIM_EXPORT dcgmReturn_t dcgmWatchPidFields(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                           long long update_us, double keep_age, int keep_samples)
{
	int64_t now;
	if (update_us <= 0 || keep_age < 0 || keep_samples < 0)
		return DCGM_ST_BADPARAM;
	dcgmReturn_t r = enter(handle, 1, &now);
	if (r)
		return r;
	if (!group_get(sim.groups, group))
		r = DCGM_ST_BADPARAM;
	else if (sim.pid_watch_ns == INT64_MAX)
		sim.pid_watch_ns = now - sim.start_ns;
	leave();
	return r;
}

/* A process that exists ran on every GPU of the group from the pid watch on:
 * its energy is what the counters gained since (the truth file says when). */
SIM_EXPORT dcgmReturn_t dcgmGetPidInfo(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                       dcgmPidInfo_v2 *info)
{
	int64_t now;
	if (!info || info->version != dcgmPidInfo_version2)
		return info ? -12 /* DCGM_ST_VER_MISMATCH */ : DCGM_ST_BADPARAM;
	dcgmReturn_t r = enter(handle, 0, &now);
	if (r)
		return r;
	struct sim_group *g = group_get(sim.groups, group);
	if (!g || sim.pid_watch_ns == INT64_MAX)
		r = !g ? DCGM_ST_BADPARAM : DCGM_ST_NOT_WATCHED;
	else if (kill((pid_t)info->pid, 0) != 0 && errno == ESRCH)
		r = DCGM_ST_NO_DATA;
	info->numGpus = 0;
	for (unsigned i = 0; !r && i < g->n && i < DCGM_MAX_NUM_DEVICES; i++) {
		unsigned k = g->ids[i];
		dcgmPidSingleInfo_t *gi = &info->gpus[info->numGpus++];
		memset(gi, 0, sizeof *gi);
		gi->gpuId = k;
		int64_t begin = sim.start_ns + sim.pid_watch_ns;
		gi->energyConsumed = (long long)(sim_energy_mj(&sim, k, now, NULL) -
		                                 sim_energy_mj(&sim, k, begin, NULL));
		gi->startTime = realtime_us(sim.pid_watch_ns);
		gi->endTime = 0;
	}
	leave();
	return r;
}
