/* joulestat validate's node meters (src/cli/validate_compare.c) on a meter of
 * fake backends: every node-kind domain is of one device, the node, whatever
 * its identity; the most accurate node meter (a power analyser) is the
 * reference; an analyser's channels add up; each node meter is set against
 * the components it contains, the reference first; a platform meter keeps its
 * own group and its cpu+dram components. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "fake_backend.h"
#include "meter_internal.h"
#include "validate.h"

static const struct jst_backend_ops *const both[] = {&fake_ops_a, &fake_ops_b};

static int setup(void **st)
{
	(void)st;
	fake_reset(&fake_a);
	fake_reset(&fake_b);
	return 0;
}

/* A counter domain read as it is set: a refresh below the grid. */
static size_t add(struct fake *f, const char *name, jst_kind kind, const char *device,
                  double accuracy)
{
	size_t i = fake_add(f, name, kind, device, JST_METHOD_COUNTER, accuracy, 1e-6, 0);
	f->desc[i].refresh_s = 1e-3;
	return i;
}

/* One window over which each domain's counter gains joules[i] (fake_a's
 * domains first, then fake_b's). */
static jst_measurement *measure(const double *a_j, size_t na, const double *b_j, size_t nb)
{
	jst_config cfg;
	jst_config_init(&cfg);
	cfg.cross_validate = 1;
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, both, 2, &m), 0);
	jst_window *w;
	assert_int_equal(jst_window_begin(m, "w", &w), 0);
	assert_int_equal(fake_a.n, na);
	assert_int_equal(fake_b.n, nb);
	for (size_t i = 0; i < na && i < fake_a.n; i++)
		fake_set_counter(&fake_a, i, (uint64_t)llround(a_j[i] * 1e6));
	for (size_t i = 0; i < nb && i < fake_b.n; i++)
		fake_set_counter(&fake_b, i, (uint64_t)llround(b_j[i] * 1e6));
	jst_measurement *ms;
	assert_int_equal(jst_window_end(w, &ms), 0);
	jst_meter_close(m);
	return ms;
}

static void analyser_is_the_reference(void **st)
{
	(void)st;
	/* fake-a: a two-channel analyser (1%); fake-b: a BMC (5%) and two packages. */
	add(&fake_a, "ptd0", JST_KIND_NODE, "node:ptd:10.0.0.5:8888", 0.01);
	add(&fake_a, "ptd1", JST_KIND_NODE, "node:ptd:10.0.0.5:8889", 0.01);
	add(&fake_b, "bmc", JST_KIND_NODE, "node:redfish:bmc1", 0.05);
	add(&fake_b, "package-0", JST_KIND_PACKAGE, "cpu:package-0", 0.05);
	add(&fake_b, "package-1", JST_KIND_PACKAGE, "cpu:package-1", 0.05);
	const double a[] = {150, 170}, b[] = {336, 60, 40};
	jst_measurement *ms = measure(a, sizeof a / sizeof a[0], b, sizeof b / sizeof b[0]);
	struct jst_validation v;
	assert_int_equal(jst_validation_compute(&ms, 1, &v), 0);

	const struct jst_vgroup *node = NULL;
	for (size_t g = 0; g < v.ngroups; g++)
		if (v.groups[g].kind == JST_KIND_NODE) {
			assert_null(node); /* one node, however many identities */
			node = &v.groups[g];
		}
	if (!node) {
		fail();
		return;
	}
	assert_string_equal(node->device, "node");
	assert_string_equal(node->label, "node");
	assert_int_equal(node->n, 2);
	const struct jst_vmethod *ptd = &node->methods[0], *bmc = &node->methods[1];
	if (strcmp(ptd->backend, "fake-a") != 0)
		ptd = &node->methods[1], bmc = &node->methods[0];
	assert_string_equal(ptd->names, "ptd0+ptd1");
	assert_true(ptd->reference);
	assert_false(bmc->reference);
	assert_float_equal(ptd->energy[0], 320, 1e-6);
	assert_float_equal(bmc->diff[0], (336.0 - 320) / 320, 1e-9);
	assert_true(bmc->agrees); /* 5% off, within 1% + 5% */

	/* Two node meters against the components (the packages, 100 J): the
	 * reference first. */
	assert_int_equal(v.nsystems, 2);
	assert_string_equal(v.systems[0].name, "ptd0+ptd1");
	assert_true(v.systems[0].reference);
	assert_int_equal(v.systems[0].meters, 2);
	assert_string_equal(v.systems[0].components, "total");
	assert_float_equal(v.systems[0].meter_j.mean, 320, 1e-6);
	assert_float_equal(v.systems[0].components_j.mean, 100, 1e-6);
	assert_float_equal(v.systems[0].rest_j.mean, 220, 1e-6);
	assert_float_equal(v.systems[0].rest_fraction.mean, 220.0 / 320, 1e-9);
	assert_false(v.systems[0].inconsistent);
	assert_string_equal(v.systems[1].name, "bmc");
	assert_false(v.systems[1].reference);
	assert_float_equal(v.systems[1].rest_j.mean, 236, 1e-6);
	assert_int_equal(v.disagreements, 0);
	jst_validation_free(&v);
	jst_measurement_free(ms);
}

