/*
 * The part of NVIDIA's DCGM API (dcgm_agent.h, dcgm_structs.h, dcgm_fields.h)
 * joulestat uses, declared here rather than taken from NVIDIA's headers:
 * libdcgm is loaded with dlopen at run time, so nothing of NVIDIA's is needed
 * to build. Values and layouts follow the public headers of DCGM 3 and 4 and
 * are checked below; sim/dcgm implements the same declarations.
 */
#ifndef JST_DCGM_API_H
#define JST_DCGM_API_H

#include <stddef.h>
#include <stdint.h>

typedef int dcgmReturn_t;
typedef uintptr_t dcgmHandle_t;
typedef uintptr_t dcgmGpuGrp_t;
typedef uintptr_t dcgmFieldGrp_t;
typedef unsigned int dcgm_field_entity_group_t; /* an enum in dcgm_fields.h: 4 bytes */
typedef unsigned int dcgm_field_eid_t;

/* dcgmReturn_t */
#define DCGM_ST_OK 0
#define DCGM_ST_BADPARAM (-1)
#define DCGM_ST_GENERIC_ERROR (-3)
#define DCGM_ST_NOT_SUPPORTED (-6)
#define DCGM_ST_INIT_ERROR (-7)
#define DCGM_ST_NVML_ERROR (-8)
#define DCGM_ST_UNINITIALIZED (-10)
#define DCGM_ST_TIMEOUT (-11)
#define DCGM_ST_NO_DATA (-14)
#define DCGM_ST_STALE_DATA (-15)
#define DCGM_ST_NOT_WATCHED (-16)
#define DCGM_ST_NO_PERMISSION (-17)
#define DCGM_ST_GPU_IS_LOST (-18)
#define DCGM_ST_CONNECTION_NOT_VALID (-21)
#define DCGM_ST_LIBRARY_NOT_FOUND (-25)
#define DCGM_ST_REQUIRES_ROOT (-29)
#define DCGM_ST_NVML_NOT_LOADED (-56)
#define DCGM_ST_NVML_DRIVER_TIMEOUT (-57)

#define DCGM_MAX_NUM_DEVICES 32
#define DCGM_MAX_STR_LENGTH 256
#define DCGM_MAX_BLOB_LENGTH 4096
#define DCGM_MAX_PID_INFO_NUM 16
#define DCGM_MAX_XID_INFO 10
#define DCGM_HEALTH_WATCH_COUNT_V1 10

/* dcgmOperationMode_t: AUTO lets the embedded engine update watched fields itself. */
#define DCGM_OPERATION_MODE_AUTO 1
/* dcgmGroupType_t */
#define DCGM_GROUP_EMPTY 1
/* dcgm_field_entity_group_t */
#define DCGM_FE_GPU 1

/* Field types (fieldType) */
#define DCGM_FT_DOUBLE 'd'
#define DCGM_FT_INT64 'i'
#define DCGM_FT_STRING 's'

/* Blank values: a field DCGM has no value for holds one of these. */
#define DCGM_INT64_BLANK 0x7ffffffffffffff0LL
#define DCGM_FP64_BLANK 140737488355328.0
#define DCGM_INT64_NOT_FOUND (DCGM_INT64_BLANK + 1)
#define DCGM_INT64_NOT_SUPPORTED (DCGM_INT64_BLANK + 2)
#define DCGM_INT64_NOT_PERMISSIONED (DCGM_INT64_BLANK + 3)
#define DCGM_INT64_NOT_FOUND (DCGM_INT64_BLANK + 1)
#define DCGM_INT64_NOT_SUPPORTED (DCGM_INT64_BLANK + 2)
#define DCGM_INT64_NOT_PERMISSIONED (DCGM_INT64_BLANK + 3)
#define DCGM_INT64_IS_BLANK(v) ((v) >= DCGM_INT64_BLANK)
#define DCGM_FP64_IS_BLANK(v) ((v) >= DCGM_FP64_BLANK)

/* Field ids (dcgm_fields.h; newer headers rename some, the numbers stay). */
#define DCGM_FI_DEV_NAME 50                      /* string */
#define DCGM_FI_DEV_UUID 54                      /* string */
#define DCGM_FI_DEV_SM_CLOCK 100                 /* int64 MHz */
#define DCGM_FI_DEV_GPU_TEMP 150                 /* int64 °C */
#define DCGM_FI_DEV_POWER_USAGE 155              /* double W */
#define DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION 156 /* int64 mJ since the driver loaded */
#define DCGM_FI_DEV_POWER_USAGE_INSTANT 157      /* double W */
#define DCGM_FI_DEV_ENFORCED_POWER_LIMIT 164     /* double W */
#define DCGM_FI_DEV_GPU_UTIL 203                 /* int64 % */

#define DCGM_MAKE_VERSION(size, ver) ((unsigned int)((size) | ((unsigned long)(ver) << 24U)))

