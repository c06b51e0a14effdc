/*
 * Power readings (a domain with no counter, NVML's instant power on a GPU
 * before Volta) polled by the sampler at 1 to 10 times their refresh, in
 * virtual time: the device shows the power it took at its last update
 * (vs_dom.sampled), and windows of a fraction of a refresh to 30 of them are
 * checked against the trace's exact energy. Sweeps refreshes of 10 ms, 100 ms
 * and 1 s, on constant power, steps (slower and faster than the refresh), the
 * bursty trace and a sawtooth ramp. The first windows of each case begin as
 * the meter opens, where the readings have shown the device's range for a
 * few refreshes only (`run -I 20` on a power reading begins so).
 *
 * The contract: the truth lies inside the stated ± in at least 95% of the
 * windows of the sweep where the sampler keeps up with the device (polls at
 * most twice its refresh) and of those where it polls slower, and in at least
 * 80% of each case's 40; the ± is not wider than it needs: the median ±
 * beyond the method's class (5% of the figure, which no simulator can check)
 * is under 5 times the median |error| (plus 0.2% of the median figure) where
 * the sampler keeps up, under 10 times where it polls slower (the unseen time
 * is stated up to the power bound: a period that aliases with the load can
 * catch every reading in a burst). Measured: 928 and 1405 of 960 and 1440
 * windows inside; medians 4.1 and 6.3 times the error. Steps faster than the
 * refresh and bursts between two updates are what the readings cannot show
 * (a case reads as few as 32 of 40 inside: the bursty trace and the ramp at a
 * 1 s refresh, polled every 2 s).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "meter_internal.h"
#include "virtual_sensor.h"
#include "vm_test.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define WINDOWS_PER_LEN ((size_t)8)
static const double lens[] = {0.3, 1, 3, 10, 30}; /* in refreshes */
#define NLEN ((size_t)5)
_Static_assert(sizeof lens / sizeof lens[0] == NLEN, "NLEN counts lens");
#define NWIN (NLEN * WINDOWS_PER_LEN)

struct sweep_case {
	char spec[512];
	const char *what;
	double r;   /* the device's refresh (s) */
	int poll;   /* the sampler's period, in refreshes */
	int varies; /* the power moves: the ± has an error to be measured against */
};

/* One case: windows of every length, in a seeded order, one after the other
 * with a seeded gap, from the meter's opening on. */
struct pool {
	double err[75 * NWIN], ex[75 * NWIN], fig[75 * NWIN];
	size_t n, inside;
};

