/*
 * The part of AMD SMI (amdsmi.h, libamd_smi.so) and of its predecessor ROCm
 * SMI (rocm_smi.h, librocm_smi64.so) the amdsmi backend uses, declared here
 * from AMD's public headers: the library is loaded with dlopen, nothing of
 * ROCm is needed to build. sim/amdsmi implements the same declarations.
 */
#ifndef JST_AMDSMI_API_H
#define JST_AMDSMI_API_H

#include <stdint.h>

/* amdsmi_status_t and rsmi_status_t: 0 is success in both. */
#define JST_AMD_SUCCESS 0
#define AMDSMI_STATUS_NOT_SUPPORTED 2
#define AMDSMI_STATUS_NO_PERM 10
#define AMDSMI_STATUS_DRIVER_NOT_LOADED 34
#define RSMI_STATUS_NOT_SUPPORTED 2
#define RSMI_STATUS_PERMISSION 4
#define RSMI_STATUS_INIT_ERROR 8

#define AMDSMI_INIT_AMD_GPUS (1u << 1)
#define AMDSMI_TEMPERATURE_TYPE_EDGE 0
#define AMDSMI_TEMP_CURRENT 0
#define RSMI_TEMP_TYPE_EDGE 0
#define RSMI_TEMP_CURRENT 0
#define AMDSMI_GPU_UUID_SIZE 38

typedef void *amdsmi_socket_handle;
typedef void *amdsmi_processor_handle;

/* amdsmi_engine_usage_t */
typedef struct {
	uint32_t gfx_activity;
	uint32_t umc_activity;
	uint32_t mm_activity;
	uint32_t reserved[13];
} amdsmi_engine_usage_t;

/* The resolved entry points of whichever library was loaded. */
struct jst_amd_api {
	void *lib;
	int rsmi; /* 0: AMD SMI, 1: ROCm SMI */
	char path[256];
	/* AMD SMI */
	int (*amdsmi_init)(uint64_t flags);
	int (*amdsmi_shut_down)(void);
	int (*amdsmi_get_socket_handles)(uint32_t *count, amdsmi_socket_handle *handles);
	int (*amdsmi_get_processor_handles)(amdsmi_socket_handle socket, uint32_t *count,
	                                    amdsmi_processor_handle *handles);
	int (*amdsmi_get_energy_count)(amdsmi_processor_handle h, uint64_t *energy_accumulator,
	                               float *counter_resolution, uint64_t *timestamp);
	int (*amdsmi_get_gpu_device_uuid)(amdsmi_processor_handle h, unsigned *len, char *uuid);
	int (*amdsmi_get_temp_metric)(amdsmi_processor_handle h, int type, int metric,
	                              int64_t *temperature);
	int (*amdsmi_get_gpu_activity)(amdsmi_processor_handle h, amdsmi_engine_usage_t *info);
	int (*amdsmi_status_code_to_string)(int status, const char **text);
	int (*amdsmi_get_gpu_compute_partition)(amdsmi_processor_handle h, char *partition,
	                                        uint32_t len);
	/* ROCm SMI */
	int (*rsmi_init)(uint64_t flags);
	int (*rsmi_shut_down)(void);
	int (*rsmi_num_monitor_devices)(uint32_t *count);
	int (*rsmi_dev_energy_count_get)(uint32_t dv, uint64_t *energy, float *counter_resolution,
	                                 uint64_t *timestamp);
	int (*rsmi_dev_unique_id_get)(uint32_t dv, uint64_t *id);
	int (*rsmi_dev_power_ave_get)(uint32_t dv, uint32_t sensor, uint64_t *uw);
	int (*rsmi_dev_temp_metric_get)(uint32_t dv, uint32_t type, uint32_t metric,
	                                int64_t *millidegrees);
	int (*rsmi_dev_busy_percent_get)(uint32_t dv, uint32_t *pct);
	int (*rsmi_status_string)(int status, const char **text);
};

#endif
