/* The meter's sampler as a live table: what `joulestat serve` exposes and
 * `joulestat top` shows. A snapshot copies each domain's latest sample from
 * the sampler's series; it never reads a device. */
#ifndef JST_LIVE_H
#define JST_LIVE_H

#include "prom.h"

#include <joulestat.h>

struct jst_live;
struct jst_cli_common;

/* The meter settings a live view wants before the command line's own: a
 * series of a few samples per domain (it shows only the latest), where the
 * default keeps 4096. A --option series_capacity=N given still wins. */
void jst_cli_live_options(struct jst_cli_common *c);

/* Take the meter's domains and backends (the meter must outlive it). 0 or -ENOMEM. */
int jst_live_open(jst_meter *m, struct jst_live **out);
void jst_live_close(struct jst_live *l);
/* Refresh the snapshot from the sampler's latest samples and return it (valid
 * until the next call; not thread-safe: callers serialise). Energy never
 * decreases from one snapshot to the next. */
const struct jst_prom_snapshot *jst_live_snapshot(struct jst_live *l);

#endif
