#include "dedup.h"

#include <string.h>

int jst_device_covers(const char *coarse, const char *fine)
{
	size_t n = strlen(coarse);
	return strncmp(coarse, fine, n) == 0 && (fine[n] == 0 || fine[n] == ':');
}

static int better(const struct jst_domain_desc *a, size_t ia, const struct jst_domain_desc *b,
                  size_t ib)
{
	if (a->accuracy != b->accuracy)
		return a->accuracy < b->accuracy;
	return ia < ib;
}

/* A modelled figure steps aside for a measured domain that covers its kind
 * whole (the CPU estimate for a module's input rail): counting both would add
 * the CPU twice. */
static int covered(const struct jst_domain_desc *const *descs, size_t n, size_t i)
{
	if (descs[i]->method != JST_METHOD_ESTIMATE)
		return 0;
	for (size_t j = 0; j < n; j++)
		if (j != i && descs[j]->method != JST_METHOD_ESTIMATE &&
		    (descs[j]->covers & JST_COVERS(descs[i]->kind)))
			return 1;
	return 0;
}

void jst_dedup_primary(const struct jst_domain_desc *const *descs, size_t n, int *primary)
{
	for (size_t i = 0; i < n; i++) {
		primary[i] = !covered(descs, n, i);
		for (size_t j = 0; j < n && primary[i]; j++) {
			if (j == i || descs[j]->kind != descs[i]->kind)
				continue;
			if (jst_device_covers(descs[i]->device, descs[j]->device) &&
			    better(descs[j], j, descs[i], i))
				primary[i] = 0;
		}
	}
}
