/*
 * A BMC (Redfish, IPMI) answers in tens to hundreds of milliseconds, or not at
 * all: it is polled on a thread of its own, never from the meter's reads, which
 * only take the latest answer. The poll thread also decides when a BMC that
 * stopped answering is gone (its domains then end, partial, with the reason).
 */
#ifndef JST_BMC_POLL_H
#define JST_BMC_POLL_H

#include "backend.h"

#include <stddef.h>
#include <stdint.h>

/* One domain's latest value: a power reading or an energy counter (in the
 * backend's raw units). */
struct jst_bmc_value {
	double power_w;   /* NaN where absent */
	uint64_t counter; /* counters only */
	int have_counter;
};

/* Fill values[0..n-1] from the BMC now. 0, or negative with err set. It must
 * give up by itself within the backend's timeout, and sooner once
 * jst_bmc_poll_stopping(poll) is true. */
typedef int (*jst_bmc_fetch_fn)(void *arg, struct jst_bmc_value *values, size_t n, char *err,
                                size_t errlen);

struct jst_bmc_poll;

/* Failed polls in a row after which the BMC is gone: its domains end. */
#define JST_BMC_GONE_AFTER 3

/* Start polling a BMC that updates every refresh_s; first holds the answer
 * probe already had, read at first_t_ns (the domains' readings start from
 * it). NULL when out of memory. */
struct jst_bmc_poll *jst_bmc_poll_start(size_t n, double refresh_s, jst_bmc_fetch_fn fetch,
                                        void *arg, const struct jst_bmc_value *first,
                                        int64_t first_t_ns);
/* The same with no thread: each poll is made by jst_bmc_poll_step, timed
 * by now() (a virtual clock: the accuracy benchmark and the sensor tests
 * drive a BMC's polls in virtual time, tests/unit/virtual_bmc.h). */
struct jst_bmc_poll *jst_bmc_poll_start_stepped(size_t n, double refresh_s, jst_bmc_fetch_fn fetch,
                                                void *arg, const struct jst_bmc_value *first,
                                                int64_t first_t_ns, int64_t (*now)(void));
/* One poll of a stepped poller, now. Returns 1 once the BMC is gone. */
int jst_bmc_poll_step(struct jst_bmc_poll *p);
/* Stop the thread (at most one fetch's timeout) and free. */
void jst_bmc_poll_stop(struct jst_bmc_poll *p);
/* True once stopping: a fetch in flight should give up. */
int jst_bmc_poll_stopping(const struct jst_bmc_poll *p);
/* Fill the raw records of the domains: a power reading new since the last
 * sampler's read (flags has JST_READ_TELEMETRY) is a reading, stamped at the
 * instant it stands for; otherwise JST_RAW_UNCHANGED; a counter always shows its
 * latest value; a failed poll is one transient failure with its reason; a BMC
 * gone is -ENODEV. what names the BMC for messages ("redfish https://bmc"). */
void jst_bmc_poll_fill(struct jst_bmc_poll *p, const struct jst_domain_desc *desc,
                       struct jst_raw *out, size_t n, unsigned flags, const char *what);

#endif
