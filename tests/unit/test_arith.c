/* Integration, the series ring, de-duplication and totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dedup.h"
#include "integrate.h"
#include "series.h"
#include "totals.h"

static void trapezoid(void **st)
{
	(void)st;
	struct jst_integrator in;
	jst_integrator_init(&in);
	jst_integrator_add(&in, 1000000000LL, 100.0);
	jst_integrator_add(&in, 2000000000LL, 200.0); /* 150 W avg for 1 s */
	jst_integrator_add(&in, 2500000000LL, 200.0); /* 100 J more */
	assert_float_equal(in.energy_j, 250.0, 1e-9);
	/* Out-of-order and repeated instants add nothing. */
	assert_float_equal(jst_integrator_add(&in, 2500000000LL, 900.0), 0.0, 0);
	assert_float_equal(jst_integrator_add(&in, 1500000000LL, 900.0), 0.0, 0);
	assert_float_equal(in.energy_j, 250.0, 1e-9);
}

static void trapezoid_exact_on_linear_ramp(void **st)
{
	(void)st;
	struct jst_integrator in;
	jst_integrator_init(&in);
	/* P(t) = 10 t over 0..10 s: exactly 500 J, sampled unevenly. */
	double ts[] = {0, 0.3, 1.7, 2.0, 5.5, 9.99, 10.0};
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
		jst_integrator_add(&in, (int64_t)(ts[i] * 1e9), 10 * ts[i]);
	assert_float_equal(in.energy_j, 500.0, 1e-6);
}

static void series_ring_is_bounded(void **st)
{
	(void)st;
	struct jst_series s;
	assert_int_equal(jst_series_init(&s, 4), 0);
	jst_sample x = {.size = sizeof x}, out[8];
	for (int i = 1; i <= 10; i++) {
		x.t_ns = i;
		jst_series_push(&s, &x);
	}
	size_t n = jst_series_copy(&s, out, 8);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i].t_ns, 7 + i);
	assert_int_equal(jst_series_copy(&s, out, 2), 2);
	assert_int_equal(out[0].t_ns, 9);
	assert_int_equal(out[1].t_ns, 10);
	jst_series_free(&s);
	assert_int_equal(jst_series_init(&s, 0), -22);
}

static struct jst_domain_desc mk(const char *name, jst_kind kind, const char *dev, double acc)
{
	struct jst_domain_desc d = {.kind = kind, .accuracy = acc, .parent = -1};
	snprintf(d.name, sizeof d.name, "%s", name);
	snprintf(d.device, sizeof d.device, "%s", dev);
	return d;
}

static void dedup_most_accurate_wins(void **st)
{
	(void)st;
	struct jst_domain_desc d[] = {
	    mk("gpu0", JST_KIND_GPU, "gpu:GPU-1", 0.02),  /* dcgm-like */
	    mk("gpu0", JST_KIND_GPU, "gpu:GPU-1", 0.05),  /* nvml counter */
	    mk("gpu0", JST_KIND_GPU, "gpu:GPU-1", 0.10),  /* instant power */
	    mk("gpu1", JST_KIND_GPU, "gpu:GPU-12", 0.05), /* prefix but not the same GPU */
	    mk("package-0", JST_KIND_PACKAGE, "cpu:package-0", 0.05),
	    mk("dram-0", JST_KIND_DRAM, "cpu:package-0/dram", 0.05),
	    mk("cpu", JST_KIND_PACKAGE, "cpu", 0.30), /* estimate covered by rapl */
	    mk("x", JST_KIND_OTHER, "same", 0.05),
	    mk("y", JST_KIND_OTHER, "same", 0.05), /* tie: the earlier wins */
	};
	const struct jst_domain_desc *p[9];
	int primary[9];
	for (int i = 0; i < 9; i++)
		p[i] = &d[i];
	jst_dedup_primary(p, 9, primary);
	int want[] = {1, 0, 0, 1, 1, 1, 0, 1, 0};
	for (int i = 0; i < 9; i++)
		assert_int_equal(primary[i], want[i]);
}

static void dedup_estimate_alone_is_primary(void **st)
{
	(void)st;
	struct jst_domain_desc d[] = {
	    mk("cpu", JST_KIND_PACKAGE, "cpu", 0.30),
	    mk("gpu0", JST_KIND_GPU, "gpu:GPU-1", 0.05),
	};
	const struct jst_domain_desc *p[] = {&d[0], &d[1]};
	int primary[2];
	jst_dedup_primary(p, 2, primary);
	assert_int_equal(primary[0], 1);
	assert_int_equal(primary[1], 1);
	assert_true(jst_device_covers("cpu", "cpu:package-1"));
	assert_false(jst_device_covers("cpu:package-1", "cpu"));
	assert_false(jst_device_covers("gpu:GPU-1", "gpu:GPU-12"));
}

/* A module's input rail (Jetson VDD_IN) declares that it covers the CPU: the
 * CPU estimate steps aside for it, as it does for a measured package; a
 * platform meter that declares nothing (psys, a BMC) leaves it counted. */
