/* The apple backend's IOReport parsing and arithmetic, on fixtures in the
 * recording format (tests/fixtures/ioreport): which channels become domains,
 * how they nest, their units, and the energy between two samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioreport.h"

static char *slurp(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/ioreport/%s", JST_FIXTURES, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static struct jst_ior_channel ch[3][JST_IOR_MAX_CHANNELS];
static int nch[3];

static void load(const char *name, struct jst_ior_model *m)
{
	const char *text = slurp(name);
	for (size_t k = 0; k < 3; k++) {
		double t = -1;
		nch[k] = jst_ior_recording_sample(text, k, ch[k], JST_IOR_MAX_CHANNELS, &t);
		assert_true(nch[k] > 0);
		assert_true(fabs(t - 0.5 * (double)k) < 1e-9);
	}
	assert_int_equal(jst_ior_recording_sample(text, 3, ch[0] + 100, 10, NULL), -ENOENT);
	assert_true(jst_ior_model_build(m, ch[0], (size_t)nch[0]) > 0);
}

static int find(const struct jst_ior_model *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->desc[i].name, name))
			return (int)i;
	fail_msg("no domain %s", name);
	return -1;
}

/* Energy of domain name between samples a and b, as the core would count it. */
static double energy(const struct jst_ior_model *m, const char *name, int a, int b)
{
	struct jst_raw ra[JST_IOR_MAX_DOMAINS], rb[JST_IOR_MAX_DOMAINS];
	for (size_t i = 0; i < m->n; i++) {
		jst_raw_clear(&ra[i]);
		jst_raw_clear(&rb[i]);
	}
	jst_ior_model_read(m, ch[a], (size_t)nch[a], ra);
	jst_ior_model_read(m, ch[b], (size_t)nch[b], rb);
	int i = find(m, name);
	assert_int_equal(ra[i].status, 0);
	assert_int_equal(rb[i].status, 0);
	return (double)(rb[i].counter - ra[i].counter) * m->desc[i].unit_j;
}

static void units(void **st)
{
	(void)st;
	assert_true(jst_ior_unit_j("mJ") == 1e-3);
	assert_true(jst_ior_unit_j("uJ") == 1e-6);
	assert_true(jst_ior_unit_j("\xc2\xb5J") == 1e-6);
	assert_true(jst_ior_unit_j("nJ") == 1e-9);
	assert_true(jst_ior_unit_j("J") == 1.0);
	assert_true(jst_ior_unit_j("mW") == 0);
	assert_true(jst_ior_unit_j("") == 0);
}

static void m1_domains_and_nesting(void **st)
{
	(void)st;
	struct jst_ior_model m;
	load("m1.txt", &m);
	/* Per-core channels (ECPU0), GPU SRAM and other groups make no domain. */
	assert_int_equal(m.n, 6);
	int cpu = find(&m, "cpu");
	assert_int_equal(m.desc[cpu].kind, JST_KIND_PACKAGE);
	assert_string_equal(m.desc[cpu].device, "cpu:package-0");
	assert_int_equal(m.desc[find(&m, "ecpu")].parent, cpu);
	assert_int_equal(m.desc[find(&m, "pcpu")].kind, JST_KIND_CORE);
	assert_int_equal(m.desc[find(&m, "pcpu")].parent, cpu);
	assert_int_equal(m.desc[find(&m, "gpu")].kind, JST_KIND_GPU);
	assert_int_equal(m.desc[find(&m, "ane")].kind, JST_KIND_OTHER);
	assert_int_equal(m.desc[find(&m, "dram")].kind, JST_KIND_DRAM);
	assert_int_equal(m.desc[find(&m, "dram")].parent, -1);
	assert_true(m.desc[find(&m, "gpu")].unit_j == 1e-9);
	for (size_t i = 0; i < m.n; i++) {
		assert_int_equal(m.desc[i].method, JST_METHOD_COUNTER);
		assert_true(m.desc[i].modulus == 0);
		assert_string_equal(m.desc[i].source, "ioreport");
	}
}

