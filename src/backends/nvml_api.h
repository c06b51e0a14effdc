/*
 * The part of the NVML API joulestat uses, declared here rather than taken
 * from nvml.h: the library is loaded with dlopen at run time, so nothing of
 * NVIDIA's needs to be installed to build, and one binary runs with or without
 * a driver. Layouts follow nvml.h (R535 and later) and are checked below; the
 * simulator in sim/nvml implements the same declarations.
 *
 * Also the process-wide NVML session (nvml_session.c) every NVML user shares.
 */
#ifndef JST_NVML_API_H
#define JST_NVML_API_H

#include <stddef.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_ALREADY_INITIALIZED 5
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_INSUFFICIENT_POWER 8
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_TIMEOUT 10
#define NVML_ERROR_IRQ_ISSUE 11
#define NVML_ERROR_LIBRARY_NOT_FOUND 12
#define NVML_ERROR_FUNCTION_NOT_FOUND 13
#define NVML_ERROR_CORRUPTED_INFOROM 14
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_RESET_REQUIRED 16
#define NVML_ERROR_OPERATING_SYSTEM 17
#define NVML_ERROR_LIB_RM_VERSION_MISMATCH 18
#define NVML_ERROR_IN_USE 19
#define NVML_ERROR_MEMORY 20
#define NVML_ERROR_NO_DATA 21
#define NVML_ERROR_UNKNOWN 999

#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16

#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1
#define NVML_DEVICE_MIG_ENABLE 1

/* nvmlDeviceArchitecture_t values */
#define NVML_DEVICE_ARCH_VOLTA 5
#define NVML_DEVICE_ARCH_AMPERE 7
#define NVML_DEVICE_ARCH_UNKNOWN 0xffffffffu

/* Field ids for nvmlDeviceGetFieldValues; power fields are unsigned int mW. */
#define NVML_FI_DEV_POWER_AVERAGE 185 /* 1-s average, Ampere (except GA100) and newer */
#define NVML_FI_DEV_POWER_INSTANT 186 /* current power, all architectures */

/* nvmlValueType_t */
#define NVML_VALUE_TYPE_DOUBLE 0
#define NVML_VALUE_TYPE_UNSIGNED_INT 1
#define NVML_VALUE_TYPE_UNSIGNED_LONG 2
#define NVML_VALUE_TYPE_UNSIGNED_LONG_LONG 3
#define NVML_VALUE_TYPE_SIGNED_LONG_LONG 4
#define NVML_VALUE_TYPE_SIGNED_INT 5
#define NVML_VALUE_TYPE_UNSIGNED_SHORT 6

typedef union nvmlValue_st {
	double dVal;
	int siVal;
	unsigned int uiVal;
	unsigned long ulVal;
	unsigned long long ullVal;
	signed long long sllVal;
	unsigned short usVal;
} nvmlValue_t;

typedef struct nvmlFieldValue_st {
	unsigned int fieldId;
	unsigned int scopeId; /* power fields: 0 = GPU only, 1 = module (Grace + GPU) */
	long long timestamp;  /* CPU time of the value, microseconds since 1970 */
	long long latencyUsec;
	unsigned int valueType;  /* nvmlValueType_t */
	nvmlReturn_t nvmlReturn; /* this field's own result: value is undefined unless 0 */
	nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct nvmlPciInfo_st {
	char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;
	unsigned int pciSubSystemId;
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct nvmlUtilization_st {
	unsigned int gpu;
	unsigned int memory;
} nvmlUtilization_t;

/* A wrong layout would read garbage from a real driver without any error. */
_Static_assert(sizeof(nvmlValue_t) == 8, "nvmlValue_t is 8 bytes");
_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t is 40 bytes");
_Static_assert(offsetof(nvmlFieldValue_t, valueType) == 24, "nvmlFieldValue_t.valueType");
_Static_assert(offsetof(nvmlFieldValue_t, value) == 32, "nvmlFieldValue_t.value");
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t (v3) is 68 bytes");

/* One process's utilisation sample (nvmlDeviceGetProcessUtilization): used by
 * attribution (src/attrib/attrib_nvml.c), not by the backend. */
typedef struct nvmlProcessUtilizationSample_st {
	unsigned int pid;
	unsigned long long timeStamp; /* CPU timestamp in us */
	unsigned int smUtil;
	unsigned int memUtil;
	unsigned int encUtil;
	unsigned int decUtil;
} nvmlProcessUtilizationSample_t;
typedef nvmlReturn_t (*nvmlDeviceGetProcessUtilization_fn)(nvmlDevice_t dev,
                                                           nvmlProcessUtilizationSample_t *samples,
                                                           unsigned int *count,
                                                           unsigned long long last_seen_us);

typedef nvmlReturn_t (*nvmlInit_v2_fn)(void);
typedef nvmlReturn_t (*nvmlShutdown_fn)(void);
typedef const char *(*nvmlErrorString_fn)(nvmlReturn_t result);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int index, nvmlDevice_t *dev);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByUUID_fn)(const char *uuid, nvmlDevice_t *dev);
typedef nvmlReturn_t (*nvmlDeviceGetDeviceHandleFromMigDeviceHandle_fn)(nvmlDevice_t mig,
                                                                        nvmlDevice_t *dev);