typedef struct {
	unsigned int version;
	unsigned int persistAfterDisconnect;
	unsigned int timeoutMs;
	unsigned int addressIsUnixSocket;
} dcgmConnectV2Params_v2;
#define dcgmConnectV2Params_version2 DCGM_MAKE_VERSION(sizeof(dcgmConnectV2Params_v2), 2)

typedef struct {
	dcgm_field_entity_group_t entityGroupId;
	dcgm_field_eid_t entityId;
} dcgmGroupEntityPair_t;

typedef struct {
	unsigned int version;
	dcgm_field_entity_group_t entityGroupId;
	dcgm_field_eid_t entityId;
	unsigned short fieldId;
	unsigned short fieldType;
	int status;
	unsigned int unused;
	int64_t ts; /* microseconds since 1970 of the value's sample */
	union {
		int64_t i64;
		double dbl;
		char str[DCGM_MAX_STR_LENGTH];
		char blob[DCGM_MAX_BLOB_LENGTH];
	} value;
} dcgmFieldValue_v2;
#define dcgmFieldValue_version2 DCGM_MAKE_VERSION(sizeof(dcgmFieldValue_v2), 2)

/* Process statistics (dcgmGetPidInfo). */
typedef struct {
	long long minValue, maxValue, average;
} dcgmStatSummaryInt64_t;
typedef struct {
	int minValue, maxValue, average;
} dcgmStatSummaryInt32_t;
typedef struct {
	unsigned int pid;
	double smUtil;
	double memUtil;
} dcgmProcessUtilInfo_t;

typedef struct {
	unsigned int gpuId;
	long long energyConsumed; /* mJ ("milli-watt seconds") over the process's life */
	dcgmStatSummaryInt64_t pcieRxBandwidth;
	dcgmStatSummaryInt64_t pcieTxBandwidth;
	long long pcieReplays;
	long long startTime; /* us since 1970 */
	long long endTime;   /* us since 1970, 0 while it runs */
	dcgmProcessUtilInfo_t processUtilization;
	dcgmStatSummaryInt32_t smUtilization;
	dcgmStatSummaryInt32_t memoryUtilization;
	unsigned int eccSingleBit;
	unsigned int eccDoubleBit;
	dcgmStatSummaryInt32_t memoryClock;
	dcgmStatSummaryInt32_t smClock;
	int numXidCriticalErrors;
	long long xidCriticalErrorsTs[DCGM_MAX_XID_INFO];
	int numOtherComputePids;
	unsigned int otherComputePids[DCGM_MAX_PID_INFO_NUM];
	int numOtherGraphicsPids;
	unsigned int otherGraphicsPids[DCGM_MAX_PID_INFO_NUM];
	long long maxGpuMemoryUsed;
	long long powerViolationTime;
	long long thermalViolationTime;
	long long reliabilityViolationTime;
	long long boardLimitViolationTime;
	long long lowUtilizationTime;
	long long syncBoostTime;
	unsigned int overallHealth; /* dcgmHealthWatchResults_t */
	unsigned int incidentCount;
	struct {
		unsigned int system; /* dcgmHealthSystems_t */
		unsigned int health; /* dcgmHealthWatchResults_t */
	} systems[DCGM_HEALTH_WATCH_COUNT_V1];
} dcgmPidSingleInfo_t;

typedef struct {
	unsigned int version;
	unsigned int pid;
	unsigned int unused;
	int numGpus;
	dcgmPidSingleInfo_t summary;
	dcgmPidSingleInfo_t gpus[DCGM_MAX_NUM_DEVICES];
} dcgmPidInfo_v2;
#define dcgmPidInfo_version2 DCGM_MAKE_VERSION(sizeof(dcgmPidInfo_v2), 2)

/* A wrong layout would read garbage from a real libdcgm without any error. */
_Static_assert(sizeof(dcgmConnectV2Params_v2) == 16, "dcgmConnectV2Params_v2");
_Static_assert(sizeof(dcgmGroupEntityPair_t) == 8, "dcgmGroupEntityPair_t");
_Static_assert(offsetof(dcgmFieldValue_v2, ts) == 24, "dcgmFieldValue_v2.ts");
_Static_assert(offsetof(dcgmFieldValue_v2, value) == 32, "dcgmFieldValue_v2.value");
_Static_assert(sizeof(dcgmFieldValue_v2) == 4128, "dcgmFieldValue_v2 is 4128 bytes");
_Static_assert(offsetof(dcgmPidSingleInfo_t, energyConsumed) == 8, "energyConsumed");
_Static_assert(offsetof(dcgmPidInfo_v2, summary) == 16, "dcgmPidInfo_v2.summary");
_Static_assert(sizeof(dcgmPidSingleInfo_t) == 536, "dcgmPidSingleInfo_t is 536 bytes");
_Static_assert(sizeof(dcgmPidInfo_v2) == 17704, "dcgmPidInfo_v2 is 17704 bytes");

