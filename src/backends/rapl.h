/* The rapl backend's parts: zone discovery (rapl_zones.c) and the ops (rapl.c). */
#ifndef JST_RAPL_H
#define JST_RAPL_H

#include "backend.h"

struct rapl_zone {
	int fd;     /* energy_uj, kept open: read() is on the hot path */
	char *path; /* energy_uj, for errors */
};

/* Domains and their counters, index for index. */
struct rapl_state {
	size_t n, cap;
	struct jst_domain_desc *desc;
	struct rapl_zone *zone;
};

/* Declare every RAPL zone under powercap (<sysfs>/class/powercap) into st.
 * Returns 0 (possibly with no zone) or negative with a reason written; zones
 * opened before a failure stay in st for the caller to close. */
int jst_rapl_zones_discover(const char *powercap, struct rapl_state *st, char *reason,
                            size_t reason_len);

/* Quote a file's content for an error message: unprintable bytes as '?', the
 * trailing newline dropped. */
void jst_rapl_quote(char *dst, size_t len, const char *src);

#endif
