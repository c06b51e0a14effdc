/*
 * The few Redfish documents the redfish backend reads, parsed from their JSON
 * text (jansson): kept apart from HTTP so that tests and fuzzing feed them
 * directly. Paths are the documents' "@odata.id" (absolute, from the host).
 */
#ifndef JST_REDFISH_JSON_H
#define JST_REDFISH_JSON_H

#include <stddef.h>

#define JST_REDFISH_PATH_MAX 256

struct jst_redfish_chassis {
	char id[64];
	char self[JST_REDFISH_PATH_MAX];
	char power[JST_REDFISH_PATH_MAX];        /* Power (deprecated in 2020.4), or "" */
	char env[JST_REDFISH_PATH_MAX];          /* EnvironmentMetrics, or "" */
	char contained_by[JST_REDFISH_PATH_MAX]; /* Links.ContainedBy, or "" */
};

/* A collection's Members: up to max paths into out; *n is how many there are
 * (may exceed max). 0 or -EINVAL (err says what is wrong). */
int jst_redfish_members(const char *body, size_t len, char (*out)[JST_REDFISH_PATH_MAX], size_t max,
                        size_t *n, char *err, size_t errlen);
/* A Chassis resource. */
int jst_redfish_chassis_parse(const char *body, size_t len, struct jst_redfish_chassis *c,
                              char *err, size_t errlen);
/* Power: PowerControl[0].PowerConsumedWatts, and its PowerCapacityWatts into
 * *capacity (NaN where absent; capacity may be NULL). -ENODATA when the
 * reading is absent or null (a chassis with no meter), -EINVAL when not a JSON
 * object. */
int jst_redfish_power_watts(const char *body, size_t len, double *watts, double *capacity,
                            char *err, size_t errlen);
/* EnvironmentMetrics: PowerWatts.Reading and EnergykWh.Reading, each NaN where
 * absent. -ENODATA when both are, -EINVAL when not a JSON object. */
int jst_redfish_env_metrics(const char *body, size_t len, double *watts, double *kwh, char *err,
                            size_t errlen);

#endif
