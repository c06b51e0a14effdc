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

/* The total doms[i]'s energy adds to directly: JST_TOTAL_GPU, _CPU or _DRAM
 * (and through them JST_TOTAL_ALL), JST_TOTAL_ALL itself (a module's input,
 * JST_KIND_OTHER), JST_TOTAL_SYSTEM (a meter of the whole system beside its
 * components: not in JST_TOTAL_ALL); -1 for none (not primary, or inside
 * another domain). The one rule behind every total and every output's
 * "counted". */
int jst_totals_counted_in(const jst_domain_energy *doms, size_t n, size_t i);

/* Is energy that adds to total k in the total of all components? */
static inline int jst_totals_counted(int k)
{
	return k >= 0 && k != JST_TOTAL_SYSTEM;
}

/* Form every total from a measurement's domains. Only primary domains count. */
void jst_totals_compute(const jst_domain_energy *doms, size_t n, double duration_s,
                        jst_total out[JST_TOTAL_COUNT_]);

#endif