static void components_beyond_the_node(void **st)
{
	(void)st;
	/* A node meter that reads less than its parts, beyond both classes. */
	add(&fake_a, "ptd0", JST_KIND_NODE, "node:ptd:h:8888", 0.01);
	add(&fake_b, "gpu0", JST_KIND_GPU, "gpu:GPU-1", 0.05);
	const double a[] = {100}, b[] = {150};
	jst_measurement *ms = measure(a, sizeof a / sizeof a[0], b, sizeof b / sizeof b[0]);
	struct jst_validation v;
	assert_int_equal(jst_validation_compute(&ms, 1, &v), 0);
	assert_int_equal(v.nsystems, 1);
	assert_true(v.systems[0].reference);
	assert_int_equal(v.systems[0].meters, 1);
	assert_float_equal(v.systems[0].rest_j.mean, -50, 1e-6);
	assert_float_equal(v.systems[0].allowed_j, 0.01 * 100 + 0.05 * 150, 1e-6);
	assert_true(v.systems[0].inconsistent);
	assert_int_equal(v.disagreements, 1);
	jst_validation_free(&v);
	jst_measurement_free(ms);
}

static void platform_keeps_its_device(void **st)
{
	(void)st;
	/* A platform meter (psys) beside a node meter: its own group, its own
	 * components (cpu and dram, not the GPU). */
	add(&fake_a, "ptd0", JST_KIND_NODE, "node:ptd:h:8888", 0.01);
	add(&fake_b, "psys", JST_KIND_PLATFORM, "cpu:psys", 0.05);
	add(&fake_b, "package-0", JST_KIND_PACKAGE, "cpu:package-0", 0.05);
	add(&fake_b, "gpu0", JST_KIND_GPU, "gpu:GPU-1", 0.05);
	const double a[] = {500}, b[] = {80, 50, 200};
	jst_measurement *ms = measure(a, sizeof a / sizeof a[0], b, sizeof b / sizeof b[0]);
	struct jst_validation v;
	assert_int_equal(jst_validation_compute(&ms, 1, &v), 0);
	assert_int_equal(v.nsystems, 2);
	int seen_node = 0, seen_platform = 0;
	for (size_t i = 0; i < v.nsystems; i++) {
		const struct jst_vsystem *s = &v.systems[i];
		assert_true(s->reference); /* each the only meter of its device */
		if (strcmp(s->name, "ptd0") == 0) {
			seen_node = 1;
			assert_string_equal(s->device, "node");
			assert_float_equal(s->components_j.mean, 250, 1e-6);
		} else {
			seen_platform = 1;
			assert_string_equal(s->name, "psys");
			assert_string_equal(s->device, "cpu:psys");
			assert_string_equal(s->components, "cpu+dram");
			assert_float_equal(s->components_j.mean, 50, 1e-6);
		}
	}
	assert_true(seen_node && seen_platform);
	jst_validation_free(&v);
	jst_measurement_free(ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(analyser_is_the_reference, setup),
	    cmocka_unit_test_setup(components_beyond_the_node, setup),
	    cmocka_unit_test_setup(platform_keeps_its_device, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
