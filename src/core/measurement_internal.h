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

struct jst_measurement;

struct jst_domtab {
	atomic_size_t refs;
	size_t n;
	/* A freed measurement kept, with its reference, for the next window's
	 * end to reuse while the meter is open (open): ending windows one after
	 * another then allocates nothing and counts no reference. */
	atomic_int open;
	_Atomic(struct jst_measurement *) spare;
	struct jst_domstr dom[];
};

/* A table for n domains with one reference, its strings empty; NULL when out
 * of memory. Fill it before sharing it: it never changes afterwards. */
struct jst_domtab *jst_domtab_new(size_t n);
struct jst_domtab *jst_domtab_ref(struct jst_domtab *t);
void jst_domtab_unref(struct jst_domtab *t);
/* The meter's own reference dropped as it closes: from then on no freed
 * measurement waits as the spare. */
void jst_domtab_close(struct jst_domtab *t);

/* A note of the measurement's own (why a figure is partial), longer than a
 * domain's note because it may quote the device's failure. */
/* The domain's caveat, a failure, failed readings' last error and the other
 * clauses, whole. */
#define JST_MNOTE_MAX ((size_t)JST_NOTE_MAX + (size_t)2 * JST_ERROR_MAX + 256)

/* What a figure has to say of itself, beyond its domain's caveat (window.c). */
struct fig_notes {
	int failed0, failed, short_window, stuck;
	int64_t cut_ns;      /* > 0: the figure ends at this last good reading (read.c) */
	double outage_pre_s; /* > 0: it began in such an outage, this long after that reading */
	int power_readings;  /* the domain's method is POWER (short_window's text) */
	int power_mean;      /* its readings are means over the refresh (short_window's text) */
	unsigned bridges, transient, reopened;
	unsigned wrap_gaps, wrap_max, wrap_taken; /* wrap counts a gap left ambiguous */
	unsigned settle_miss; /* a settled end that could not settle: JST_SETTLE_* */
	double wrap_gap_s, wrap_range_j;
	double bridged_j, refresh_s;
	double declared_s; /* > 0: the device updates slower than this declared refresh,
	                      every refresh_s (the backend saw it): the model uses that */
	double jitter_s;   /* > 0: the counter's latches fit no grid (sensor.h grid_none) */
};

/* A note whose text needs nothing of the meter's running state: written when
 * the measurement is first read, not when its window ends. */
struct jst_mnote_pending {
	size_t dom, note; /* the domain, and the note it writes */
	struct fig_notes f;
};

struct jst_measurement {
	struct jst_domtab *tab; /* one reference, for the strings of doms */
	char *name;
	int64_t begin_ns, end_ns;
	int partial;
	size_t n;
	size_t size; /* bytes allocated: a reused one may hold more than it needs */
	/* The totals and the pending notes are formed on first reading (an end
	 * whose measurement is freed unread forms neither): 0 not yet, 1 being
	 * formed, 2 formed. */
	atomic_int formed;
	size_t npending;
	struct jst_mnote_pending *pending;
	jst_total totals[JST_TOTAL_COUNT_];
	char (*notes)[JST_MNOTE_MAX];
	jst_domain_energy doms[];
	/* then nnotes notes, npending pending notes, then the name: one
	 * allocation in all */
};

/* A measurement for n domains with room for nnotes notes of its own, of which
 * npending are written on first reading, holding a reference to tab (the
 * table's spare, with its own, when it is big enough); NULL when out of
 * memory. Only name,
 * tab, n, size, formed, npending, pending and notes are set. */
struct jst_measurement *jst_measurement_new(struct jst_domtab *tab, const char *name, size_t n,
                                            size_t nnotes, size_t npending);

/* Write a pending note (window.c): s is the domain's strings. */
void jst_note_write_pending(const struct jst_domstr *s, const struct fig_notes *f, char *note);

#endif
