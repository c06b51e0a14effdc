/* A backend whose values the test sets: drives the core with no hardware. */
#ifndef JST_FAKE_BACKEND_H
#define JST_FAKE_BACKEND_H

#include "backend.h"

#include <pthread.h>

#define FAKE_MAX 8

struct fake {
	pthread_mutex_t mu;
	int probe_rc;
	const char *reason;
	size_t n;
	struct jst_domain_desc desc[FAKE_MAX];
	uint64_t counter[FAKE_MAX];
	double clock_power_w[FAKE_MAX]; /* > 0: the counter follows the clock at this power */
	double power_w[FAKE_MAX];
	int status[FAKE_MAX];
	int read_rc; /* < 0: the whole read fails with it */
	double temperature_c;
	unsigned reads, telemetry_reads;
};

extern struct fake fake_a, fake_b;
extern const struct jst_backend_ops fake_ops_a, fake_ops_b;

/* Reset a fake to no domains, probe succeeding. */
void fake_reset(struct fake *f);
/* Add a domain; returns its index. */
size_t fake_add(struct fake *f, const char *name, jst_kind kind, const char *device,
                jst_method method, double accuracy, double unit_j, uint64_t modulus);
void fake_set_counter(struct fake *f, size_t i, uint64_t v);
void fake_set_power(struct fake *f, size_t i, double w);
void fake_set_status(struct fake *f, size_t i, int status);
void fake_set_read_rc(struct fake *f, int rc);

#endif
