/* What `joulestat top` shows, as lines of text: sorting and formatting of a
 * live snapshot, apart from the terminal so that it can be tested alone. */
#ifndef JST_TOP_VIEW_H
#define JST_TOP_VIEW_H

#include "prom.h"

#include <stddef.h>

enum jst_top_sort { JST_TOP_BY_POWER, JST_TOP_BY_ENERGY, JST_TOP_BY_NAME };

/* The header line of the table. */
const char *jst_top_header(void);
/* The order to show the snapshot's domains in: order[0..n) gets indices.
 * Power and energy sort highest first; ties and NaN keep the meter's order. */
void jst_top_order(const struct jst_prom_snapshot *s, enum jst_top_sort by, size_t *order);
/* One domain's line into buf (at most len bytes); contained domains are
 * indented under their package by the meter's order only when sorted by name. */
void jst_top_line(const struct jst_prom_domain *d, char *buf, size_t len);
/* The line of totals: counted domains' power and energy, and the accuracy
 * class of the energy (energy-weighted). */
void jst_top_total(const struct jst_prom_snapshot *s, char *buf, size_t len);
const char *jst_top_sort_name(enum jst_top_sort by);

#endif
