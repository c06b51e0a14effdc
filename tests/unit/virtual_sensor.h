/*
 * A virtual clock and a backend computed from a power trace, so that the
 * core's sensor model is driven through a real meter in virtual time and its
 * figures checked against the trace's exact energy (sim/common/trace.h).
 *
 * Each domain's counter latches every refresh_s (at phase_s + k * refresh_s
 * seconds of trace time): it shows floor(E(latch) / unit_j) (modulo desc.modulus where
 * set: a wrapping counter). A power domain
 * shows the trace's power at the instant it is read. Faults (a failed read, a
 * reset, a value that stops changing) are scheduled in trace time.
 *
 * Used by the unit tests (test_sensor.c) and the accuracy benchmark. One
 * virtual meter at a time: the clock and the backend are process globals.
 */
#ifndef JST_VIRTUAL_SENSOR_H
#define JST_VIRTUAL_SENSOR_H

#include "backend.h"
#include "trace.h"

#include <stdint.h>

#define VS_MAX 8

struct vs_dom {
	struct jst_domain_desc desc;
	const struct sim_trace *tr;
	double phase_s; /* latch instants: phase_s + k * latch_s */
	double latch_s; /* the hardware's real refresh (desc.refresh_s is what it declares) */
	int telemetry;  /* report the device's instantaneous power when asked */
	int stamp;      /* set raw->t_ns to the virtual time */
	/* A POWER domain that shows the mean over the refresh that ended at its
	 * last latch, stamped at that refresh's middle (desc.power_mean, a power
	 * analyser's sample): once per latch, else JST_RAW_UNCHANGED. */
	int mean;
	long mean_k; /* the latch last shown, + 1 (0: none) */
	/* A POWER domain that shows the power the device took at its last latch
	 * (phase_s + k * latch_s), as NVML's instant power field does, not the
	 * trace's power at the instant it is read. */
	int sampled;
	/* Faults, in trace seconds; a window [from, to) with from < to is active. */
	double fail_from_s, fail_to_s; /* reads fail with fail_status */
	int fail_status;
	double reset_s; /* > 0: the counter restarts from 0 at this instant */
	int reset_now;  /* it shows 0 from reset_s on, not from its next latch (a reload) */
	double stale_s; /* > 0: the value stops changing from here until reopened */
	/* > 0: from this instant on the counter latches at shift_phase_s + k *
	 * shift_latch_s instead (a grid the model learnt moves under it). */
	double shift_s, shift_phase_s, shift_latch_s;
	int stale_reopened;
	unsigned reads, reopens;
	/* A slow driver: each read of it lasts read_s plus up to read_spread_s,
	 * centred on the clock (which it leaves where it is: the caller spaces
	 * its reads), and its value is taken at a pseudo-random point inside
	 * (stamped at the middle, t_err half of it). */
	double read_s, read_spread_s;
	/* > 0: latch k is displaced by a fixed pseudo-random amount within
	 * +-jitter_s (below half of latch_s), from jitter_seed. */
	double jitter_s;
	uint64_t jitter_seed;
	/* > 0: the first read at or after stall_at_s returns stall_s late (the
	 * reading thread held as the call returns, on a loaded machine). */
	double stall_at_s, stall_s;
};

struct vs_backend {
	size_t n;
	struct vs_dom dom[VS_MAX];
	int with_reopen; /* offer the reopen op */
};

extern struct vs_backend vs_be;
extern const struct jst_backend_ops vs_ops;        /* no reopen op */
extern const struct jst_backend_ops vs_ops_reopen; /* with one */

/* The virtual clock, in ns; trace time 0 is VS_ORIGIN_NS. */
#define VS_ORIGIN_NS 1000000000000LL
extern int64_t vs_now;
int64_t vs_clock(void);
static inline double vs_trace_s(int64_t t_ns)
{
	return (double)(t_ns - VS_ORIGIN_NS) * 1e-9;
}
static inline int64_t vs_ns(double trace_s)
{
	return VS_ORIGIN_NS + (int64_t)(trace_s * 1e9 + (trace_s >= 0 ? 0.5 : -0.5));
}

/* Forget every domain; the clock back at trace time 0. */
void vs_reset(void);
/* Add a domain following tr; returns it to adjust. A counter (COUNTER,
 * ESTIMATE) in units of unit_j latched every latch_s and declaring it; a
 * POWER domain read directly. */
struct vs_dom *vs_add(const char *name, jst_kind kind, jst_method method,
                      const struct sim_trace *tr, double latch_s, double unit_j, double accuracy);

/* Latch k's instant (trace seconds) of a domain latched every latch_s. */
double vs_latch_at(const struct vs_dom *d, int64_t k);

/* The counter value a domain shows at trace time t (before faults). */
uint64_t vs_counter_at(const struct vs_dom *d, double t);

/* A virtual meter: opened at trace time open_s with the sampler thread parked
 * (its period is ten minutes of real time and every refresh is declared), its
 * periodic readings made by vm_advance at every sample_s of virtual time. */
struct vm {
	jst_meter *m;
	int64_t sample_ns; /* 0: no sampler readings */
	int64_t next_sample;
};

/* Open over vs_be's domains (with_reopen picks the ops). 0 or the error. */
int vm_open(struct vm *v, double open_s, double sample_s);
/* Move the clock to trace time t, making every sampler reading due on the way. */
void vm_advance(struct vm *v, double t);
void vm_close(struct vm *v);
/* A settled end's pause in virtual time (vm_open installs it as jst_sleep_ns):
 * the open virtual meter's clock moves on by ns, its sampler readings made on
 * the way. vs_pauses counts the pauses. */
void vs_sleep(int64_t ns);
extern unsigned vs_pauses;

#endif
