/* The sampler's readings of a whole invocation as JSON (`joulestat run --series`). */
#ifndef JST_SERIES_JSON_H
#define JST_SERIES_JSON_H

#include <jansson.h>
#include <joulestat.h>

/* Samples kept per domain when --series asks for the series and the options
 * do not say: 65536 readings, 109 minutes at the default 100 ms period. */
#define JST_SERIES_CAPACITY 65536

/* One object per domain that has samples, in the meter's order:
 * {"domain", "kind", "t_ns": [...], "energy_j": [...], "power_w": [...]},
 * oldest first; a NaN becomes null. NULL when out of memory. */
json_t *jst_series_json(jst_meter *meter);

#endif
