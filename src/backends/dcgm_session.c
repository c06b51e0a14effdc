/*
 * One DCGM session per process, reference counted: libdcgm is loaded once,
 * dcgmInit called once, and one host engine (embedded, or nv-hostengine over
 * a socket) serves every meter. DCGM's own state is process-wide, so a meter
 * closing must not shut it down under another that still reads it.
 */
#include "dcgm_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* How long dcgmConnect_v2 may wait for nv-hostengine: a dead address must
 * not hang the meter's opening. */
#define DCGM_CONNECT_TIMEOUT_MS 2000

static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned session_refs;
static struct jst_dcgm_api session;
static char session_address[256];
static int session_embedded;
static dcgmHandle_t session_handle;

/* dlsym returns void *; POSIX guarantees the conversion to a function pointer. */
#define LOAD(field, symbol) (*(void **)(&session.field) = dlsym(session.lib, symbol))

static int session_resolve(char *reason, size_t len)
{
	LOAD(Init, "dcgmInit");
	LOAD(Shutdown, "dcgmShutdown");
	LOAD(StartEmbedded, "dcgmStartEmbedded");
	LOAD(StopEmbedded, "dcgmStopEmbedded");
	LOAD(Connect_v2, "dcgmConnect_v2");
	LOAD(Disconnect, "dcgmDisconnect");
	LOAD(GetAllSupportedDevices, "dcgmGetAllSupportedDevices");
	LOAD(GroupCreate, "dcgmGroupCreate");
	LOAD(GroupDestroy, "dcgmGroupDestroy");
	LOAD(GroupAddDevice, "dcgmGroupAddDevice");
	LOAD(FieldGroupCreate, "dcgmFieldGroupCreate");
	LOAD(FieldGroupDestroy, "dcgmFieldGroupDestroy");
	LOAD(WatchFields, "dcgmWatchFields");
	LOAD(UpdateAllFields, "dcgmUpdateAllFields");
	LOAD(EntitiesGetLatestValues, "dcgmEntitiesGetLatestValues");
	LOAD(ErrorString, "errorString");
	LOAD(UnwatchFields, "dcgmUnwatchFields");
	LOAD(WatchPidFields, "dcgmWatchPidFields");
	LOAD(GetPidInfo, "dcgmGetPidInfo");
	if (session.Init && session.Shutdown && session.StartEmbedded && session.StopEmbedded &&
	    session.Connect_v2 && session.Disconnect && session.GetAllSupportedDevices &&
	    session.GroupCreate && session.GroupDestroy && session.GroupAddDevice &&
	    session.FieldGroupCreate && session.FieldGroupDestroy && session.WatchFields &&
	    session.UpdateAllFields && session.EntitiesGetLatestValues)
		return 0;
	snprintf(reason, len,
	         "%s lacks dcgmInit, dcgmStartEmbedded, dcgmConnect_v2, dcgmWatchFields or "
	         "dcgmEntitiesGetLatestValues: DCGM is older than 2.0, update it",
	         session.path);
	return -ENOSYS;
}

static void session_unload(void)
{
	if (session.lib)
		dlclose(session.lib);
	memset(&session, 0, sizeof session);
}

/* The first library of the comma list that loads. */
static int session_load(const char *libraries, char *reason, size_t len)
{
	char list[1024], tried[1024] = "";
	snprintf(list, sizeof list, "%s", libraries);
	for (char *save = NULL, *lib = strtok_r(list, ",", &save); lib;
	     lib = strtok_r(NULL, ",", &save)) {
		dlerror();
		/* NODELETE: the embedded host engine leaves threads behind that
		 * must not find their code unmapped. */
		session.lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		if (session.lib) {
			snprintf(session.path, sizeof session.path, "%s", lib);
			return 0;
		}
		const char *why = dlerror();
		size_t used = strlen(tried);
		if (strchr(lib, '/'))
			snprintf(tried + used, sizeof tried - used, "%s%s (%s)", used ? ", " : "",
			         lib, why ? why : "dlopen failed");
		else
			snprintf(tried + used, sizeof tried - used, "%s%s not found",
			         used ? ", " : "", lib);
	}
	snprintf(reason, len,
	         "%s: install DCGM (datacenter-gpu-manager), or set the dcgm.library option "
	         "(JOULESTAT_DCGM_LIBRARY)",
	         tried[0] ? tried : "no library named");
	return -ENOENT;
}

static int is_embedded(const char *address)
{
	return !address || !*address || !strcmp(address, "embedded");
}

