/*
 * A wrapping counter read across a stall (the process stopped, a debugger, a
 * paused VM), in virtual time: no reading for a gap of 0.5 to 5 moduli at the
 * domain's power bound while the power steps up or down inside it. Where more
 * than one wrap count fits the gap the figure must say so (bridged, a note)
 * and its ± must hold the truth whatever the power did; where only one fits,
 * it is exact as before. RAPL-like (262 J modulus, 400 W bound) and AMD
 * SMI-like (2^32 counts of 15.26 uJ, 65.5 kJ, 1000 W).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "meter_internal.h"
#include "virtual_sensor.h"
#include "vm_test.h"

struct counter_kind {
	const char *name;
	double unit_j;
	uint64_t modulus;
	double bound_w;
};

static const struct counter_kind rapl = {"rapl", 1e-6, 262143329ULL, 400};
static const struct counter_kind amd = {"amd", 15.2587890625e-6, 1ULL << 32, 1000};

/* Gap lengths in moduli at the bound: below 2/3 only one count fits (the
 * bound allows 1.5x its power), from 1.4 on more than one always does. */
static const double moduli[] = {0.5, 0.6, 1.4, 2.0, 3.0, 4.0, 5.0};
#define NMODULI (sizeof moduli / sizeof moduli[0])

/* The power before and after the step, as shares of the bound. */
static const double powers[][2] = {
    {0.25, 0.25}, {0.25, 1.0}, {1.0, 0.125}, {0.125, 0.75}, {0.9, 0.3}, {0.6, 0.05},
};
#define NPOWERS (sizeof powers / sizeof powers[0])

/* Where in the gap the power steps, as a share of it. */
static const double step_at[] = {0.2, 0.5, 0.8};
#define NSTEPS (sizeof step_at / sizeof step_at[0])

/* The sampler stops at `from` and reads again at `to`: what a stopped
 * process sees. */
static void stall(struct vm *v, double from, double to)
{
	vm_advance(v, from);
	vs_now = vs_ns(to);
	v->next_sample = vs_now;
}

struct outcome {
	double energy_j, u_j, truth_j;
	int bridged, noted;
};

/* A window from 0.2 s to after_s past the gap, the gap from 1 s on, the power
 * p0 until the step at 1 s + f * gap and p1 after it (for long enough). With
 * after_s 0 the window's end is the first reading after the gap (`joulestat
 * run` whose command ended while it was stopped). */
static struct outcome stalled_run(const struct counter_kind *k, double gap_s, double p0, double p1,
                                  double f, double after_s)
{
	char spec[128];
	double a = 1.0, s = a + f * gap_s;
	snprintf(spec, sizeof spec, "steps:%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f@%.9f", p0, p1,
	         p1, p1, p1, p1, p1, p1, s);
	struct sim_trace *tr = trace(spec);
	vs_reset();
	struct vs_dom *d =
	    vs_add("package-0", JST_KIND_PACKAGE, JST_METHOD_COUNTER, tr, 0.001, k->unit_j, 0.05);
	d->desc.modulus = k->modulus;
	d->desc.max_power_w = k->bound_w;
	struct vm v;
	assert_int_equal(vm_open(&v, 0.1, 0.1), 0);
	jst_window *w = begin(&v, 0.2);
	stall(&v, a, a + gap_s);
	if (after_s > 0)
		vm_advance(&v, a + gap_s + after_s);
	else
		v.next_sample = vs_now + v.sample_ns; /* the end reads first */
	jst_measurement *ms = NULL;
	assert_int_equal(jst_window_end(w, &ms), 0);
	jst_domain_energy e = dom0(ms);
	struct outcome o = {
	    .energy_j = e.energy_j,
	    .u_j = e.uncertainty_j,
	    .truth_j = sim_trace_energy(tr, vs_trace_s(jst_measurement_begin_ns(ms)),
	                                vs_trace_s(jst_measurement_end_ns(ms))),
	    .bridged = e.bridged,
	    .noted = e.note && strstr(e.note, "wraps ambiguous") != NULL,
	};
	jst_measurement_free(ms);
	vm_close(&v);
	sim_trace_free(tr);
	return o;
}

/* Ambiguous runs, and those whose count taken was the true one. */
static unsigned n_ambiguous, n_right;

