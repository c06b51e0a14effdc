/*
 * One NVML session per process, reference counted. NVML itself counts
 * nvmlInit/nvmlShutdown, but dlopen/dlclose and the symbol table must be done
 * once, and a meter closing must not shut NVML down under another meter (or a
 * later DCGM user) that still reads it. This is the one piece of process-wide
 * state the NVML backend needs; the mutex makes it safe to open and close
 * meters from any thread.
 */
#include "nvml_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned session_refs;
static struct jst_nvml_api session;

/* dlsym returns void *; POSIX guarantees the conversion to a function pointer. */
#define LOAD(field, symbol) (*(void **)(&session.field) = dlsym(session.lib, symbol))

static int session_resolve(char *reason, size_t len)
{
	LOAD(Init, "nvmlInit_v2");
	LOAD(Shutdown, "nvmlShutdown");
	LOAD(DeviceGetCount, "nvmlDeviceGetCount_v2");
	LOAD(DeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2");
	LOAD(DeviceGetUUID, "nvmlDeviceGetUUID");
	LOAD(ErrorString, "nvmlErrorString");
	LOAD(DeviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID");
	LOAD(DeviceGetDeviceHandleFromMigDeviceHandle,
	     "nvmlDeviceGetDeviceHandleFromMigDeviceHandle");
	LOAD(DeviceGetName, "nvmlDeviceGetName");
	LOAD(DeviceGetArchitecture, "nvmlDeviceGetArchitecture");
	LOAD(DeviceGetMigMode, "nvmlDeviceGetMigMode");
	LOAD(DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption");
	LOAD(DeviceGetFieldValues, "nvmlDeviceGetFieldValues");
	LOAD(DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage");
	LOAD(DeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit");
	LOAD(DeviceGetTemperature, "nvmlDeviceGetTemperature");
	LOAD(DeviceGetClockInfo, "nvmlDeviceGetClockInfo");
	LOAD(DeviceGetUtilizationRates, "nvmlDeviceGetUtilizationRates");
	if (session.Init && session.Shutdown && session.DeviceGetCount &&
	    session.DeviceGetHandleByIndex && session.DeviceGetUUID)
		return 0;
	snprintf(reason, len,
	         "%s lacks nvmlInit_v2, nvmlDeviceGetCount_v2, nvmlDeviceGetHandleByIndex_v2 or "
	         "nvmlDeviceGetUUID: the NVIDIA driver is too old, update it",
	         session.path);
	return -ENOSYS;
}

static void init_failure(nvmlReturn_t r, char *reason, size_t len)
{
	const char *what = jst_nvml_strerror(&session, r);
	const char *todo;
	switch (r) {
	case NVML_ERROR_DRIVER_NOT_LOADED:
		todo = "the NVIDIA kernel driver is not loaded: load it (modprobe nvidia) or check "
		       "nvidia-smi";
		break;
	case NVML_ERROR_NO_PERMISSION:
		todo =
		    "no permission to /dev/nvidiactl or /dev/nvidia*: add this user to the group "
		    "that owns them, or ask an administrator";
		break;
	case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
		todo =
		    "the NVML library and the kernel driver differ in version: reboot, or reload "
		    "the nvidia module after a driver update";
		break;
	case NVML_ERROR_LIBRARY_NOT_FOUND:
		todo = "the driver's libraries are incomplete: reinstall the NVIDIA driver";
		break;
	default:
		todo = "check that nvidia-smi works for this user";
		break;
	}
	snprintf(reason, len, "nvmlInit failed (NVML: %s): %s", what, todo);
}

static void session_unload(void)
{
	if (session.lib)
		dlclose(session.lib);
	memset(&session, 0, sizeof session);
}

static int session_open(const char *library, char *reason, size_t len)
{
	snprintf(session.path, sizeof session.path, "%s", library);
	dlerror();
	/* NODELETE: dlclose must not unmap a driver library that may leave threads
	 * or exit handlers behind; a later session reuses the mapping. */
	session.lib = dlopen(library, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!session.lib) {
		const char *why = dlerror();
		if (strchr(library, '/'))
			snprintf(reason, len,
			         "cannot load %s (%s): check the nvml.library option "
			         "(JOULESTAT_NVML_LIBRARY)",
			         library, why ? why : "dlopen failed");
		else
			snprintf(reason, len,
			         "%s not found: install the NVIDIA driver, or set the "
			         "nvml.library option (JOULESTAT_NVML_LIBRARY)",
			         library);
		session_unload();
		return -ENOENT;
	}
	int rc = session_resolve(reason, len);
	if (rc) {
		session_unload();
		return rc;
	}
	nvmlReturn_t r = session.Init();
	if (r != NVML_SUCCESS) {
		init_failure(r, reason, len);
		session_unload();
		return r == NVML_ERROR_NO_PERMISSION ? -EACCES : -ENODEV;
	}
	return 0;
}

int jst_nvml_session_acquire(const char *library, const struct jst_nvml_api **api, char *reason,
                             size_t reason_len)
{
	int rc = 0;
	if (!library || !*library)
		library = "libnvidia-ml.so.1";
	pthread_mutex_lock(&session_mu);
	if (session_refs == 0) {
		rc = session_open(library, reason, reason_len);
	} else if (strcmp(session.path, library) != 0) {
		/* One process, one NVML: two libraries would both claim the driver. */
		snprintf(reason, reason_len,
		         "NVML is already loaded from %s in this process; close the meters that "
		         "use it before loading %s",
		         session.path, library);
		rc = -EBUSY;
	}
	if (!rc) {
		session_refs++;
		*api = &session;
	}
	pthread_mutex_unlock(&session_mu);
	return rc;
}

void jst_nvml_session_release(void)
{
	pthread_mutex_lock(&session_mu);
	if (session_refs > 0 && --session_refs == 0) {
		session.Shutdown();
		session_unload();
	}
	pthread_mutex_unlock(&session_mu);
}

const char *jst_nvml_strerror(const struct jst_nvml_api *api, nvmlReturn_t rc)
{
	const char *s = api && api->ErrorString ? api->ErrorString(rc) : NULL;
	if (s && *s)
		return s;
	switch (rc) {
	case NVML_SUCCESS:
		return "Success";
	case NVML_ERROR_NOT_SUPPORTED:
		return "Not Supported";
	case NVML_ERROR_NO_PERMISSION:
		return "Insufficient Permissions";
	case NVML_ERROR_DRIVER_NOT_LOADED:
		return "Driver Not Loaded";
	case NVML_ERROR_GPU_IS_LOST:
		return "GPU is lost";
	default:
		return "Unknown Error";
	}
}
