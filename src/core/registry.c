/* The backend registry: the one global table, most accurate class first, and
 * opening a meter on it. */
#include "meter_internal.h"

#include <errno.h>

static const struct jst_backend_ops *const registry[] = {
    &jst_backend_ptd,       /* node power from an analyser through SPEC PTDaemon */
    &jst_backend_dcgm,      /* NVIDIA GPUs through DCGM: ahead of NVML for the same GPU */
    &jst_backend_nvml,      /* GPU counters */
    &jst_backend_amdsmi,    /* AMD GPU counters */
    &jst_backend_rapl,      /* RAPL: powercap first, then the same counters other ways */
    &jst_backend_rapl_perf, /* perf power PMU */
    &jst_backend_rapl_msr,  /* /dev/cpu/N/msr */
    &jst_backend_daemon,    /* joulestatd: what the three above refuse this user */
    &jst_backend_hwmon,     /* hwmon energy and power */
    &jst_backend_apple,     /* Apple Silicon: the SoC's energy model */
    &jst_backend_jetson,    /* Jetson rails: power, integrated */
    &jst_backend_redfish,   /* BMC node power over Redfish */
    &jst_backend_ipmi,      /* BMC node power over IPMI DCMI */
    &jst_backend_estimate,  /* the model, last */
};

size_t jst_registry_count(void)
{
	return sizeof registry / sizeof registry[0];
}

const struct jst_backend_ops *jst_registry_get(size_t index)
{
	return index < jst_registry_count() ? registry[index] : NULL;
}

int jst_meter_open(jst_config *cfg, jst_meter **out)
{
	/* Settings are checked here first, so that what is wrong is said in cfg
	 * (the meter's own check says only -EINVAL). */
	struct jst_resolved_config rc;
	int r = jst_config_resolve_checked(cfg, registry, jst_registry_count(), &rc,
	                                   cfg ? cfg->error_ : NULL, cfg ? sizeof cfg->error_ : 0);
	if (r) {
		if (out)
			*out = NULL;
		return r;
	}
	return jst_meter_open_backends(cfg, registry, jst_registry_count(), out);
}