typedef nvmlReturn_t (*nvmlDeviceGetName_fn)(nvmlDevice_t dev, char *name, unsigned int length);
typedef nvmlReturn_t (*nvmlDeviceGetUUID_fn)(nvmlDevice_t dev, char *uuid, unsigned int length);
typedef nvmlReturn_t (*nvmlDeviceGetArchitecture_fn)(nvmlDevice_t dev, unsigned int *arch);
typedef nvmlReturn_t (*nvmlDeviceGetMigMode_fn)(nvmlDevice_t dev, unsigned int *current,
                                                unsigned int *pending);
typedef nvmlReturn_t (*nvmlDeviceGetTotalEnergyConsumption_fn)(nvmlDevice_t dev,
                                                               unsigned long long *mj);
typedef nvmlReturn_t (*nvmlDeviceGetFieldValues_fn)(nvmlDevice_t dev, int count,
                                                    nvmlFieldValue_t *values);
typedef nvmlReturn_t (*nvmlDeviceGetPowerUsage_fn)(nvmlDevice_t dev, unsigned int *mw);
typedef nvmlReturn_t (*nvmlDeviceGetEnforcedPowerLimit_fn)(nvmlDevice_t dev, unsigned int *mw);
typedef nvmlReturn_t (*nvmlDeviceGetTemperature_fn)(nvmlDevice_t dev, int sensor,
                                                    unsigned int *celsius);
typedef nvmlReturn_t (*nvmlDeviceGetClockInfo_fn)(nvmlDevice_t dev, int type, unsigned int *mhz);
typedef nvmlReturn_t (*nvmlDeviceGetUtilizationRates_fn)(nvmlDevice_t dev, nvmlUtilization_t *util);

/* The loaded library. Required entry points are never NULL; optional ones are
 * NULL where the library lacks them (older drivers). */
struct jst_nvml_api {
	void *lib;
	char path[512];
	/* required */
	nvmlInit_v2_fn Init;
	nvmlShutdown_fn Shutdown;
	nvmlDeviceGetCount_v2_fn DeviceGetCount;
	nvmlDeviceGetHandleByIndex_v2_fn DeviceGetHandleByIndex;
	nvmlDeviceGetUUID_fn DeviceGetUUID;
	/* optional */
	nvmlErrorString_fn ErrorString;
	nvmlDeviceGetHandleByUUID_fn DeviceGetHandleByUUID;
	nvmlDeviceGetDeviceHandleFromMigDeviceHandle_fn DeviceGetDeviceHandleFromMigDeviceHandle;
	nvmlDeviceGetName_fn DeviceGetName;
	nvmlDeviceGetArchitecture_fn DeviceGetArchitecture;
	nvmlDeviceGetMigMode_fn DeviceGetMigMode;
	nvmlDeviceGetTotalEnergyConsumption_fn DeviceGetTotalEnergyConsumption;
	nvmlDeviceGetFieldValues_fn DeviceGetFieldValues;
	nvmlDeviceGetPowerUsage_fn DeviceGetPowerUsage;
	nvmlDeviceGetEnforcedPowerLimit_fn DeviceGetEnforcedPowerLimit;
	nvmlDeviceGetTemperature_fn DeviceGetTemperature;
	nvmlDeviceGetClockInfo_fn DeviceGetClockInfo;
	nvmlDeviceGetUtilizationRates_fn DeviceGetUtilizationRates;
};

/* The process-wide NVML session (nvml_session.c): the first acquire loads the
 * library and initialises NVML, the last release shuts it down and unloads it.
 * Every meter, and any later DCGM or telemetry user, shares the one session.
 * Returns 0, or negative with a reason a person can act on. */
int jst_nvml_session_acquire(const char *library, const struct jst_nvml_api **api, char *reason,
                             size_t reason_len);
void jst_nvml_session_release(void);

/* Text for an NVML return code: nvmlErrorString where the library has it. */
const char *jst_nvml_strerror(const struct jst_nvml_api *api, nvmlReturn_t rc);

/* Map a GPU selection (NULL: all) to NVML indices, without duplicates, at
 * most max (nvml_select.c). Returns 0, or negative with a reason. */
int jst_nvml_select(const struct jst_nvml_api *api, unsigned count, const char *sel, int from_env,
                    unsigned *idx, size_t max, size_t *n, char *reason, size_t len);

#endif
