/* Configuration defaults and their resolution from the environment. */
#include "meter_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JST_DEFAULT_PERIOD_MS 100
#define JST_DEFAULT_SERIES 4096

void jst_config_init(jst_config *cfg)
{
	if (!cfg)
		return; /* void: nothing to report, but no crash either */
	*cfg = (jst_config){
	    .allow_estimate = 1,
	};
}

static int pick(char *dst, size_t len, const char *given, const char *env, const char *dflt)
{
	const char *v = given;
	if (!v || !*v)
		v = env ? getenv(env) : NULL;
	if (!v || !*v)
		v = dflt;
	size_t n = strlen(v);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dst, v, n + 1);
	return 0;
}

int jst_list_contains(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		while (l && *p == ' ')
			p++, l--;
		while (l && p[l - 1] == ' ')
			l--;
		if (l == n && !strncmp(p, name, n))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

int jst_config_resolve(const jst_config *cfg, struct jst_resolved_config *out)
{
	jst_config dflt;
	if (!cfg) {
		jst_config_init(&dflt);
		cfg = &dflt;
	}
	*out = (struct jst_resolved_config){0};
	int rc = pick(out->sysfs_root, sizeof out->sysfs_root, cfg->sysfs_root,
	              "JOULESTAT_SYSFS_ROOT", "/sys");
	if (!rc)
		rc = pick(out->procfs_root, sizeof out->procfs_root, cfg->procfs_root,
		          "JOULESTAT_PROCFS_ROOT", "/proc");
	if (!rc)
		rc = pick(out->nvml_library, sizeof out->nvml_library, cfg->nvml_library,
		          "JOULESTAT_NVML_LIBRARY", "libnvidia-ml.so.1");
	if (!rc)
		rc = pick(out->devfs_root, sizeof out->devfs_root, NULL, "JOULESTAT_DEVFS_ROOT",
		          "/dev");
	if (!rc)
		rc = pick(out->perf_library, sizeof out->perf_library, NULL,
		          "JOULESTAT_PERF_LIBRARY", "");
	if (!rc)
		rc = pick(out->amdsmi_library, sizeof out->amdsmi_library, NULL,
		          "JOULESTAT_AMDSMI_LIBRARY", "");
	if (rc)
		return rc;

	rc = jst_gpu_selection_resolve(cfg->gpus, getenv("CUDA_VISIBLE_DEVICES"), out->gpus,
	                               sizeof out->gpus);
	if (rc < 0)
		return rc;
	out->gpus_set = rc; /* 0, JST_GPUS_EXPLICIT or JST_GPUS_FROM_ENV */

	if ((rc = pick(out->backends, sizeof out->backends, cfg->backends, NULL, "")))
		return rc;
	out->backends_set = out->backends[0] != '\0';
	out->allow_estimate = cfg->allow_estimate;
	out->cross_validate = cfg->cross_validate;
	out->period_s =
	    (cfg->sample_period_ms ? cfg->sample_period_ms : JST_DEFAULT_PERIOD_MS) / 1e3;
	out->series_capacity = cfg->series_capacity ? cfg->series_capacity : JST_DEFAULT_SERIES;
	return 0;
}
