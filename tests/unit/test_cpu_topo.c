/* CPU identity and packages from procfs/sysfs fixtures written here: vendors,
 * the first CPU of each package in package order, die naming as powercap's,
 * offline CPUs, and the Intel server DRAM unit list. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "cpu_topo.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **st)
{
	(void)st;
	snprintf(root, sizeof root, "/tmp/jst-topo-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void cpu(int n, int pkg, int die)
{
	char rel[128], text[16];
	snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", n);
	snprintf(text, sizeof text, "%d\n", pkg);
	put(rel, text);
	if (die >= 0) {
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/die_id", n);
		snprintf(text, sizeof text, "%d\n", die);
		put(rel, text);
	}
}

static void vendors(void **st)
{
	(void)st;
	char proc[128];
	struct jst_cpu_id id;
	snprintf(proc, sizeof proc, "%s/proc", root);
	put("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
	                    "model\t\t: 85\nmodel name\t: Xeon\n\nprocessor\t: 1\n"
	                    "vendor_id\t: AuthenticAMD\n\n");
	assert_int_equal(jst_cpu_id_read(proc, &id), 0);
	assert_int_equal(id.vendor, JST_CPU_INTEL);
	assert_int_equal(id.family, 6);
	assert_int_equal(id.model, 85); /* "model name" is not "model" */
	assert_true(jst_cpu_server_dram_unit(&id) == ldexp(1.0, -16));
	id.model = 158; /* a client part: the unit register holds */
	assert_true(jst_cpu_server_dram_unit(&id) == 0);

	assert_int_equal(id.hypervisor, 0);
	put("proc/cpuinfo", "vendor_id\t: HygonGenuine\ncpu family\t: 24\nmodel\t\t: 1\n"
	                    "flags\t\t: fpu vme hypervisor lahf_lm\n");
	assert_int_equal(jst_cpu_id_read(proc, &id), 0);
	assert_int_equal(id.vendor, JST_CPU_AMD);
	assert_int_equal(id.hypervisor, 1);
	assert_int_equal(id.family, 24);
	assert_true(jst_cpu_server_dram_unit(&id) == 0);

	put("proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n"
	                    "flags\t\t: nothypervisor hypervisors\n");
	assert_int_equal(jst_cpu_id_read(proc, &id), 0);
	assert_int_equal(id.vendor, JST_CPU_OTHER);
	assert_int_equal(id.hypervisor, 0);

	snprintf(proc, sizeof proc, "%s/nothing", root);
	assert_int_equal(jst_cpu_id_read(proc, &id), -ENOENT);
}

static void packages_in_order(void **st)
{
	(void)st;
	char sys[128], name[64];
	snprintf(sys, sizeof sys, "%s/sys", root);
	/* Package 1's CPUs numbered first, and CPU 10 after CPU 2. */
	cpu(0, 1, 0);
	cpu(1, 1, 0);
	cpu(2, 0, 0);
	cpu(10, 0, 0);
	put("sys/devices/system/cpu/cpu3/online", "0\n"); /* offline: no topology */
	struct jst_cpu_topo t;
	assert_int_equal(jst_cpu_topo_read(sys, &t), 0);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.multi_die, 0);
	const struct jst_cpu *c = jst_cpu_topo_package(&t, 0);
	assert_non_null(c);
	assert_int_equal(c->cpu, 2);
	jst_cpu_package_name(&t, c, name, sizeof name);
	assert_string_equal(name, "package-0");
	c = jst_cpu_topo_package(&t, 1);
	assert_int_equal(c->cpu, 0);
	assert_null(jst_cpu_topo_package(&t, 2));
	assert_int_equal(jst_cpu_topo_find(&t, 10)->package, 0);
	assert_null(jst_cpu_topo_find(&t, 3));
	jst_cpu_topo_free(&t);
}

static void dies_named_as_powercap(void **st)
{
	(void)st;
	char sys[128], name[64];
	snprintf(sys, sizeof sys, "%s/sys", root);
	cpu(0, 0, 0);
	cpu(1, 0, 1);
	cpu(2, 1, 0);
	cpu(3, 1, 1);
	struct jst_cpu_topo t;
	assert_int_equal(jst_cpu_topo_read(sys, &t), 0);
	assert_int_equal(t.multi_die, 1);
	const char *want[] = {"package-0-die-0", "package-0-die-1", "package-1-die-0",
	                      "package-1-die-1"};
	for (size_t k = 0; k < 4; k++) {
		const struct jst_cpu *c = jst_cpu_topo_package(&t, k);
		assert_non_null(c);
		jst_cpu_package_name(&t, c, name, sizeof name);
		assert_string_equal(name, want[k]);
	}
	assert_null(jst_cpu_topo_package(&t, 4));
	jst_cpu_topo_free(&t);
}

static void no_topology(void **st)
{
	(void)st;
	char sys[128];
	struct jst_cpu_topo t;
	snprintf(sys, sizeof sys, "%s/none", root);
	assert_int_equal(jst_cpu_topo_read(sys, &t), -ENOENT);
	/* A physical_package_id of -1 (no topology) is not a package. */
	snprintf(sys, sizeof sys, "%s/sys", root);
	put("sys/devices/system/cpu/cpu0/topology/physical_package_id", "-1\n");
	assert_int_equal(jst_cpu_topo_read(sys, &t), 0);
	assert_int_equal(t.n, 0);
	assert_null(jst_cpu_topo_package(&t, 0));
	jst_cpu_topo_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(vendors, setup, teardown),
	    cmocka_unit_test_setup_teardown(packages_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(dies_named_as_powercap, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_topology, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
