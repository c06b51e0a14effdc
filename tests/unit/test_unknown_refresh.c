/*
 * Windows over a counter whose refresh is not known yet, in virtual time: a
 * GPU counter that declares none (NVML), while the meter measures it, after
 * measuring gave up (a machine too busy to bracket the changes), and across
 * the moment it is learnt. Rotated spans of a few ms must each hold the
 * trace's energy within their stated uncertainty (never 0 J and then a whole
 * refresh), tile the window around them within its own, and state no more
 * than the time since the latch can hide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "meter_internal.h"
#include "sensor.h"
#include "virtual_sensor.h"
#include "vm_test.h"

/* The measuring reads' spacing (sampler.c). */
#define FAST_POLL_S 0.002

/* How the refresh is (not) known over the run. */
enum phase {
	MEASURING, /* still measuring at every edge */
	GAVE_UP,   /* measuring ended without a refresh: assumed from then on */
	LEARNT,    /* measured midway, between the outer window's edges */
};

/* A virtual meter on one GPU counter that declares no refresh, the real
 * sampler stopped so that the test alone reads it (as the sampler's fast polls
 * would, every poll_s). */
static void open_unknown(struct vm *v, const struct sim_trace *tr, double r, double poll_s)
{
	vs_reset();
	struct vs_dom *d = gpu(tr, r);
	d->desc.refresh_s = 0; /* NVML does not say */
	assert_int_equal(vm_open(v, 0.0, poll_s), 0);
	jst_sampler_stop(v->m);
	pthread_mutex_lock(&v->m->mu);
	assert_true(v->m->doms[0].sensor.measuring);
	pthread_mutex_unlock(&v->m->mu);
}

/* The sampler's end of measuring (sampler.c measuring_done), at the test's
 * instant: with the changes seen so far, or, given up, with none. */
static void finish_measuring(struct vm *v, int give_up)
{
	pthread_mutex_lock(&v->m->mu);
	struct jst_sensor *s = &v->m->doms[0].sensor;
	if (give_up)
		s->nmeas = 0;
	int found = jst_sensor_measure_finish(s, (int64_t)(FAST_POLL_S * 1e9));
	assert_int_equal(found, !give_up);
	pthread_mutex_unlock(&v->m->mu);
}

struct run {
	double rows_j, outer_j, outer_u, truth_j, worst_row; /* worst: |error| / its ± */
	double widest_u;                                     /* the widest row's ± */
	unsigned rows, zeros, misses;
};

/* An outer window and, beside it, a window rotated every 0.4 to 3 ms over
 * [t0, t1], the refresh known as ph says. */
static struct run rotate_run(enum phase ph, double r, double watts, uint64_t seed)
{
	char spec[32];
	snprintf(spec, sizeof spec, "const:%g", watts);
	struct sim_trace *tr = trace(spec);
	struct vm v;
	/* Measuring polls every 2 ms; an assumed refresh goes on at the
	 * sampler's usual 100 ms. */
	open_unknown(&v, tr, r, ph == GAVE_UP ? 0.1 : FAST_POLL_S);
	/* Measuring from 0 to 1 s sees enough changes of a 100 ms counter. */
	double t0 = 0.25, t1 = ph == LEARNT ? 1.3 : 0.95, learn = 1.0;
	vm_advance(&v, ph == GAVE_UP ? 0.2 : 0.1);
	if (ph == GAVE_UP)
		finish_measuring(&v, 1);
	jst_window *outer = begin(&v, t0);
	jst_window *rows = begin(&v, t0);
	struct run out = {0};
	double t = t0, b = t0;
	int learnt = 0;
	while (t < t1) {
		t += 4e-4 + 2.6e-3 * (double)(splitmix(&seed) % 1000) / 1000.0;
		if (ph == LEARNT && !learnt && t >= learn) {
			vm_advance(&v, learn);
			finish_measuring(&v, 0);
			learnt = 1;
		}
		vm_advance(&v, t);
		jst_measurement *ms = NULL;
		assert_int_equal(jst_window_rotate(rows, &ms), 0);
		jst_domain_energy d = dom0(ms);
		double truth = sim_trace_energy(tr, b, t);
		double err = fabs(d.energy_j - truth);
		out.rows++;
		out.rows_j += d.energy_j;
		out.misses += err > d.uncertainty_j;
		if (d.uncertainty_j > 0 && err / d.uncertainty_j > out.worst_row)
			out.worst_row = err / d.uncertainty_j;
		/* The first rows' begin may show a value read after a gap in
		 * the readings (the sampler's period), latched anywhere in it;
		 * once the counter has changed, the rows' own reads place it. */
		if (b - t0 > r && d.uncertainty_j > out.widest_u)
			out.widest_u = d.uncertainty_j;
		/* Beyond the first refresh the device has drawn power in every
		 * span: 0 J would be the counter's steps, not the energy. */
		out.zeros += d.energy_j == 0 && t - t0 > r;
		jst_measurement_free(ms);
		b = t;
	}
	jst_measurement *ms = NULL;
	assert_int_equal(jst_window_end(rows, &ms), 0);
	out.rows_j += dom0(ms).energy_j;
	jst_measurement_free(ms);
	assert_int_equal(jst_window_end(outer, &ms), 0);
	jst_domain_energy d = dom0(ms);
	out.outer_j = d.energy_j;
	out.outer_u = d.uncertainty_j;
	out.truth_j = sim_trace_energy(tr, t0, b);
	jst_measurement_free(ms);
	vm_close(&v);
	sim_trace_free(tr);
	return out;
}

