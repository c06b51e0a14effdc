/* Totals per kind that never double count. */
#ifndef JST_TOTALS_H
#define JST_TOTALS_H

#include "joulestat.h"

#include <stddef.h>

/* Which total a domain's energy adds to, or -1 when it adds to none because it
 * is contained in another domain (core, uncore, anything with a parent). */
int jst_total_of(jst_kind kind, int parent);

/* Is doms[i] a module's input rail: a top-level platform domain that other
 * domains are declared inside (Jetson VDD_IN and its rails)? Such a domain is
 * the components' total (JST_TOTAL_ALL), not a system meter beside them. */
int jst_totals_is_module(const jst_domain_energy *doms, size_t n, size_t i);

/* Form every total from a measurement's domains. Only primary domains count. */
void jst_totals_compute(const jst_domain_energy *doms, size_t n, double duration_s,
                        jst_total out[JST_TOTAL_COUNT_]);

#endif