static void run_case(const struct sweep_case *c, uint64_t seed, struct pool *pool)
{
	struct sim_trace *tr = trace(c->spec);
	vs_reset();
	struct vs_dom *d = vs_add("gpu0", JST_KIND_GPU, JST_METHOD_POWER, tr, c->r, 0, 0.05);
	d->sampled = 1;
	d->phase_s = 0.29 * c->r;
	d->desc.max_power_w = 700; /* NVML's enforced limit, as the backend declares it */
	struct vm v;
	assert_int_equal(vm_open(&v, 1.0, c->poll * c->r), 0);
	double err[NWIN], ex[NWIN], fig[NWIN];
	size_t order[NWIN], inside = 0;
	for (size_t i = 0; i < NWIN; i++)
		order[i] = i;
	for (size_t i = NWIN - 1; i > 0; i--) {
		size_t j = (size_t)(splitmix(&seed) % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	double t = 1.0 + 1e-4;
	for (size_t k = 0; k < NWIN; k++) {
		double len = lens[order[k] / WINDOWS_PER_LEN] * c->r;
		double b = t + (double)(splitmix(&seed) % 1000) * 1e-3 * 2 * c->r * (k > 0);
		jst_window *w = begin(&v, b);
		vm_advance(&v, b + len);
		jst_measurement *ms = NULL;
		assert_int_equal(jst_window_end(w, &ms), 0);
		jst_domain_energy de = dom0(ms);
		double truth = sim_trace_energy(tr, b, b + len);
		double e = fabs(de.energy_j - truth);
		inside += e <= de.uncertainty_j;
		if (e > de.uncertainty_j)
			fprintf(stderr,
			        "# %s, r %g s, poll %d: window %.3f+%.3f s: %.4f ± %.4f J, "
			        "truth %.4f J\n",
			        c->what, c->r, c->poll, b - 1.0, len, de.energy_j, de.uncertainty_j,
			        truth);
		err[k] = e;
		ex[k] = de.uncertainty_j - 0.05 * de.energy_j;
		fig[k] = de.energy_j;
		if (c->varies) {
			pool->err[pool->n] = e;
			pool->ex[pool->n] = ex[k];
			pool->fig[pool->n] = fig[k];
			pool->n++;
			pool->inside += e <= de.uncertainty_j;
		}
		jst_measurement_free(ms);
		t = b + len;
	}
	vm_close(&v);
	sim_trace_free(tr);
	double me = median(err, NWIN), mx = median(ex, NWIN);
	printf("# %-8s r %5.3f s poll %2dx: %2zu/%zu inside, median ± beyond class %.4f J, "
	       "median |error| %.4f J (ratio %.1f)\n",
	       c->what, c->r, c->poll, inside, (size_t)NWIN, mx, me, me > 0 ? mx / me : 0);
	bar(inside >= 0.8 * NWIN, "%s, r %g s, poll %d: %zu of %zu windows inside their ±", c->what,
	    c->r, c->poll, inside, (size_t)NWIN);
}

/* A sawtooth from 100 to 600 W over 4 refreshes, in 21 steps. */
static void ramp_spec(char *buf, size_t len, double r)
{
	size_t n = (size_t)snprintf(buf, len, "steps:");
	for (int i = 0; i <= 20; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%d", i ? "," : "", 100 + 25 * i);
	snprintf(buf + n, len - n, "@%.9g", 4 * r / 21);
}

static void slow_poll_sweep(void **st)
{
	(void)st;
	static const double rs[] = {0.010, 0.100, 1.0};
	static const int polls[] = {1, 2, 3, 5, 10};
	uint64_t seed = 2026;
	static struct pool pools[2]; /* polls up to 2 refreshes, and slower */
	for (size_t ri = 0; ri < sizeof rs / sizeof rs[0]; ri++)
		for (size_t pi = 0; pi < sizeof polls / sizeof polls[0]; pi++)
			for (int tk = 0; tk < 5; tk++) {
				struct sweep_case c = {.r = rs[ri], .poll = polls[pi], .varies = 1};
				double r = c.r;
				switch (tk) {
				case 0:
					c.what = "const";
					c.varies = 0;
					snprintf(c.spec, sizeof c.spec, "const:300");
					break;
				case 1:
					c.what = "steps";
					snprintf(c.spec, sizeof c.spec, "steps:150,700,80,500@%.9g",
					         2.5 * r);
					break;
				case 2:
					c.what = "fast";
					snprintf(c.spec, sizeof c.spec, "steps:150,700,80,500@%.9g",
					         0.35 * r);
					break;
				case 3:
					c.what = "bursty";
					snprintf(c.spec, sizeof c.spec, "bursty:%d", 3 + (int)pi);
					break;
				default:
					c.what = "ramp";
					ramp_spec(c.spec, sizeof c.spec, r);
					break;
				}
				run_case(&c, seed++, &pools[polls[pi] > 2]);
			}
	for (int k = 0; k < 2; k++) {
		struct pool *p = &pools[k];
		double me = median(p->err, p->n), mx = median(p->ex, p->n),
		       mf = median(p->fig, p->n);
		printf("# polls %s: %zu of %zu windows inside, median ± beyond class %.4f J, "
		       "median |error| %.4f J\n",
		       k ? "over 2 refreshes" : "up to 2 refreshes", p->inside, p->n, mx, me);
		bar(p->inside >= 0.95 * (double)p->n, "polls %s: %zu of %zu windows inside",
		    k ? "over 2 refreshes" : "up to 2 refreshes", p->inside, p->n);
		double times = k ? 10 : 5;
		bar(mx <= times * me + 2e-3 * mf,
		    "polls %s: median ± beyond class %.4f J over %g x the median |error| %.4f J",
		    k ? "over 2 refreshes" : "up to 2 refreshes", mx, times, me);
	}
	check_bars();
}

/* `joulestat run -I 20 -- sleep 1` on a GPU's power readings (no counter,
 * refreshed every 100 ms, the sampler every 100 ms) that step 150, 700, 80,
 * 500 W every 250 ms from the meter's opening: rows of a fifth of a refresh,
 * each short_window. The readings showed 150 W alone until the first step
 * (0.25 s), which they show from the update at 0.3 s: the rows between, read
 * 3 J each, drew up to 14 J. A range of a few updates says nothing of where
 * the device goes next: until it holds as many as it keeps, each row states
 * the power anywhere up to the bound over its length (was: the 5% floor of
 * the single value seen, and those rows missed their truth by 30 times their
 * ±; tests/integration/test_gaps.py read 50 of 53 rows inside). */
static void first_refreshes_short_rows(void **st)
{
	(void)st;
	struct sim_trace *tr = trace("steps:150,700,80,500@0.25");
	vs_reset();
	struct vs_dom *d = vs_add("gpu0", JST_KIND_GPU, JST_METHOD_POWER, tr, 0.1, 0, 0.05);
	d->sampled = 1;
	d->desc.max_power_w = 700;
	struct vm v;
	assert_int_equal(vm_open(&v, 0.0025, 0.1), 0);
	jst_window *w = begin(&v, 0.0025);
	double b = 0.0025;
	unsigned rows = 0, inside = 0;
	for (int k = 1; k <= 50; k++) {
		double e = 0.0025 + 0.02 * k;
		vm_advance(&v, e);
		jst_measurement *ms = NULL;
		assert_int_equal(k < 50 ? jst_window_rotate(w, &ms) : jst_window_end(w, &ms), 0);
		jst_domain_energy de = dom0(ms);
		double truth = sim_trace_energy(tr, b, e);
		assert_true(de.short_window);
		rows++;
		inside += fabs(de.energy_j - truth) <= de.uncertainty_j;
		bar(fabs(de.energy_j - truth) <= de.uncertainty_j,
		    "row %.4f-%.4f s: %.3f ± %.3f J, truth %.3f J", b, e, de.energy_j,
		    de.uncertainty_j, truth);
		/* Not wider than the device's bound over the row, and the class. */
		bar(de.uncertainty_j <= 1.1 * (700 * 0.02 + 0.05 * de.energy_j),
		    "row %.4f-%.4f s: ± %.3f J over the bound's %.3f J", b, e, de.uncertainty_j,
		    700 * 0.02);
		jst_measurement_free(ms);
		b = e;
	}
	printf("# first refreshes, 20 ms rows: %u of %u inside\n", inside, rows);
	vm_close(&v);
	sim_trace_free(tr);
	check_bars();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_refreshes_short_rows),
	    cmocka_unit_test(slow_poll_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