static void check_run(enum phase ph, double r, double watts, uint64_t seed)
{
	struct run o = rotate_run(ph, r, watts, seed);
	/* The rows tile the window around them, and it holds the truth. */
	if (fabs(o.rows_j - o.outer_j) > o.outer_u || fabs(o.outer_j - o.truth_j) > o.outer_u ||
	    o.zeros || o.misses || o.widest_u >= watts * r)
		fail_msg("phase %d, %g s refresh, %g W: rows %.3f J, window %.3f J +- %.3f, "
		         "truth %.3f J; %u of %u rows 0 J, %u outside their +- (worst %.2f "
		         "times it), widest +- %.3f J",
		         ph, r, watts, o.rows_j, o.outer_j, o.outer_u, o.truth_j, o.zeros, o.rows,
		         o.misses, o.worst_row, o.widest_u);
}

static void sweep(enum phase ph)
{
	const double refresh[] = {0.01, 0.033, 0.1};
	const double watts[] = {60, 300, 700};
	uint64_t seed = 7;
	for (size_t i = 0; i < sizeof refresh / sizeof refresh[0]; i++)
		for (size_t j = 0; j < sizeof watts / sizeof watts[0]; j++)
			check_run(ph, refresh[i], watts[j], seed++);
}

static void while_measuring(void **state)
{
	(void)state;
	sweep(MEASURING);
}

static void after_measuring_gave_up(void **state)
{
	(void)state;
	sweep(GAVE_UP);
}

static void refresh_learnt_midway(void **state)
{
	(void)state;
	sweep(LEARNT);
}

/* A short window just after a latch, read after a long gap (a thread held up,
 * a meter read rarely): its value's bracket is a refresh wide, so that the
 * grid point a refresh earlier fits it too. Taking the other moves both edges
 * alike: the window's figure changes by no more than its length at the
 * power, not by a refresh's energy at each edge (+-43 J on a 0.4 ms window at
 * 300 W and 100 ms): the window states less than one refresh's energy. */
static void short_window_after_a_gap(void **state)
{
	(void)state;
	const double watts = 300;
	const double refresh[] = {0.01, 0.1};
	for (size_t i = 0; i < 2; i++) {
		double r = refresh[i];
		struct sim_trace *tr = trace("const:300");
		vs_reset();
		struct vs_dom *d = gpu(tr, r);
		assert_int_equal(setenv("JOULESTAT_OPTIONS", "edge_read=always", 1), 0);
		struct vm v;
		assert_int_equal(vm_open(&v, 0.0, 0), 0);
		assert_int_equal(unsetenv("JOULESTAT_OPTIONS"), 0);
		/* Windows a few ms apart place the grid. */
		double t = 0.0;
		for (int k = 0; k < 60; k++, t += 0.13 * r) {
			jst_window *w = begin(&v, t);
			vm_advance(&v, t + 0.02 * r);
			jst_window_cancel(w);
		}
		double worst = 0, widest = 0;
		for (int k = 0; k < 8; k++) {
			/* 2.5 refreshes unread, then 5 us past a latch. */
			double latch = d->phase_s + ceil((t + 2.5 * r - d->phase_s) / r) * r;
			double b = latch + 5e-6, e = b + 4e-4;
			jst_window *w = begin(&v, b);
			vm_advance(&v, e);
			jst_measurement *ms = NULL;
			assert_int_equal(jst_window_end(w, &ms), 0);
			jst_domain_energy f = dom0(ms);
			double truth = sim_trace_energy(tr, b, e);
			worst = fmax(worst, fabs(f.energy_j - truth) / f.uncertainty_j);
			widest = fmax(widest, f.uncertainty_j);
			jst_measurement_free(ms);
			t = e;
		}
		vm_close(&v);
		sim_trace_free(tr);
		if (worst > 1 || widest >= watts * r)
			fail_msg("%g s refresh: worst %.2f times the +-, widest +- %.3f J", r,
			         worst, widest);
	}
}

/* Eight threads each rotating short windows beside an enclosing window of its
 * own on one meter, across the moment the refresh is learnt: the threads take
 * turns (a virtual clock moves only between calls), each moving the clock on
 * by 0.2 to 1.5 ms before its call, so that every thread's spans interleave
 * with the others' reads of the same counter. Run under ThreadSanitizer by
 * make check (the threaded suite). */
enum { NTHREADS = 8, NROWS = 200 };

struct turns {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned turn;
	struct vm *v;
	const struct sim_trace *tr;
	double t, r, learn;
	int learnt;
	uint64_t seed;
};

