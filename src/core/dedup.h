/* De-duplication: one device seen by several backends or methods is counted
 * once, from its most accurate method. */
#ifndef JST_DEDUP_H
#define JST_DEDUP_H

#include "backend.h"

#include <stddef.h>

/* Does the identity `fine` measure (part of) the device `coarse`? True when they
 * are equal or fine is coarse refined by ':' ("cpu" covers "cpu:package-0"). */
int jst_device_covers(const char *coarse, const char *fine);

/* Mark primary[i] = 1 for each domain that no other domain of the same kind
 * measures more accurately (on the same or a finer identity). Ties go to the
 * earlier domain: the registry lists backends most accurate first. An
 * estimate is not primary where a measured domain covers its kind
 * (jst_domain_desc.covers). */
void jst_dedup_primary(const struct jst_domain_desc *const *descs, size_t n, int *primary);

#endif
