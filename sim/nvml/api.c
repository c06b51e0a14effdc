/*
 * The NVML entry points joulestat (and the benchmarks) call, as
 * libnvidia-ml.so.1 exports them. Thread safe: a reader-writer lock guards the
 * state against nvmlInit/nvmlShutdown; readings themselves only read it.
 */
#include "simnvml.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define SIM_EXPORT __attribute__((visibility("default")))

char sim_config_error[256];

static pthread_rwlock_t sim_lock = PTHREAD_RWLOCK_INITIALIZER;
static unsigned sim_refs;
static struct sim_nvml sim;

/* ---- init and shutdown ------------------------------------------------------- */

SIM_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	nvmlReturn_t r = NVML_SUCCESS;
	pthread_rwlock_wrlock(&sim_lock);
	if (sim_refs == 0)
		r = sim_config_load(&sim);
	if (r == NVML_SUCCESS)
		sim_refs++;
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlInit(void)
{
	return nvmlInit_v2();
}

/* What NVIDIA's Python bindings (pynvml) call: flags only skip GPUs at
 * attach, which the simulator does not model. */
SIM_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	(void)flags;
	return nvmlInit_v2();
}

SIM_EXPORT nvmlReturn_t nvmlShutdown(void)
{
	nvmlReturn_t r = NVML_SUCCESS;
	pthread_rwlock_wrlock(&sim_lock);
	if (sim_refs == 0) {
		r = NVML_ERROR_UNINITIALIZED;
	} else if (--sim_refs == 0) {
		sim_truth_write(&sim, sim_now_ns());
		sim_config_free(&sim);
	}
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

/* At exit (or dlclose) with NVML still initialised: the truth is still owed. */
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

SIM_EXPORT const char *nvmlErrorString(nvmlReturn_t r)
{
	switch (r) {
	case NVML_SUCCESS:
		return "Success";
	case NVML_ERROR_UNINITIALIZED:
		return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT:
		return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED:
		return "Not Supported";
	case NVML_ERROR_NO_PERMISSION:
		return "Insufficient Permissions";
	case NVML_ERROR_NOT_FOUND:
		return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE:
		return "Insufficient Size";
	case NVML_ERROR_DRIVER_NOT_LOADED:
		return "Driver Not Loaded";
	case NVML_ERROR_GPU_IS_LOST:
		return "GPU is lost";
	default:
		/* A bad JSTSIM_NVML_* setting says what is wrong with it. */
		return sim_config_error[0] ? sim_config_error : "Unknown Error";
	}
}

SIM_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	if (!version)
		return NVML_ERROR_INVALID_ARGUMENT;
	int n = snprintf(version, length, "550.54.15-sim");
	return n < 0 || (unsigned)n >= length ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
}

/* ---- devices ------------------------------------------------------------------- */

/* Take the read lock and check the handle; on success the caller unlocks. */
static nvmlReturn_t enter(nvmlDevice_t dev, int allow_mig, int allow_lost, int64_t *now)
{
	pthread_rwlock_rdlock(&sim_lock);
	nvmlReturn_t r = NVML_SUCCESS;
	*now = sim_now_ns();
	if (sim_refs == 0)
		r = NVML_ERROR_UNINITIALIZED;
	else if (!dev || dev->index >= sim.ngpus ||
	         dev != (dev->is_mig ? &sim.mig_dev[dev->index] : &sim.dev[dev->index]))
		r = NVML_ERROR_INVALID_ARGUMENT;
	else if (!allow_lost && *now - sim.start_ns >= sim.gpu[dev->index].lost_after_ns)
		r = NVML_ERROR_GPU_IS_LOST;
	else if (dev->is_mig && !allow_mig)
		r = NVML_ERROR_NOT_SUPPORTED;
	if (r != NVML_SUCCESS)
		pthread_rwlock_unlock(&sim_lock);
	return r;
}

static void leave(void)
{
	pthread_rwlock_unlock(&sim_lock);
}

