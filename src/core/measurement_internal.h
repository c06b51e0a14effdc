/* A measurement owns copies of every string it hands out, so it outlives its meter. */
#ifndef JST_MEASUREMENT_INTERNAL_H
#define JST_MEASUREMENT_INTERNAL_H

#include "backend.h"

struct jst_mdom {
	jst_domain_energy pub; /* its strings point into the fields below */
	char name[JST_NAME_MAX];
	char device[JST_DEVICE_MAX];
	char backend[32];
	char source[32];
	char note[2 * JST_NOTE_MAX];
};

struct jst_measurement {
	char *name;
	int64_t begin_ns, end_ns;
	int partial;
	size_t n;
	struct jst_mdom *doms;
	jst_total totals[JST_TOTAL_COUNT_];
};

/* Allocate a measurement for n domains; NULL when out of memory. */
struct jst_measurement *jst_measurement_new(const char *name, size_t n);

#endif
