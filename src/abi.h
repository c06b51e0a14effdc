/*
 * The library's side of the public structs' size field: every struct the
 * library fills starts with `size_t size` set by the caller, so that fields
 * can be appended without breaking programs built against an older header.
 */
#ifndef JST_ABI_H
#define JST_ABI_H

#include "joulestat.h"

#include <stddef.h>

/* Bytes of a struct's first version: a caller's size below this is -EINVAL.
 * Frozen at the last field of version 1, whatever is appended later. */
#define JST_SIZE_THROUGH(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define JST_BACKEND_INFO_V1 JST_SIZE_THROUGH(jst_backend_info, reason)
#define JST_DOMAIN_INFO_V1 JST_SIZE_THROUGH(jst_domain_info, primary)
#define JST_SAMPLE_V1 JST_SIZE_THROUGH(jst_sample, power_limit_w)
#define JST_DOMAIN_ENERGY_V1 JST_SIZE_THROUGH(jst_domain_energy, bridged)
#define JST_TOTAL_V1 JST_SIZE_THROUGH(jst_total, partial)

/* Is the caller's struct at out big enough for version 1? 0 or -EINVAL. */
int jst_abi_check(const void *out, size_t v1);
/* Copy the library's full struct (own bytes) into the caller's out: the
 * fields after size, up to min(out's size, own); out's size stays as set.
 * 0, or -EINVAL when out's size is below v1. */
int jst_abi_fill(void *out, const void *full, size_t own, size_t v1);
/* Spread n structs copied contiguously (own bytes each) at buf to the
 * caller's stride (>= own), last first so that none is overwritten before it
 * moves; the bytes past own in each are zeroed and each size is set to stride. */
void jst_abi_spread(void *buf, size_t n, size_t own, size_t stride);

#endif
