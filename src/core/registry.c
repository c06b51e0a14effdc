/* The backend registry: the one global table, most accurate class first. */
#include "backend.h"

static const struct jst_backend_ops *const registry[] = {
    &jst_backend_nvml,     &jst_backend_rapl,     &jst_backend_rapl_perf,
    &jst_backend_rapl_msr, &jst_backend_estimate,
};

size_t jst_registry_count(void)
{
	return sizeof registry / sizeof registry[0];
}

const struct jst_backend_ops *jst_registry_get(size_t index)
{
	return index < jst_registry_count() ? registry[index] : NULL;
}
