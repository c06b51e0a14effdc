/*
 * A BMC node meter in virtual time: the BMC updates its power every refresh
 * (the mean of the refresh that ended, in whole watts, as sim/redfish and
 * sim/ipmi answer), and the backends' own poller (src/backends/bmc_poll.c,
 * stepped rather than threaded) asks it every half refresh, each answer coming
 * back after a random latency and some polls late (a loaded machine). The
 * real core integrates the readings, so that the coverage of the uncertainty
 * it states for a BMC is measured over many windows against the trace's
 * exact energy (tests/unit/test_bmc_model.c, bench/bench_accuracy.c 3c).
 *
 * One virtual BMC at a time: it shares virtual_sensor.h's clock.
 */
#ifndef JST_VIRTUAL_BMC_H
#define JST_VIRTUAL_BMC_H

#include "backend.h"
#include "trace.h"

#include <stdint.h>

struct jst_bmc_poll;

struct vb_bmc {
	/* Set before vb_open. */
	const struct sim_trace *tr;
	double refresh_s;  /* the BMC's updates: phase_s + k * refresh_s */
	double declared_s; /* the refresh the backend declares; 0: refresh_s */
	double phase_s;
	double latency_s[2]; /* each answer comes back after a latency in [lo, hi] */
	double late_share;   /* share of polls begun late (the poll thread preempted) */
	double late_s;       /* by up to this */
	double max_power_w;  /* the power supplies' capacity, 0 when unknown */
	double sample_s;     /* the meter's sampler period */
	uint64_t rng;
	/* Kept by the driver. */
	struct jst_bmc_poll *poll;
	struct jst_domain_desc desc;
	jst_meter *m;
	int64_t next_sample, next_poll, poll_arrival;
	int64_t poll_clock; /* the poller's clock during a fetch */
	double latency_now;
	unsigned polls, late_polls;
};

/* Open a meter at trace time open_s on the virtual BMC b (its one domain,
 * "bmc", of kind node). 0 or the error. */
int vb_open(struct vb_bmc *b, double open_s);
/* Move the clock to trace time t: every poll answer and sampler reading due
 * on the way is made, in order. */
void vb_advance(struct vb_bmc *b, double t);
void vb_close(struct vb_bmc *b);

/* The BMC's answer at trace time t: the mean power of its last refresh. */
double vb_bmc_power(const struct vb_bmc *b, double t);

/* A row of the coverage measure: meters opened at random instants on one
 * trace, each measuring windows_per_meter windows of len_s, the first soon
 * after it opened (as `joulestat run` does). */
struct vb_case {
	const char *trace;
	double refresh_s, len_s, max_power_w, late_share;
	int windows_per_meter;
	double declared_s;   /* the refresh the backend declares; 0: refresh_s */
	double first_s;      /* the first window begins this much later than usual */
	double latency_hi_s; /* answers back after 20 ms to this; 0: 250 ms */
	double sample_s;     /* the meter's sampler period; 0: a quarter refresh, at most 0.1 s */
};
struct vb_stats {
	unsigned n, covered, polls, late_polls;
	double mean_err, worst_err, mean_u, worst_u; /* shares of the truth */
	double worst_ratio;                          /* the largest error / stated ± */
	double median_u;                             /* the middle stated ± (a share) */
};
/* Measure meters x windows_per_meter windows; 0 or -1. */
int vb_windows(const struct vb_case *c, int meters, uint64_t seed, struct vb_stats *st);

#endif