static int session_start(const char *address, char *reason, size_t len)
{
	dcgmReturn_t r = session.Init();
	if (r != DCGM_ST_OK) {
		snprintf(reason, len, "dcgmInit failed (DCGM: %s): check the DCGM installation",
		         jst_dcgm_strerror(&session, r));
		return -ENODEV;
	}
	if (is_embedded(address)) {
		r = session.StartEmbedded(DCGM_OPERATION_MODE_AUTO, &session_handle);
		if (r == DCGM_ST_OK)
			return 0;
		snprintf(reason, len,
		         "cannot start an embedded DCGM host engine (DCGM: %s): %s, or connect to "
		         "a running nv-hostengine with the dcgm.address option",
		         jst_dcgm_strerror(&session, r),
		         r == DCGM_ST_NO_PERMISSION || r == DCGM_ST_REQUIRES_ROOT
		             ? "this user may not open the GPUs"
		             : "check that nvidia-smi works");
	} else {
		dcgmConnectV2Params_v2 params = {
		    .version = dcgmConnectV2Params_version2,
		    .timeoutMs = DCGM_CONNECT_TIMEOUT_MS,
		};
		const char *addr = address;
		if (!strncmp(addr, "unix:", 5)) {
			addr += 5;
			params.addressIsUnixSocket = 1;
		} else if (addr[0] == '/') {
			params.addressIsUnixSocket = 1;
		}
		r = session.Connect_v2(addr, &params, &session_handle);
		if (r == DCGM_ST_OK)
			return 0;
		snprintf(
		    reason, len,
		    "cannot connect to nv-hostengine at %s (DCGM: %s): start it (nv-hostengine, "
		    "or systemctl start nvidia-dcgm), or fix the dcgm.address option",
		    address, jst_dcgm_strerror(&session, r));
	}
	session.Shutdown();
	return r == DCGM_ST_NO_PERMISSION || r == DCGM_ST_REQUIRES_ROOT ? -EACCES : -ENODEV;
}

int jst_dcgm_session_acquire(const char *libraries, const char *address,
                             const struct jst_dcgm_api **api, dcgmHandle_t *handle, char *reason,
                             size_t reason_len)
{
	int rc = 0;
	if (!libraries || !*libraries)
		libraries = "libdcgm.so.4,libdcgm.so.3";
	if (!address)
		address = "";
	pthread_mutex_lock(&session_mu);
	if (session_refs == 0) {
		rc = session_load(libraries, reason, reason_len);
		if (!rc)
			rc = session_resolve(reason, reason_len);
		if (!rc)
			rc = session_start(address, reason, reason_len);
		if (rc) {
			session_unload();
		} else {
			snprintf(session_address, sizeof session_address, "%s", address);
			session_embedded = is_embedded(address);
		}
	} else if (is_embedded(address) != session_embedded ||
	           (!session_embedded && strcmp(address, session_address) != 0)) {
		/* One process, one host engine: DCGM's state is process-wide. */
		snprintf(reason, reason_len,
		         "DCGM is already in use in this process through %s; close the meters "
		         "that use it before using %s",
		         session_embedded ? "an embedded host engine" : session_address,
		         is_embedded(address) ? "an embedded one" : address);
		rc = -EBUSY;
	}
	if (!rc) {
		session_refs++;
		*api = &session;
		*handle = session_handle;
	}
	pthread_mutex_unlock(&session_mu);
	return rc;
}

void jst_dcgm_session_release(void)
{
	pthread_mutex_lock(&session_mu);
	if (session_refs > 0 && --session_refs == 0) {
		if (session_embedded)
			session.StopEmbedded(session_handle);
		else
			session.Disconnect(session_handle);
		session.Shutdown();
		session_unload();
		session_handle = 0;
	}
	pthread_mutex_unlock(&session_mu);
}

const char *jst_dcgm_strerror(const struct jst_dcgm_api *api, dcgmReturn_t r)
{
	const char *s = api && api->ErrorString ? api->ErrorString(r) : NULL;
	if (s && *s)
		return s;
	switch (r) {
	case DCGM_ST_OK:
		return "Success";
	case DCGM_ST_NOT_SUPPORTED:
		return "This request is not supported by DCGM";
	case DCGM_ST_TIMEOUT:
		return "Timeout";
	case DCGM_ST_NO_PERMISSION:
		return "No permission";
	case DCGM_ST_GPU_IS_LOST:
		return "GPU is lost";
	case DCGM_ST_CONNECTION_NOT_VALID:
		return "The connection to the host engine is not valid any longer";
	default:
		return "Unknown error";
	}
}