static nvmlReturn_t copy_text(char *dst, unsigned int length, const char *src)
{
	if (!dst)
		return NVML_ERROR_INVALID_ARGUMENT;
	size_t n = strlen(src);
	if (n >= length)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(dst, src, n + 1);
	return NVML_SUCCESS;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
	nvmlReturn_t r = NVML_SUCCESS;
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_rwlock_rdlock(&sim_lock);
	if (sim_refs == 0)
		r = NVML_ERROR_UNINITIALIZED;
	else
		*count = sim.ngpus;
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *dev)
{
	nvmlReturn_t r = NVML_SUCCESS;
	if (!dev)
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_rwlock_rdlock(&sim_lock);
	if (sim_refs == 0)
		r = NVML_ERROR_UNINITIALIZED;
	else if (index >= sim.ngpus)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else if (sim_now_ns() - sim.start_ns >= sim.gpu[index].lost_after_ns)
		r = NVML_ERROR_GPU_IS_LOST;
	else
		*dev = &sim.dev[index];
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *dev)
{
	nvmlReturn_t r = NVML_ERROR_NOT_FOUND;
	if (!uuid || !dev)
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_rwlock_rdlock(&sim_lock);
	if (sim_refs == 0)
		r = NVML_ERROR_UNINITIALIZED;
	for (unsigned k = 0; sim_refs && k < sim.ngpus; k++) {
		if (!strcmp(uuid, sim.gpu[k].uuid)) {
			*dev = &sim.dev[k];
			r = NVML_SUCCESS;
		} else if (sim.gpu[k].mig && !strcmp(uuid, sim.gpu[k].mig_uuid)) {
			*dev = &sim.mig_dev[k];
			r = NVML_SUCCESS;
		}
	}
	pthread_rwlock_unlock(&sim_lock);
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig,
                                                                     nvmlDevice_t *dev)
{
	int64_t now;
	nvmlReturn_t r = enter(mig, 1, 0, &now);
	if (r)
		return r;
	if (!mig->is_mig || !dev)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*dev = &sim.dev[mig->index];
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t dev, unsigned int *index)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!index)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*index = dev->index;
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned int length)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 1, 0, &now);
	if (r)
		return r;
	r = copy_text(name, length, sim.name);
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned int length)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 1, 0, &now);
	if (r)
		return r;
	const struct sim_gpu *g = &sim.gpu[dev->index];
	r = copy_text(uuid, length, dev->is_mig ? g->mig_uuid : g->uuid);
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!pci) {
		leave();
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	memset(pci, 0, sizeof *pci);
	unsigned bus = 0x10 + 8 * (dev->index % 16);
	snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:00.0", dev->index / 16, bus);
	snprintf(pci->busId, sizeof pci->busId, "%s", sim.gpu[dev->index].bus_id);
	pci->domain = dev->index / 16;
	pci->bus = bus;
	pci->pciDeviceId = 0x233010de; /* H100 SXM5, NVIDIA */
	pci->pciSubSystemId = 0x16c110de;
	leave();
	return NVML_SUCCESS;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t dev, unsigned int *arch)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!arch)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*arch = sim.arch;
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current,
                                             unsigned int *pending)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!current || !pending)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*current = *pending = (unsigned)sim.gpu[dev->index].mig;
	leave();
	return r;
}

/* ---- energy and power ---------------------------------------------------------- */

/* Calls of nvmlDeviceGetTotalEnergyConsumption, counted only while a
 * benchmark asks (jstsim_nvml_energy_reads): how many of a meter's window
 * edges read the counter. Off, the reads pay one predictable branch. */
static _Atomic int count_reads;
static _Atomic unsigned long energy_reads;

/* Turn the count on (1) or off (0); returns the calls counted so far. Not
 * part of NVML: the simulator's own. */
SIM_EXPORT unsigned long jstsim_nvml_energy_reads(int on)
{
	atomic_store_explicit(&count_reads, on, memory_order_relaxed);
	return atomic_load(&energy_reads);
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev,
                                                            unsigned long long *energy)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (atomic_load_explicit(&count_reads, memory_order_relaxed))
		atomic_fetch_add_explicit(&energy_reads, 1, memory_order_relaxed);
	int64_t until = sim_read_delay_begin(&sim);
	if (until)
		now = sim_now_ns(); /* the value's instant, inside the call */
	if (!energy)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else if (sim.nocounter)
		r = NVML_ERROR_NOT_SUPPORTED; /* pre-Volta */
	else if (sim_energy_error(&sim, dev->index, now))
		r = NVML_ERROR_TIMEOUT; /* a busy driver: transient */
	else
		*energy = sim_energy_mj(&sim, dev->index, now);
	leave();
	sim_read_delay_end(until);
	return r;
}

