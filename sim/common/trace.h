/*
 * Power traces shared by every simulator and benchmark: one definition of the
 * ground truth. A trace gives power in watts as a function of seconds since its
 * start, and the exact integral of it.
 *
 * Spec strings:
 *   const:W                    constant W watts
 *   steps:W1,W2,...@S          W1 for S seconds, then W2, ..., cycling
 *   bursty:SEED[:IDLE:PEAK]    LLM-serving-like: bursts of 50-300 ms at PEAK between idle
 *                              gaps of 50-500 ms at IDLE (defaults 60 W and 400 W),
 *                              pseudo-random from SEED
 *   file:PATH                  lines "SECONDS WATTS", piecewise constant from each time on
 *
 * Watts are 0 to 1e6 (NaN and infinity are refused), a step 1 us to 1e6 s, a
 * file's times at most 1e6 s: every power and energy of a trace is finite.
 */
#ifndef JST_SIM_TRACE_H
#define JST_SIM_TRACE_H

#include <stddef.h>

struct sim_trace;

/* Parse a spec; NULL and a message in err on failure. */
struct sim_trace *sim_trace_parse(const char *spec, char *err, size_t errlen);
void sim_trace_free(struct sim_trace *tr);
/* Power at t seconds (t >= 0). */
double sim_trace_power(const struct sim_trace *tr, double t);
/* Exact energy in joules from t0 to t1 (0 <= t0 <= t1). */
double sim_trace_energy(const struct sim_trace *tr, double t0, double t1);
/* The highest power the trace ever reaches. */
double sim_trace_max_power(const struct sim_trace *tr);

#endif
