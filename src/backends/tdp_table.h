/* Thermal design power of common CPU models, for the estimate backend. */
#ifndef JST_TDP_TABLE_H
#define JST_TDP_TABLE_H

#include <stddef.h>

/* One CPU model: its canonical name and its TDP per package (socket), in watts,
 * as the vendor states it (Intel: TDP or "Processor Base Power"; AMD: default
 * TDP). */
struct jst_tdp_entry {
	const char *name; /* "Intel Xeon Gold 6248" */
	double tdp_w;
};

/* Look a /proc/cpuinfo "model name" up in the table. Both sides are split into
 * lower-case tokens of letters, digits and '+', so "(R)", "(TM)", "CPU @
 * 2.50GHz", "16-Core Processor" and letter case do not matter; an entry matches
 * when every one of its tokens appears whole in the model name (so "6248" never
 * matches "6248R"). Where several entries match, the one with the most tokens
 * wins ("E5-2680 v4" over "E5-2680"), and a version token in the model name
 * ("v2") must be in the entry too. On success sets *tdp_w (per package) and
 * *matched (the entry's name, static) and returns 0; -ENOENT when no entry
 * matches; -EINVAL on NULL or empty input. matched may be NULL. */
int jst_tdp_lookup(const char *model_name, double *tdp_w, const char **matched);

/* The whole table, for tests and documentation. */
const struct jst_tdp_entry *jst_tdp_table_get(size_t *count);

#endif
