/* Statistics and clocks every benchmark shares. Noisy machines make single
 * timings meaningless, so everything reported is a median or a percentile. */
#ifndef JST_BENCH_STATS_H
#define JST_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

int64_t bench_now_ns(void);    /* CLOCK_MONOTONIC */
int64_t bench_cpu_ns(void);    /* CPU time of the whole process */
int64_t bench_thread_ns(void); /* CPU time of the calling thread */

/* Percentile p in [0, 100] of v[0..n-1] (nearest rank); sorts v in place. */
double bench_percentile(double *v, size_t n, double p);
double bench_median(double *v, size_t n);
double bench_mean(const double *v, size_t n);
double bench_max(const double *v, size_t n);

/* Least-squares slope of y over x. */
double bench_slope(const double *x, const double *y, size_t n);

/* Deterministic pseudo-random numbers (splitmix64), so a run can be repeated. */
uint64_t bench_rand(uint64_t *state);
double bench_uniform(uint64_t *state, double lo, double hi);

/* "met" or "MISSED", for the verdict columns. */
const char *bench_verdict(int met);

#endif
