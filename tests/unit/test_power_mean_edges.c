/*
 * Windows over means (a power analyser's samples through PTDaemon, stamped at
 * their interval's middle: jst_domain_desc.power_mean) beside a GPU counter,
 * in virtual time: the window's instants are the calls' (a mean's stamp, up
 * to a refresh before it was read, must not pull them back, which moved the
 * GPU's edges and made its figure read low); the means' figure is that of the
 * window itself, not of whole samples around it, within its stated ± and the
 * ± no wider than the class plus a sample's energy at each edge (the share a
 * cut sample holds is anywhere from none of it to all: power_edge.c); a
 * window inside one sample is its power times its length.
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

static jst_domain_energy dom_named(const jst_measurement *ms, const char *name)
{
	for (size_t i = 0;; i++) {
		jst_domain_energy d = {.size = sizeof d};
		assert_int_equal(jst_measurement_domain(ms, i, &d), 0);
		if (strcmp(d.name, name) == 0)
			return d;
	}
}

/* trace: the node's; peak_w: its highest level (a sample's energy is at most
 * a sample of it). */
static void windows_on(const char *spec, double peak_w)
{
	static const double lens[] = {0.05, 1.0, 2.3};
	uint64_t rng = 7;
	struct sim_trace *node = trace(spec), *g = trace("const:1000");
	vs_reset();
	struct vs_dom *n = vs_add("ptd0", JST_KIND_NODE, JST_METHOD_POWER, node, 0.1, 0, 0.01);
	n->desc.power_mean = 1;
	n->mean = 1;
	n->phase_s = 0.043;
	struct vs_dom *c = gpu(g, 0.1);
	c->stamp = 1;
	struct vm v;
	assert_int_equal(vm_open(&v, 1.0, 0.1), 0);
	double t = 1.3;
	for (int rep = 0; rep < 4; rep++) {
		for (size_t k = 0; k < 3; k++) {
			double b = t + (double)(splitmix(&rng) % 1000) * 1e-4;
			double e = b + lens[k];
			jst_window *w = begin(&v, b);
			vm_advance(&v, e);
			jst_measurement *ms = NULL;
			assert_int_equal(jst_window_end_settled(w, 0, &ms), 0);
			/* The instants are the calls': no stamp of a mean moved them. */
			assert_int_equal(jst_measurement_begin_ns(ms), vs_ns(b));
			assert_int_equal(jst_measurement_end_ns(ms), vs_ns(e));
			jst_domain_energy d = dom_named(ms, "ptd0"), gd = dom_named(ms, "gpu0");
			double truth = sim_trace_energy(node, b, e), gt = sim_trace_energy(g, b, e);
			double bar = 0.01 * d.energy_j + 2 * 0.1 * peak_w;
			printf(
			    "# %s %.2f s: %.3f ± %.3f J (bar %.3f), truth %.3f J; gpu %.3f ± %.3f "
			    "J, truth %.3f J\n",
			    spec, lens[k], d.energy_j, d.uncertainty_j, bar, truth, gd.energy_j,
			    gd.uncertainty_j, gt);
			assert_true(d.energy_j > 0);
			assert_true(fabs(d.energy_j - truth) <= d.uncertainty_j);
			assert_true(d.uncertainty_j <= bar);
			assert_true(fabs(gd.energy_j - gt) <= gd.uncertainty_j);
			jst_measurement_free(ms);
			t = vs_trace_s(vs_now) + 0.2;
		}
	}
	vm_close(&v);
	sim_trace_free(node);
	sim_trace_free(g);
}

static void level_node(void **st)
{
	(void)st;
	windows_on("const:1500", 1500);
}

static void stepped_node(void **st)
{
	(void)st;
	windows_on("steps:600,1500,300,1200@0.37", 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(level_node),
	    cmocka_unit_test(stepped_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