static void dedup_estimate_steps_aside_for_a_rail_covering_the_cpu(void **st)
{
	(void)st;
	struct jst_domain_desc d[] = {
	    mk("VDD_IN", JST_KIND_PLATFORM, "jetson:VDD_IN", 0.10),
	    mk("VDD_CPU_GPU_CV", JST_KIND_OTHER, "jetson:VDD_CPU_GPU_CV", 0.10),
	    mk("cpu", JST_KIND_PACKAGE, "cpu", 0.30),
	    mk("psys", JST_KIND_PLATFORM, "platform:psys", 0.05),
	};
	d[0].covers = JST_COVERS_MODULE;
	d[1].parent = 0;
	d[2].method = JST_METHOD_ESTIMATE;
	const struct jst_domain_desc *p[] = {&d[0], &d[1], &d[2], &d[3]};
	int primary[4];
	jst_dedup_primary(p, 4, primary);
	assert_int_equal(primary[0], 1);
	assert_int_equal(primary[1], 1);
	assert_int_equal(primary[2], 0);
	assert_int_equal(primary[3], 1);
	/* Without the rail, or with a platform meter that covers nothing
	 * declared, the estimate is all there is for the CPU. */
	d[0].covers = 0;
	jst_dedup_primary(p, 4, primary);
	assert_int_equal(primary[2], 1);
	/* A covering domain that is itself an estimate displaces nothing. */
	d[0].covers = JST_COVERS_MODULE;
	d[0].method = JST_METHOD_ESTIMATE;
	jst_dedup_primary(p, 4, primary);
	assert_int_equal(primary[2], 1);
}

static jst_domain_energy de(jst_kind kind, double e, double acc, int parent, int primary)
{
	return (jst_domain_energy){.kind = kind,
	                           .energy_j = e,
	                           .accuracy = acc,
	                           .parent = parent,
	                           .primary = primary,
	                           .method = JST_METHOD_COUNTER};
}

static void totals_never_double_count(void **st)
{
	(void)st;
	jst_domain_energy d[] = {
	    de(JST_KIND_PACKAGE, 100, 0.05, -1, 1), /* 0 package-0 */
	    de(JST_KIND_CORE, 60, 0.05, 0, 1),      /* inside package-0 */
	    de(JST_KIND_UNCORE, 10, 0.05, 0, 1),    /* inside package-0 */
	    de(JST_KIND_DRAM, 20, 0.05, -1, 1),
	    de(JST_KIND_PACKAGE, 80, 0.05, -1, 1),   /* package-1 */
	    de(JST_KIND_PLATFORM, 260, 0.05, -1, 1), /* psys: system, not summed */
	    de(JST_KIND_GPU, 300, 0.05, -1, 1),
	    de(JST_KIND_GPU, 330, 0.10, -1, 0), /* same GPU by another method */
	};
	jst_total t[JST_TOTAL_COUNT_];
	jst_totals_compute(d, 8, 2.0, t);
	assert_float_equal(t[JST_TOTAL_CPU].energy_j, 180, 1e-9);
	assert_int_equal(t[JST_TOTAL_CPU].parts, 2);
	assert_float_equal(t[JST_TOTAL_DRAM].energy_j, 20, 1e-9);
	assert_float_equal(t[JST_TOTAL_GPU].energy_j, 300, 1e-9);
	assert_float_equal(t[JST_TOTAL_ALL].energy_j, 500, 1e-9);
	assert_float_equal(t[JST_TOTAL_ALL].avg_power_w, 250, 1e-9);
	assert_float_equal(t[JST_TOTAL_SYSTEM].energy_j, 260, 1e-9);
	assert_int_equal(t[JST_TOTAL_ALL].parts, 4);
	assert_false(t[JST_TOTAL_ALL].estimated);
}

static void totals_accuracy_is_energy_weighted(void **st)
{
	(void)st;
	jst_domain_energy d[] = {
	    de(JST_KIND_GPU, 300, 0.05, -1, 1),
	    de(JST_KIND_PACKAGE, 100, 0.30, -1, 1),
	};
	d[1].method = JST_METHOD_ESTIMATE;
	jst_total t[JST_TOTAL_COUNT_];
	jst_totals_compute(d, 2, 1.0, t);
	assert_float_equal(t[JST_TOTAL_ALL].accuracy, (300 * 0.05 + 100 * 0.30) / 400, 1e-12);
	assert_true(t[JST_TOTAL_ALL].estimated);
	assert_true(t[JST_TOTAL_CPU].estimated);
	assert_false(t[JST_TOTAL_GPU].estimated);
	assert_int_equal(t[JST_TOTAL_DRAM].parts, 0);
}

/* A module's input rail with its rails inside it (Jetson VDD_IN) is the
 * module's energy: the total is that rail, once; its rails are never added to
 * it; a platform meter with nothing inside it (psys) stays system. */