static void m1_energy_between_samples(void **st)
{
	(void)st;
	struct jst_ior_model m;
	load("m1.txt", &m);
	/* The fixture's increments: 2500 + 3100 mJ of CPU, 4 + 5 J of GPU (in nJ). */
	assert_true(fabs(energy(&m, "cpu", 0, 2) - 5.6) < 1e-9);
	assert_true(fabs(energy(&m, "cpu", 0, 1) - 2.5) < 1e-9);
	assert_true(fabs(energy(&m, "gpu", 0, 2) - 9.0) < 1e-9);
	assert_true(fabs(energy(&m, "ane", 0, 1) - 0.0) < 1e-12);
	assert_true(fabs(energy(&m, "ane", 1, 2) - 0.25) < 1e-9);
	assert_true(fabs(energy(&m, "dram", 0, 2) - 0.85) < 1e-9);
	assert_true(fabs(energy(&m, "pcpu", 0, 2) - 4.6) < 1e-9);
	/* Clusters are inside the CPU total, never more than it. */
	assert_true(energy(&m, "ecpu", 0, 2) + energy(&m, "pcpu", 0, 2) <= energy(&m, "cpu", 0, 2));
}

static void ultra_two_dies(void **st)
{
	(void)st;
	struct jst_ior_model m;
	load("m2ultra.txt", &m);
	assert_int_equal(m.n, 2 * 7); /* per die: cpu, three clusters, gpu, ane, dram */
	int cpu1 = find(&m, "cpu-die1");
	assert_string_equal(m.desc[cpu1].device, "cpu:package-1");
	assert_int_equal(m.desc[find(&m, "pacc1_cpu-die1")].parent, cpu1);
	assert_int_equal(m.desc[find(&m, "eacc_cpu-die0")].parent, find(&m, "cpu-die0"));
	assert_string_equal(m.desc[find(&m, "gpu-die1")].device, "gpu:apple-soc-1");
	/* Die 1 draws twice die 0's increments in the fixture. */
	assert_true(fabs(energy(&m, "cpu-die0", 0, 2) - 6.2) < 1e-9);
	assert_true(fabs(energy(&m, "cpu-die1", 0, 2) - 12.4) < 1e-9);
	assert_true(fabs(energy(&m, "gpu-die1", 0, 2) - 26.0) < 1e-9);
}

static void missing_and_bad_channels(void **st)
{
	(void)st;
	struct jst_ior_model m;
	load("m1.txt", &m);
	struct jst_raw raw[JST_IOR_MAX_DOMAINS];
	for (size_t i = 0; i < m.n; i++)
		jst_raw_clear(&raw[i]);
	/* A sample without DRAM, and with a negative CPU value. */
	struct jst_ior_channel s[JST_IOR_MAX_CHANNELS];
	size_t n = 0;
	for (int i = 0; i < nch[1]; i++) {
		if (!strcmp(ch[1][i].name, "DRAM"))
			continue;
		s[n] = ch[1][i];
		if (!strcmp(s[n].name, "CPU Energy"))
			s[n].value = -5;
		n++;
	}
	jst_ior_model_read(&m, s, n, raw);
	assert_int_equal(raw[find(&m, "dram")].status, -ENODATA);
	assert_non_null(strstr(raw[find(&m, "dram")].error, "'DRAM' is missing"));
	assert_int_equal(raw[find(&m, "cpu")].status, -EIO);
	assert_int_equal(raw[find(&m, "gpu")].status, 0);
}

static void malformed_recording(void **st)
{
	(void)st;
	struct jst_ior_channel c[4];
	assert_int_equal(jst_ior_recording_sample("# t=0\nonly\ttwo\n", 0, c, 4, NULL), -EINVAL);
	assert_int_equal(jst_ior_recording_sample("# t=0\na\tb\tc\tmJ\tx\n", 0, c, 4, NULL),
	                 -EINVAL);
	assert_int_equal(jst_ior_recording_sample("nothing\n", 0, c, 4, NULL), -ENOENT);
	assert_int_equal(
	    jst_ior_recording_sample("# t=0\na\tb\tc\tmJ\t1\na\tb\tc\tmJ\t1\na\tb\tc\tmJ\t1\n", 0,
	                             c, 2, NULL),
	    -E2BIG);
	/* No Energy Model channel: nothing to declare. */
	struct jst_ior_model m;
	assert_int_equal(jst_ior_recording_sample("# t=0\nCPU Stats\t\tECPU\t\t3\n", 0, c, 4, NULL),
	                 1);
	assert_int_equal(jst_ior_model_build(&m, c, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(units),
	    cmocka_unit_test(m1_domains_and_nesting),
	    cmocka_unit_test(m1_energy_between_samples),
	    cmocka_unit_test(ultra_two_dies),
	    cmocka_unit_test(missing_and_bad_channels),
	    cmocka_unit_test(malformed_recording),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
