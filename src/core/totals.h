/* Totals per kind that never double count. */
#ifndef JST_TOTALS_H
#define JST_TOTALS_H

#include "joulestat.h"

#include <stddef.h>

/* Which total a domain's energy adds to, or -1 when it adds to none because it
 * is contained in another domain (core, uncore, anything with a parent). */
int jst_total_of(jst_kind kind, int parent);

/* Form every total from a measurement's domains. Only primary domains count. */
void jst_totals_compute(const jst_domain_energy *doms, size_t n, double duration_s,
                        jst_total out[JST_TOTAL_COUNT_]);

#endif