/* One stalled run's bars. */
static void check_run(const struct counter_kind *k, double moduli_n, double gap_s, double p0,
                      double p1, double f, double after_s)
{
	int ambiguous = moduli_n >= 1.0;
	struct outcome o = stalled_run(k, gap_s, p0, p1, f, after_s);
	double err = o.energy_j - o.truth_j;
	char what[128];
	snprintf(what, sizeof what, "%s gap %.1f moduli, %.0f -> %.0f W at %.1f, %.0f s after",
	         k->name, moduli_n, p0, p1, f, after_s);
	bar(fabs(err) <= o.u_j, "%s: %.3f J ± %.3f, truth %.3f J", what, o.energy_j, o.u_j,
	    o.truth_j);
	bar(o.bridged == ambiguous && o.noted == ambiguous, "%s: bridged %d noted %d, ambiguous %d",
	    what, o.bridged, o.noted, ambiguous);
	if (ambiguous) {
		n_ambiguous++;
		n_right += fabs(err) < 0.5 * (double)k->modulus * k->unit_j;
	}
	/* One count fits, or the power held: exact as ever. */
	if (!ambiguous || p0 == p1)
		bar(fabs(err) <= 0.01 * o.truth_j, "%s: %.3f J, truth %.3f J", what, o.energy_j,
		    o.truth_j);
	/* Where only one count fits, nothing is added to the ±. */
	if (!ambiguous)
		bar(o.u_j <= 0.06 * o.truth_j + 1, "%s: ± %.3f J on %.3f J", what, o.u_j,
		    o.energy_j);
}

static void sweep(const struct counter_kind *k)
{
	double range_j = (double)k->modulus * k->unit_j;
	static const double after[] = {1.0, 0};
	n_ambiguous = n_right = 0;
	for (size_t g = 0; g < NMODULI; g++) {
		double gap_s = moduli[g] * range_j / k->bound_w;
		for (size_t p = 0; p < NPOWERS; p++) {
			double p0 = powers[p][0] * k->bound_w, p1 = powers[p][1] * k->bound_w;
			/* A power that held has no step to place. */
			size_t nsteps = p0 == p1 ? 1 : NSTEPS;
			for (size_t i = 0; i < nsteps; i++)
				for (size_t j = 0; j < 2; j++)
					check_run(k, moduli[g], gap_s, p0, p1, step_at[i],
					          after[j]);
		}
	}
	printf("# %s: %u ambiguous stalls, the true count taken in %u\n", k->name, n_ambiguous,
	       n_right);
	check_bars();
}

static void rapl_stalls(void **st)
{
	(void)st;
	sweep(&rapl);
}

static void amd_stalls(void **st)
{
	(void)st;
	sweep(&amd);
}

/* Three minutes at 190 W read every 0.1 s: 130 wraps, each counted, none
 * ambiguous. */
static void many_wraps_read_often(void **st)
{
	(void)st;
	struct sim_trace *tr = trace("steps:190,185@7");
	vs_reset();
	struct vs_dom *d =
	    vs_add("package-0", JST_KIND_PACKAGE, JST_METHOD_COUNTER, tr, 0.001, 1e-6, 0.05);
	d->desc.modulus = rapl.modulus;
	d->desc.max_power_w = rapl.bound_w;
	struct vm v;
	assert_int_equal(vm_open(&v, 0.1, 0.1), 0);
	jst_window *w = begin(&v, 0.2);
	vm_advance(&v, 180.2);
	jst_measurement *ms = NULL;
	assert_int_equal(jst_window_end(w, &ms), 0);
	jst_domain_energy e = dom0(ms);
	double truth = sim_trace_energy(tr, 0.2, 180.2);
	assert_true(truth / (262.143329) > 125);
	bar(fabs(e.energy_j - truth) <= 1e-3 * truth, "180 s: %.3f J, truth %.3f J", e.energy_j,
	    truth);
	bar(!e.bridged, "180 s read every 0.1 s: bridged");
	jst_measurement_free(ms);
	vm_close(&v);
	sim_trace_free(tr);
	check_bars();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rapl_stalls),
	    cmocka_unit_test(amd_stalls),
	    cmocka_unit_test(many_wraps_read_often),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