struct rotor {
	struct turns *tt;
	unsigned id;
	unsigned zeros, misses;
	double rows_j, outer_j, outer_u, truth_j, first_s;
};

/* Wait for this thread's turn, move the clock on; returns the instant. */
static double turn_take(struct rotor *ro)
{
	struct turns *tt = ro->tt;
	pthread_mutex_lock(&tt->mu);
	while (tt->turn % NTHREADS != ro->id)
		pthread_cond_wait(&tt->cv, &tt->mu);
	tt->t += 2e-4 + 1.3e-3 * (double)(splitmix(&tt->seed) % 1000) / 1000.0;
	if (!tt->learnt && tt->t >= tt->learn) {
		vm_advance(tt->v, tt->learn);
		finish_measuring(tt->v, 0);
		tt->learnt = 1;
	}
	vm_advance(tt->v, tt->t);
	return tt->t;
}

static void turn_pass(struct turns *tt)
{
	tt->turn++;
	pthread_cond_broadcast(&tt->cv);
	pthread_mutex_unlock(&tt->mu);
}

static void *rotor_main(void *arg)
{
	struct rotor *ro = arg;
	struct turns *tt = ro->tt;
	jst_window *outer = NULL, *rows = NULL;
	double b = turn_take(ro);
	ro->first_s = b;
	/* Both begun at the same instant: their edges are the same reading's. */
	int ok = jst_window_begin(tt->v->m, "outer", &outer) == 0 &&
	         jst_window_begin(tt->v->m, "rows", &rows) == 0;
	turn_pass(tt);
	for (int k = 0; ok && k <= NROWS; k++) {
		double t = turn_take(ro);
		jst_measurement *ms = NULL;
		ok = (k < NROWS ? jst_window_rotate(rows, &ms) : jst_window_end(rows, &ms)) == 0;
		if (ok) {
			jst_domain_energy d = {.size = sizeof d};
			ok = jst_measurement_domain(ms, 0, &d) == 0;
			ro->rows_j += d.energy_j;
			ro->misses +=
			    fabs(d.energy_j - sim_trace_energy(tt->tr, b, t)) > d.uncertainty_j;
			ro->zeros += d.energy_j == 0 && b - ro->first_s > tt->r;
			jst_measurement_free(ms);
		}
		if (ok && k == NROWS) {
			ok = jst_window_end(outer, &ms) == 0;
			jst_domain_energy d = {.size = sizeof d};
			ok = ok && jst_measurement_domain(ms, 0, &d) == 0;
			ro->outer_j = d.energy_j;
			ro->outer_u = d.uncertainty_j;
			ro->truth_j = sim_trace_energy(tt->tr, ro->first_s, t);
			jst_measurement_free(ms);
		}
		b = t;
		turn_pass(tt);
	}
	if (!ok)
		ro->misses = 1u << 30;
	return NULL;
}

static void threads_rotate_across_learning(void **state)
{
	(void)state;
	const double refresh[] = {0.01, 0.1};
	for (size_t i = 0; i < 2; i++) {
		double r = refresh[i];
		struct sim_trace *tr = trace("const:300");
		struct vm v;
		open_unknown(&v, tr, r, FAST_POLL_S);
		vm_advance(&v, 0.1);
		struct turns tt = {.v = &v, .tr = tr, .t = 0.1, .r = r, .learn = 1.0, .seed = 11};
		pthread_mutex_init(&tt.mu, NULL);
		pthread_cond_init(&tt.cv, NULL);
		pthread_t th[NTHREADS];
		struct rotor ro[NTHREADS];
		for (unsigned k = 0; k < NTHREADS; k++) {
			ro[k] = (struct rotor){.tt = &tt, .id = k};
			assert_int_equal(pthread_create(&th[k], NULL, rotor_main, &ro[k]), 0);
		}
		for (unsigned k = 0; k < NTHREADS; k++)
			pthread_join(th[k], NULL);
		assert_true(tt.learnt);
		for (unsigned k = 0; k < NTHREADS; k++) {
			const struct rotor *o = &ro[k];
			if (o->zeros || o->misses || fabs(o->rows_j - o->outer_j) > o->outer_u ||
			    fabs(o->outer_j - o->truth_j) > o->outer_u)
				fail_msg(
				    "%g s refresh, thread %u: rows %.3f J, window %.3f J +- %.3f, "
				    "truth %.3f J; %u rows 0 J, %u outside their +-",
				    r, k, o->rows_j, o->outer_j, o->outer_u, o->truth_j, o->zeros,
				    o->misses);
		}
		pthread_cond_destroy(&tt.cv);
		pthread_mutex_destroy(&tt.mu);
		vm_close(&v);
		sim_trace_free(tr);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(while_measuring),
	    cmocka_unit_test(after_measuring_gave_up),
	    cmocka_unit_test(refresh_learnt_midway),
	    cmocka_unit_test(short_window_after_a_gap),
	    cmocka_unit_test(threads_rotate_across_learning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