static unsigned to_mw(double w)
{
	return (unsigned)llround(w * 1e3);
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned int *power)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	int64_t until = sim_read_delay_begin(&sim);
	if (until)
		now = sim_now_ns();
	if (!power)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*power = to_mw(sim_average_w(&sim, dev->index, now));
	leave();
	sim_read_delay_end(until);
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t dev, int count,
                                                 nvmlFieldValue_t *values)
{
	int64_t now;
	if (count < 0 || (count > 0 && !values))
		return NVML_ERROR_INVALID_ARGUMENT;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r) {
		for (int i = 0; i < count; i++)
			values[i].nvmlReturn = r;
		return r;
	}
	int64_t until = sim_read_delay_begin(&sim);
	if (until)
		now = sim_now_ns();
	struct timeval tv;
	gettimeofday(&tv, NULL);
	for (int i = 0; i < count; i++) {
		nvmlFieldValue_t *v = &values[i];
		v->timestamp = (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
		v->latencyUsec = 0;
		v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
		v->value.ullVal = 0;
		v->nvmlReturn = NVML_SUCCESS;
		if (v->fieldId == NVML_FI_DEV_POWER_INSTANT && !sim.noinstant && v->scopeId == 0)
			v->value.uiVal = to_mw(sim_instant_w(&sim, dev->index, now));
		else if (v->fieldId == NVML_FI_DEV_POWER_AVERAGE && v->scopeId == 0)
			v->value.uiVal = to_mw(sim_average_w(&sim, dev->index, now));
		else
			v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
	}
	leave();
	sim_read_delay_end(until);
	return NVML_SUCCESS;
}

/* ---- telemetry ------------------------------------------------------------------ */

static double utilization(int64_t now, unsigned k)
{
	double u = 100.0 * sim_instant_w(&sim, k, now) / (SIM_POWER_LIMIT_MW / 1e3);
	return u > 100 ? 100 : u;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t dev, unsigned int *limit)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!limit)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*limit = SIM_POWER_LIMIT_MW;
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, int sensor, unsigned int *temp)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!temp || sensor != NVML_TEMPERATURE_GPU)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else
		*temp = (unsigned)llround(35.0 + sim_instant_w(&sim, dev->index, now) / 10.0);
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *util)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	if (!util) {
		r = NVML_ERROR_INVALID_ARGUMENT;
	} else {
		double u = utilization(now, dev->index);
		util->gpu = (unsigned)llround(u);
		util->memory = (unsigned)llround(u / 2);
	}
	leave();
	return r;
}

SIM_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, int type, unsigned int *clock)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	double u = utilization(now, dev->index) / 100.0;
	if (!clock) {
		leave();
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	if (type == 0 || type == NVML_CLOCK_SM) /* graphics, SM: rise with load */
		*clock = (unsigned)llround(345 + (1980 - 345) * u);
	else if (type == 2) /* memory */
		*clock = 2619;
	else if (type == 3) /* video */
		*clock = 1755;
	else
		r = NVML_ERROR_INVALID_ARGUMENT;
	leave();
	return r;
}

/* Each configured process's sample at the last 100 ms boundary, stamped in us
 * of CLOCK_MONOTONIC; NOT_FOUND when no sample is newer than last_seen. */
SIM_EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t dev,
                                                        nvmlProcessUtilizationSample_t *samples,
                                                        unsigned int *count,
                                                        unsigned long long last_seen)
{
	int64_t now;
	nvmlReturn_t r = enter(dev, 0, 0, &now);
	if (r)
		return r;
	unsigned n = 0;
	for (unsigned i = 0; i < sim.nprocs; i++)
		n += sim.proc[i].gpu == dev->index;
	unsigned long long stamp =
	    (unsigned long long)((now / SIM_PROC_SAMPLE_NS) * SIM_PROC_SAMPLE_NS / 1000);
	if (!count) {
		r = NVML_ERROR_INVALID_ARGUMENT;
	} else if (n == 0 || stamp <= last_seen) {
		*count = 0;
		r = NVML_ERROR_NOT_FOUND;
	} else if (!samples || *count < n) {
		*count = n;
		r = NVML_ERROR_INSUFFICIENT_SIZE;
	} else {
		unsigned k = 0;
		for (unsigned i = 0; i < sim.nprocs; i++) {
			if (sim.proc[i].gpu != dev->index)
				continue;
			samples[k++] =
			    (nvmlProcessUtilizationSample_t){.pid = sim.proc[i].pid,
			                                     .timeStamp = stamp,
			                                     .smUtil = sim.proc[i].sm,
			                                     .memUtil = sim.proc[i].sm / 2};
		}
		*count = n;
	}
	leave();
	return r;
}
