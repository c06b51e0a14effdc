/*
 * A measurement outlives its meter: its strings point into the meter's domain
 * table, which is immutable and reference counted, so that ending a window
 * copies no strings and the table lasts as long as its last measurement.
 */
#ifndef JST_MEASUREMENT_INTERNAL_H
#define JST_MEASUREMENT_INTERNAL_H

#include "backend.h"

#include <stdatomic.h>

/* One domain's strings as measurements show them. */
struct jst_domstr {
	char name[JST_NAME_MAX];
	char device[JST_DEVICE_MAX];
	char backend[32];
	char source[32];
	char note[JST_NOTE_MAX];
};

struct jst_domtab {
	atomic_size_t refs;
	size_t n;
	struct jst_domstr dom[];
};

/* A table for n domains with one reference, its strings empty; NULL when out
 * of memory. Fill it before sharing it: it never changes afterwards. */
struct jst_domtab *jst_domtab_new(size_t n);
struct jst_domtab *jst_domtab_ref(struct jst_domtab *t);
void jst_domtab_unref(struct jst_domtab *t);

/* A note of the measurement's own (why a figure is partial), longer than a
 * domain's note because it may quote the device's failure. */
#define JST_MNOTE_MAX ((size_t)2 * JST_NOTE_MAX)

struct jst_measurement {
	struct jst_domtab *tab; /* one reference, for the strings of doms */
	char *name;
	int64_t begin_ns, end_ns;
	int partial;
	size_t n;
	jst_total totals[JST_TOTAL_COUNT_];
	char (*notes)[JST_MNOTE_MAX];
	jst_domain_energy doms[];
	/* then nnotes notes, then the name: one allocation in all */
};

/* Allocate a measurement for n domains with room for nnotes notes of its own,
 * taking a reference to tab; NULL when out of memory. Only name, tab, n and
 * notes are set. */
struct jst_measurement *jst_measurement_new(struct jst_domtab *tab, const char *name, size_t n,
                                            size_t nnotes);

#endif