static void totals_module_rail_is_the_total(void **st)
{
	(void)st;
	jst_domain_energy d[] = {
	    de(JST_KIND_PLATFORM, 40, 0.10, -1, 1), /* 0 VDD_IN */
	    de(JST_KIND_OTHER, 22, 0.10, 0, 1),     /* VDD_CPU_GPU_CV inside it */
	    de(JST_KIND_OTHER, 10, 0.10, 0, 1),     /* VDD_SOC inside it */
	    de(JST_KIND_GPU, 7, 0.10, 0, 1),        /* a GPU rail inside it */
	    de(JST_KIND_GPU, 300, 0.05, -1, 1),     /* a GPU outside the module */
	};
	jst_total t[JST_TOTAL_COUNT_];
	jst_totals_compute(d, 5, 2.0, t);
	assert_float_equal(t[JST_TOTAL_ALL].energy_j, 340, 1e-9);
	assert_int_equal(t[JST_TOTAL_ALL].parts, 2);
	assert_float_equal(t[JST_TOTAL_ALL].avg_power_w, 170, 1e-9);
	assert_int_equal(t[JST_TOTAL_SYSTEM].parts, 0);
	assert_float_equal(t[JST_TOTAL_GPU].energy_j, 300, 1e-9);
	assert_int_equal(t[JST_TOTAL_CPU].parts, 0);
	/* The module alone is the total. */
	jst_totals_compute(d, 3, 2.0, t);
	assert_float_equal(t[JST_TOTAL_ALL].energy_j, 40, 1e-9);
	assert_int_equal(t[JST_TOTAL_ALL].parts, 1);
	assert_int_equal(t[JST_TOTAL_SYSTEM].parts, 0);
	/* With nothing inside it, a platform meter is system, as before. */
	jst_totals_compute(d, 1, 2.0, t);
	assert_int_equal(t[JST_TOTAL_ALL].parts, 0);
	assert_float_equal(t[JST_TOTAL_SYSTEM].energy_j, 40, 1e-9);
	/* A node meter with something inside it is still system. */
	d[0].kind = JST_KIND_NODE;
	jst_totals_compute(d, 3, 2.0, t);
	assert_int_equal(t[JST_TOTAL_ALL].parts, 0);
	assert_float_equal(t[JST_TOTAL_SYSTEM].energy_j, 40, 1e-9);
}

/* "counted" in every output is the totals' rule, domain by domain: a core
 * reported without its socket (amd_energy) and a system meter (psys) are
 * shown but never in the total; another method of a device is not counted;
 * the sum of the counted domains is the total of all components. */
static void counted_is_what_the_total_adds(void **st)
{
	(void)st;
	jst_domain_energy d[] = {
	    de(JST_KIND_PACKAGE, 170, 0.05, -1, 1),  /* 0 Esocket0 */
	    de(JST_KIND_CORE, 34, 0.05, -1, 1),      /* 1 Ecore000, no parent */
	    de(JST_KIND_CORE, 25, 0.05, 0, 1),       /* 2 a core inside 0 */
	    de(JST_KIND_PLATFORM, 400, 0.05, -1, 1), /* 3 psys */
	    de(JST_KIND_GPU, 300, 0.05, -1, 1),      /* 4 a GPU */
	    de(JST_KIND_GPU, 310, 0.30, -1, 0),      /* 5 its estimate beside it */
	    de(JST_KIND_DRAM, 20, 0.05, -1, 1),      /* 6 */
	    de(JST_KIND_OTHER, 5, 0.10, -1, 1),      /* 7 */
	};
	enum { N = sizeof d / sizeof *d };
	const int want[N] = {JST_TOTAL_CPU,  -1,           -1, JST_TOTAL_SYSTEM, JST_TOTAL_GPU, -1,
	                     JST_TOTAL_DRAM, JST_TOTAL_ALL};
	jst_total t[JST_TOTAL_COUNT_];
	jst_totals_compute(d, N, 1.0, t);
	double sum = 0;
	size_t parts = 0;
	for (size_t i = 0; i < N; i++) {
		int k = jst_totals_counted_in(d, N, i);
		assert_int_equal(k, want[i]);
		if (jst_totals_counted(k)) {
			sum += d[i].energy_j;
			parts++;
		}
	}
	assert_float_equal(t[JST_TOTAL_ALL].energy_j, sum, 1e-9);
	assert_int_equal(t[JST_TOTAL_ALL].parts, parts);
	assert_float_equal(sum, 170 + 300 + 20 + 5, 1e-9);
	/* psys with a rail declared inside it is a module: in the total. */
	d[2].parent = 3;
	assert_int_equal(jst_totals_counted_in(d, N, 3), JST_TOTAL_ALL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(trapezoid),
	    cmocka_unit_test(counted_is_what_the_total_adds),
	    cmocka_unit_test(trapezoid_exact_on_linear_ramp),
	    cmocka_unit_test(series_ring_is_bounded),
	    cmocka_unit_test(dedup_most_accurate_wins),
	    cmocka_unit_test(dedup_estimate_alone_is_primary),
	    cmocka_unit_test(totals_never_double_count),
	    cmocka_unit_test(totals_accuracy_is_energy_weighted),
	    cmocka_unit_test(dedup_estimate_steps_aside_for_a_rail_covering_the_cpu),
	    cmocka_unit_test(totals_module_rail_is_the_total),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