typedef dcgmReturn_t (*dcgmInit_fn)(void);
typedef dcgmReturn_t (*dcgmShutdown_fn)(void);
typedef dcgmReturn_t (*dcgmStartEmbedded_fn)(int opMode, dcgmHandle_t *handle);
typedef dcgmReturn_t (*dcgmStopEmbedded_fn)(dcgmHandle_t handle);
typedef dcgmReturn_t (*dcgmConnect_v2_fn)(const char *address, dcgmConnectV2Params_v2 *params,
                                          dcgmHandle_t *handle);
typedef dcgmReturn_t (*dcgmDisconnect_fn)(dcgmHandle_t handle);
typedef const char *(*errorString_fn)(dcgmReturn_t r);
typedef dcgmReturn_t (*dcgmGetAllSupportedDevices_fn)(dcgmHandle_t handle,
                                                      unsigned int ids[DCGM_MAX_NUM_DEVICES],
                                                      int *count);
typedef dcgmReturn_t (*dcgmGroupCreate_fn)(dcgmHandle_t handle, int type, const char *name,
                                           dcgmGpuGrp_t *group);
typedef dcgmReturn_t (*dcgmGroupDestroy_fn)(dcgmHandle_t handle, dcgmGpuGrp_t group);
typedef dcgmReturn_t (*dcgmGroupAddDevice_fn)(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                              unsigned int gpuId);
typedef dcgmReturn_t (*dcgmFieldGroupCreate_fn)(dcgmHandle_t handle, int n,
                                                const unsigned short *fields, const char *name,
                                                dcgmFieldGrp_t *fg);
typedef dcgmReturn_t (*dcgmFieldGroupDestroy_fn)(dcgmHandle_t handle, dcgmFieldGrp_t fg);
typedef dcgmReturn_t (*dcgmWatchFields_fn)(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                           dcgmFieldGrp_t fg, long long updateFreqUs,
                                           double maxKeepAge, int maxKeepSamples);
typedef dcgmReturn_t (*dcgmUnwatchFields_fn)(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                             dcgmFieldGrp_t fg);
typedef dcgmReturn_t (*dcgmUpdateAllFields_fn)(dcgmHandle_t handle, int waitForUpdate);
typedef dcgmReturn_t (*dcgmEntitiesGetLatestValues_fn)(
    dcgmHandle_t handle, dcgmGroupEntityPair_t entities[], unsigned int nentities,
    unsigned short fields[], unsigned int nfields, unsigned int flags, dcgmFieldValue_v2 values[]);
typedef dcgmReturn_t (*dcgmWatchPidFields_fn)(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                              long long updateFreqUs, double maxKeepAge,
                                              int maxKeepSamples);
typedef dcgmReturn_t (*dcgmGetPidInfo_fn)(dcgmHandle_t handle, dcgmGpuGrp_t group,
                                          dcgmPidInfo_v2 *info);

/* The loaded library: required entry points are never NULL, optional ones
 * are NULL where the library lacks them. */
struct jst_dcgm_api {
	void *lib;
	char path[512];
	/* required */
	dcgmInit_fn Init;
	dcgmShutdown_fn Shutdown;
	dcgmStartEmbedded_fn StartEmbedded;
	dcgmStopEmbedded_fn StopEmbedded;
	dcgmConnect_v2_fn Connect_v2;
	dcgmDisconnect_fn Disconnect;
	dcgmGetAllSupportedDevices_fn GetAllSupportedDevices;
	dcgmGroupCreate_fn GroupCreate;
	dcgmGroupDestroy_fn GroupDestroy;
	dcgmGroupAddDevice_fn GroupAddDevice;
	dcgmFieldGroupCreate_fn FieldGroupCreate;
	dcgmFieldGroupDestroy_fn FieldGroupDestroy;
	dcgmWatchFields_fn WatchFields;
	dcgmUpdateAllFields_fn UpdateAllFields;
	dcgmEntitiesGetLatestValues_fn EntitiesGetLatestValues;
	/* optional */
	errorString_fn ErrorString;
	dcgmUnwatchFields_fn UnwatchFields;
	dcgmWatchPidFields_fn WatchPidFields;
	dcgmGetPidInfo_fn GetPidInfo;
};

/* The process-wide DCGM session (dcgm_session.c): the first acquire loads the
 * first library of the comma list that dlopen finds, calls dcgmInit and
 * starts an embedded host engine (address "" or "embedded") or connects to
 * nv-hostengine at address; the last release disconnects, shuts DCGM down
 * and unloads it. Returns 0, or negative with a reason a person can act on. */
int jst_dcgm_session_acquire(const char *libraries, const char *address,
                             const struct jst_dcgm_api **api, dcgmHandle_t *handle, char *reason,
                             size_t reason_len);
void jst_dcgm_session_release(void);

/* Text for a DCGM return code: errorString where the library has it. */
const char *jst_dcgm_strerror(const struct jst_dcgm_api *api, dcgmReturn_t r);

#endif
