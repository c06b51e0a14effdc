/* The estimate backend: TDP table, procfs parsing, the model's arithmetic, and
 * its failures, against a procfs root the test writes. */
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
#include <time.h>
#include <unistd.h>

#include "estimate.h"
#include "fake_backend.h"
#include "meter_internal.h"
#include "named_windows.h"
#include "tdp_table.h"

/* ---- fixtures ----------------------------------------------------------------- */

static char root[256];

/* Atomic replacement, as a sampler reading concurrently must never see a
 * half-written file. */
static void write_file(const char *name, const char *text)
{
	char path[512], tmp[512];
	snprintf(path, sizeof path, "%s/%s", root, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", root, name);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void remove_file(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root, name);
	unlink(path);
}

/* The aggregate fields, in /proc/stat order. */
struct stat_fields {
	uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
};

static const struct stat_fields base_fields = {1000, 10, 500, 9000, 77, 3, 40, 7, 200, 0};
/* user + nice + system + irq + softirq + steal; guest is already inside user */
#define BASE_BUSY 1560u

static void write_stat(const struct stat_fields *f, unsigned ncpu)
{
	char text[8192];
	int n = snprintf(text, sizeof text, "cpu  %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu\n",
	                 (unsigned long)f->user, (unsigned long)f->nice, (unsigned long)f->system,
	                 (unsigned long)f->idle, (unsigned long)f->iowait, (unsigned long)f->irq,
	                 (unsigned long)f->softirq, (unsigned long)f->steal,
	                 (unsigned long)f->guest, (unsigned long)f->guest_nice);
	for (unsigned i = 0; i < ncpu; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, "cpu%u 1 2 3 4 5 6 7 0 0 0\n", i);
	snprintf(text + n, sizeof text - (size_t)n,
	         "intr 12345 0 9 0\nctxt 999\nbtime 1700000000\nprocesses 42\n"
	         "procs_running 1\nprocs_blocked 0\nsoftirq 5 0 1 2 0 0 0 1 0 0 1\n");
	write_file("stat", text);
}

/* sockets x cores x threads logical CPUs, as x86 Linux writes them. */
static void write_cpuinfo(const char *model, unsigned sockets, unsigned cores, unsigned threads,
                          int vm)
{
	static char text[65536];
	size_t n = 0;
	unsigned cpu = 0;
	for (unsigned s = 0; s < sockets; s++)
		for (unsigned t = 0; t < threads; t++)
			for (unsigned c = 0; c < cores; c++)
				n += (size_t)snprintf(
				    text + n, sizeof text - n,
				    "processor\t: %u\nvendor_id\t: GenuineIntel\nmodel name\t: %s\n"
				    "physical id\t: %u\nsiblings\t: %u\ncore id\t\t: %u\n"
				    "cpu cores\t: %u\nflags\t\t: fpu vme de pse tsc%s msr\n\n",
				    cpu++, model, s, cores * threads, c, cores,
				    vm ? " hypervisor" : "");
	write_file("cpuinfo", text);
}

static int setup(void **st)
{
	(void)st;
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof root, "%s/jst-estimate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(root));
	unsetenv(JST_ESTIMATE_TDP_ENV);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	remove_file("stat");
	remove_file("cpuinfo");
	rmdir(root);
	unsetenv(JST_ESTIMATE_TDP_ENV);
	return 0;
}

static long hz(void)
{
	long h = sysconf(_SC_CLK_TCK);
	assert_true(h > 0);
	return h;
}

/* Probe the backend on the fixture root; the reason goes to reason. */
static int probe(void **state, char *reason, size_t len)
{
	char options[600]; /* "procfs.root=<root>\0\0": the one option it reads */
	int n = snprintf(options, sizeof options - 1, "procfs.root=%s", root);
	assert_true(n > 0 && (size_t)n < sizeof options - 1);
	options[n + 1] = '\0';
	struct jst_backend_ctx ctx = {.options = options};
	reason[0] = 0;
	return jst_backend_estimate.probe(&ctx, state, reason, len);
}

static const struct jst_domain_desc *the_domain(void *state)
{
	const struct jst_domain_desc *d = NULL;
	assert_int_equal(jst_backend_estimate.domains(state, &d), 1);
	assert_non_null(d);
	return d;
}

static struct jst_raw read_raw(void *state, unsigned flags)
{
	struct jst_raw raw;
	jst_raw_clear(&raw);
	assert_int_equal(jst_backend_estimate.read(state, &raw, 1, flags), 0);
	return raw;
}

/* ---- TDP table ------------------------------------------------------------------- */

static void tdp_known_models(void **st)
{
	(void)st;
	static const struct {
		const char *cpuinfo;
		double tdp;
		const char *entry;
	} cases[] = {
	    {"Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 150, "Intel Xeon Gold 6248"},
	    {"Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", 205, "Intel Xeon Gold 6248R"},
	    {"Intel(R) Xeon(R) Platinum 8180 CPU @ 2.50GHz", 205, "Intel Xeon Platinum 8180"},
	    {"Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", 270, "Intel Xeon Platinum 8380"},
	    {"Intel(R) Xeon(R) Platinum 8480+", 350, "Intel Xeon Platinum 8480+"},
	    {"INTEL(R) XEON(R) PLATINUM 8592+", 350, "Intel Xeon Platinum 8592+"},
	    {"Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz", 85, "Intel Xeon Silver 4214"},
	    {"Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", 120, "Intel Xeon E5-2680 v4"},
	    {"Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz", 130, "Intel Xeon E5-2680"},
	    {"Intel(R) Xeon(R) CPU E3-1230 v5 @ 3.40GHz", 80, "Intel Xeon E3-1230 v5"},
	    {"AMD EPYC 7763 64-Core Processor", 280, "AMD EPYC 7763"},
	    {"AMD EPYC 7742 64-Core Processor", 225, "AMD EPYC 7742"},
	    {"AMD EPYC 9654 96-Core Processor", 360, "AMD EPYC 9654"},
	    {"AMD EPYC 9754 128-Core Processor", 360, "AMD EPYC 9754"},
	    {"AMD EPYC 7543 32-Core Processor", 225, "AMD EPYC 7543"},
	    {"AMD Ryzen Threadripper PRO 5995WX 64-Cores", 280, "AMD Ryzen Threadripper 5995WX"},
	    {"AMD Ryzen 9 7950X 16-Core Processor", 170, "AMD Ryzen 9 7950X"},
	    {"AMD Ryzen 7 5800X3D 8-Core Processor", 105, "AMD Ryzen 7 5800X3D"},
	    {"AMD Ryzen 7 7840U w/ Radeon 780M Graphics", 28, "AMD Ryzen 7 7840U"},
	    {"13th Gen Intel(R) Core(TM) i9-13900K", 125, "Intel Core i9-13900K"},
	    {"12th Gen Intel(R) Core(TM) i7-1260P", 28, "Intel Core i7-1260P"},
	    {"Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", 65, "Intel Core i7-8700"},
	    {"Intel(R) Core(TM) Ultra 7 155H", 28, "Intel Core Ultra 7 155H"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double tdp = -1;
		const char *matched = NULL;
		int rc = jst_tdp_lookup(cases[i].cpuinfo, &tdp, &matched);
		if (rc != 0 || tdp != cases[i].tdp || strcmp(matched, cases[i].entry) != 0)
			fail_msg("'%s': rc %d, %g W, '%s'", cases[i].cpuinfo, rc, tdp,
			         matched ? matched : "(null)");
	}
}

static void tdp_unknown_models(void **st)
{
	(void)st;
	double tdp = -1;
	const char *matched = "untouched";
	/* A hypervisor's generic name, a bare family, a suffix the table lacks. */
	assert_int_equal(jst_tdp_lookup("QEMU Virtual CPU version 2.5+", &tdp, &matched), -ENOENT);
	assert_int_equal(jst_tdp_lookup("AMD EPYC", &tdp, &matched), -ENOENT);
	assert_int_equal(jst_tdp_lookup("Intel(R) Xeon(R) Gold 6248X", &tdp, &matched), -ENOENT);
	assert_int_equal(jst_tdp_lookup("Neoverse-N1", &tdp, &matched), -ENOENT);
	/* A generation the table lacks does not borrow the first one's TDP. */
	assert_int_equal(
	    jst_tdp_lookup("Intel(R) Xeon(R) CPU E5-2665 v9 @ 2.40GHz", &tdp, &matched), -ENOENT);
	assert_true(tdp == -1);
	assert_string_equal(matched, "untouched");
	assert_int_equal(jst_tdp_lookup("", &tdp, NULL), -EINVAL);
	assert_int_equal(jst_tdp_lookup("@ -- ()", &tdp, NULL), -EINVAL);
	assert_int_equal(jst_tdp_lookup(NULL, &tdp, NULL), -EINVAL);
}

/* Every entry finds itself: no duplicates, no entry shadowed by another. */
static void tdp_table_is_consistent(void **st)
{
	(void)st;
	size_t n = 0;
	const struct jst_tdp_entry *t = jst_tdp_table_get(&n);
	assert_true(n > 300);
	for (size_t i = 0; i < n; i++) {
		double tdp = 0;
		const char *matched = NULL;
		if (!(t[i].tdp_w >= 10 && t[i].tdp_w <= 600))
			fail_msg("'%s': %g W is implausible", t[i].name, t[i].tdp_w);
		if (jst_tdp_lookup(t[i].name, &tdp, &matched) || matched != t[i].name)
			fail_msg("'%s' finds '%s'", t[i].name, matched ? matched : "nothing");
	}
}

/* ---- procfs parsing ------------------------------------------------------------- */

static void stat_line_parsing(void **st)
{
	(void)st;
	struct jst_cpu_ticks t;
	char why[JST_NOTE_MAX];
	assert_int_equal(
	    jst_proc_stat_ticks_parse("cpu  1 2 3 4 5 6 7 8 9 10 11 12", &t, why, sizeof why), 0);
	assert_int_equal(t.busy, 1 + 2 + 3 + 6 + 7 + 8);
	assert_int_equal(t.total, 1 + 2 + 3 + 6 + 7 + 8 + 4 + 5);
	/* A 2.4 kernel: user nice system idle only. */
	assert_int_equal(jst_proc_stat_ticks_parse("cpu 10 20 30 40\n", &t, why, sizeof why), 0);
	assert_int_equal(t.busy, 60);
	assert_int_equal(t.total, 100);

	static const char *const garbage[] = {
	    "",
	    "cpu",
	    "cpu  1 2 3",
	    "cpu  1 2 x 4",
	    "cpu  1 2 3 4junk",
	    "cpu  -1 2 3 4",
	    "cpu0 1 2 3 4",
	    "intr 1 2 3 4",
	    "\x7f\x45\x4c\x46\x01\x02",
	    "cpu  99999999999999999999999 1 1 1",
	};
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		why[0] = 0;
		int rc = jst_proc_stat_ticks_parse(garbage[i], &t, why, sizeof why);
		if (rc >= 0 || !why[0])
			fail_msg("garbage %zu accepted (rc %d)", i, rc);
	}
	/* Fields that each fit but whose sum does not. */
	assert_int_equal(
	    jst_proc_stat_ticks_parse("cpu  18446744073709551615 1 0 0", &t, why, sizeof why),
	    -ERANGE);
}

static void stat_counts_cpus(void **st)
{
	(void)st;
	struct jst_cpu_ticks t;
	unsigned ncpu = 0;
	char why[JST_NOTE_MAX];
	assert_int_equal(jst_proc_stat_parse("cpu  1 1 1 1\ncpu0 1 1 1 1\ncpu1 0 0 0 0\n"
	                                     "cpu17 0 0 0 0\nintr 5\ncpufreq 1\n",
	                                     &t, &ncpu, why, sizeof why),
	                 0);
	assert_int_equal(ncpu, 3);
	assert_int_equal(jst_proc_stat_parse("cpu  1 1 1 1\nintr 5\n", &t, &ncpu, why, sizeof why),
	                 -EINVAL);
	assert_non_null(strstr(why, "cpuN"));
	/* The aggregate line must come first, as every kernel writes it. */
	assert_int_equal(
	    jst_proc_stat_parse("cpu0 1 1 1 1\ncpu  1 1 1 1\n", &t, &ncpu, why, sizeof why),
	    -EINVAL);
}

static void cpuinfo_topology(void **st)
{
	(void)st;
	char path[512], *text = NULL;
	struct jst_cpuinfo ci;

	write_cpuinfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 2, 20, 2, 0);
	snprintf(path, sizeof path, "%s/cpuinfo", root);
	assert_true(jst_proc_file_read(path, &text) > 12288); /* past where the buffer grows */
	jst_proc_cpuinfo_parse(text, &ci);
	free(text);
	assert_string_equal(ci.model, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz");
	assert_int_equal(ci.sockets, 2);
	assert_int_equal(ci.cores, 40);
	assert_int_equal(ci.hypervisor, 0);

	/* arm64 style: no model name, no topology. */
	jst_proc_cpuinfo_parse("processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n\n"
	                       "processor\t: 1\nBogoMIPS\t: 50.00\n",
	                       &ci);
	assert_string_equal(ci.model, "");
	assert_int_equal(ci.sockets, 1);
	assert_int_equal(ci.cores, 0);

	jst_proc_cpuinfo_parse("", &ci);
	assert_int_equal(ci.sockets, 1);
	assert_int_equal(ci.cores, 0);

	/* "hypervisor" only as a whole flag. */
	jst_proc_cpuinfo_parse("flags\t\t: fpu hypervisorx\n", &ci);
	assert_int_equal(ci.hypervisor, 0);
	jst_proc_cpuinfo_parse("flags\t\t: fpu hypervisor\n", &ci);
	assert_int_equal(ci.hypervisor, 1);
}

/* ---- the model ----------------------------------------------------------------- */

static void model_sources(void **st)
{
	(void)st;
	struct jst_estimate_model m;
	char reason[JST_REASON_MAX];
	struct jst_cpuinfo ci = {
	    .model = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", .sockets = 2, .cores = 40};

	assert_int_equal(jst_estimate_model_choose(&ci, 80, NULL, &m, reason, sizeof reason), 0);
	assert_true(m.tdp_total_w == 300);
	assert_string_equal(
	    m.note, "estimate: 2 x 150 W TDP (table: Intel Xeon Gold 6248) x CPU utilisation");

	ci.sockets = 1;
	assert_int_equal(jst_estimate_model_choose(&ci, 40, "", &m, reason, sizeof reason), 0);
	assert_string_equal(m.note,
	                    "estimate: 150 W TDP (table: Intel Xeon Gold 6248) x CPU utilisation");

	/* The override is per package and beats the table. */
	ci.sockets = 2;
	assert_int_equal(jst_estimate_model_choose(&ci, 80, "137.5", &m, reason, sizeof reason), 0);
	assert_true(m.tdp_total_w == 275);
	assert_string_equal(m.note,
	                    "estimate: 2 x 137.5 W TDP from JOULESTAT_CPU_TDP_W x CPU utilisation");
	static const char *const bad[] = {"abc", "0", "-5", "nan", "inf", "12W", "1e9", " "};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		reason[0] = 0;
		if (jst_estimate_model_choose(&ci, 80, bad[i], &m, reason, sizeof reason) !=
		        -EINVAL ||
		    !strstr(reason, JST_ESTIMATE_TDP_ENV))
			fail_msg("override '%s' accepted", bad[i]);
	}

	/* Not in the table: 10 W per physical core. */
	snprintf(ci.model, sizeof ci.model, "AMD EPYC");
	assert_int_equal(jst_estimate_model_choose(&ci, 80, NULL, &m, reason, sizeof reason), 0);
	assert_true(m.tdp_total_w == 400);
	assert_string_equal(
	    m.note, "estimate: 'AMD EPYC' not in TDP table, 10 W per core x 40 cores fallback");

	/* No model, no topology: 10 W per two logical CPUs, rounded up. */
	ci = (struct jst_cpuinfo){.sockets = 1};
	assert_int_equal(jst_estimate_model_choose(&ci, 7, NULL, &m, reason, sizeof reason), 0);
	assert_true(m.tdp_total_w == 40);
	assert_string_equal(
	    m.note, "estimate: model unknown, 10 W per core x 4 cores (7 CPUs / 2) fallback");

	/* A VM sees the host's model but only a share of its package. */
	ci = (struct jst_cpuinfo){.model = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
	                          .sockets = 1,
	                          .cores = 2,
	                          .hypervisor = 1};
	assert_int_equal(jst_estimate_model_choose(&ci, 4, NULL, &m, reason, sizeof reason), 0);
	assert_true(m.tdp_total_w == 20);
	assert_string_equal(m.note, "estimate: virtual machine, 10 W per core x 2 cores fallback");
	assert_int_equal(jst_estimate_model_choose(&ci, 4, "100", &m, reason, sizeof reason), 0);
	assert_true(m.tdp_total_w == 100);
}

/* ---- the backend on a fixture root --------------------------------------------- */

static void backend_counter_arithmetic(void **st)
{
	(void)st;
	const unsigned ncpu = 4;
	const double tdp = 150; /* Xeon Gold 6248, one socket */
	char reason[JST_REASON_MAX];
	void *state = NULL;
	struct stat_fields f = base_fields;
	write_stat(&f, ncpu);
	write_cpuinfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 1, 2, 2, 0);

	assert_int_equal(probe(&state, reason, sizeof reason), 0);
	const struct jst_domain_desc *d = the_domain(state);
	assert_string_equal(d->name, "cpu");
	assert_int_equal(d->kind, JST_KIND_PACKAGE);
	assert_string_equal(d->device, "cpu");
	assert_int_equal(d->method, JST_METHOD_ESTIMATE);
	assert_string_equal(d->source, "tdp-utilization");
	assert_true(d->accuracy == 0.30);
	assert_int_equal(d->parent, -1);
	assert_int_equal(d->modulus, 0);
	assert_true(d->max_power_w == tdp);
	assert_string_equal(d->note,
	                    "estimate: 150 W TDP (table: Intel Xeon Gold 6248) x CPU utilisation");
	assert_true(d->unit_j == tdp / (ncpu * (double)hz()));

	struct jst_raw a = read_raw(state, JST_READ_TELEMETRY);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.counter, BASE_BUSY);
	assert_true(isnan(a.utilization_pct)); /* nothing to compare with yet */

	/* Busy time grows by 405 ticks and idle by 2000 over some interval. */
	f.user += 300, f.system += 100, f.softirq += 5, f.idle += 2000, f.guest += 50;
	write_stat(&f, ncpu);
	struct jst_raw b = read_raw(state, JST_READ_TELEMETRY);
	assert_int_equal(b.status, 0);
	uint64_t delta = b.counter - a.counter;
	assert_int_equal(delta, 405);
	double energy = (double)delta * d->unit_j;
	double model = tdp * (double)delta / (ncpu * (double)hz());
	if (hz() == 100)
		assert_true(energy == model); /* 0.375 J per tick: exact in binary */
	else
		assert_float_equal(energy, model, 1e-12 * model);
	/* The same as TDP x utilisation x time, for any interval length. */
	double seconds = 3.0, util = (double)delta / (ncpu * (double)hz() * seconds);
	assert_float_equal(energy, tdp * util * seconds, 1e-12 * energy);
	assert_float_equal(b.utilization_pct, 100.0 * 405 / (405 + 2000), 1e-9);

	jst_backend_estimate.close(state);
}

static void backend_override_env(void **st)
{
	(void)st;
	char reason[JST_REASON_MAX];
	void *state = NULL;
	write_stat(&base_fields, 8);
	write_cpuinfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 2, 2, 2, 0);
	setenv(JST_ESTIMATE_TDP_ENV, "100", 1);
	assert_int_equal(probe(&state, reason, sizeof reason), 0);
	const struct jst_domain_desc *d = the_domain(state);
	assert_string_equal(d->note,
	                    "estimate: 2 x 100 W TDP from JOULESTAT_CPU_TDP_W x CPU utilisation");
	assert_true(d->unit_j == 200 / (8 * (double)hz()));
	jst_backend_estimate.close(state);

	setenv(JST_ESTIMATE_TDP_ENV, "a lot", 1);
	state = NULL;
	assert_true(probe(&state, reason, sizeof reason) == -EINVAL);
	assert_non_null(strstr(reason, "JOULESTAT_CPU_TDP_W='a lot'"));
	assert_null(state);
}

static void backend_without_cpuinfo(void **st)
{
	(void)st;
	char reason[JST_REASON_MAX];
	void *state = NULL;
	write_stat(&base_fields, 6);
	assert_int_equal(probe(&state, reason, sizeof reason), 0);
	const struct jst_domain_desc *d = the_domain(state);
	assert_string_equal(
	    d->note, "estimate: model unknown, 10 W per core x 3 cores (6 CPUs / 2) fallback");
	assert_true(d->unit_j == 30 / (6 * (double)hz()));
	jst_backend_estimate.close(state);
}

static void backend_missing_stat(void **st)
{
	(void)st;
	char reason[JST_REASON_MAX];
	void *state = NULL;
	write_cpuinfo("AMD EPYC 7763 64-Core Processor", 1, 2, 1, 0);
	int rc = probe(&state, reason, sizeof reason);
	assert_int_equal(rc, -ENOENT);
	assert_null(state);
	assert_non_null(strstr(reason, "cannot read"));
	assert_non_null(strstr(reason, "/stat"));
	assert_non_null(strstr(reason, "No such file"));
}

static void backend_garbage_stat(void **st)
{
	(void)st;
	char reason[JST_REASON_MAX];
	void *state = NULL;

	/* Garbage at probe: unavailable, with the reason. */
	write_file("stat", "this is not /proc/stat\n");
	assert_true(probe(&state, reason, sizeof reason) < 0);
	assert_null(state);
	assert_non_null(strstr(reason, "proc(5)"));
	assert_non_null(strstr(reason, "this is not"));
	write_file("stat", "");
	assert_true(probe(&state, reason, sizeof reason) < 0);

	/* Garbage after a good probe: the domain fails with the reason; no crash. */
	write_stat(&base_fields, 2);
	assert_int_equal(probe(&state, reason, sizeof reason), 0);
	static const char *const garbage[] = {
	    "",
	    "cpu  1 2 three 4\ncpu0 1 1 1 1\n",
	    "\x01\x02\x03\xff",
	    "cpu  1 2\n",
	};
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		write_file("stat", garbage[i]);
		struct jst_raw r = read_raw(state, JST_READ_TELEMETRY);
		if (r.status >= 0 || !strstr(r.error, "stat: "))
			fail_msg("garbage %zu: status %d, error '%s'", i, r.status, r.error);
	}
	/* A first line longer than any aggregate line. */
	char longline[4096];
	memset(longline, '7', sizeof longline - 1);
	memcpy(longline, "cpu  ", 5);
	longline[sizeof longline - 1] = 0;
	write_file("stat", longline);
	assert_true(read_raw(state, 0).status < 0);
	/* The file vanishing. */
	remove_file("stat");
	struct jst_raw r = read_raw(state, 0);
	assert_int_equal(r.status, -ENOENT);
	assert_non_null(strstr(r.error, "No such file"));
	/* And recovering: the backend keeps no broken state. */
	write_stat(&base_fields, 2);
	r = read_raw(state, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.counter, BASE_BUSY);
	jst_backend_estimate.close(state);
}

/* ---- through the meter ------------------------------------------------------------ */

static jst_meter *open_meter(const struct jst_backend_ops *const *ops, size_t n, int cross)
{
	jst_config cfg;
	jst_config_init(&cfg);
	assert_int_equal(jst_config_set(&cfg, "procfs.root", root), 0);
	cfg.cross_validate = cross;
	cfg.sample_period_ms = 60000; /* this test's reads only */
	jst_meter *m = NULL;
	assert_int_equal(jst_meter_open_backends(&cfg, ops, n, &m), 0);
	return m;
}

static void meter_window_energy(void **st)
{
	(void)st;
	static const struct jst_backend_ops *const ops[] = {&jst_backend_estimate};
	struct stat_fields f = base_fields;
	write_stat(&f, 4);
	write_cpuinfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 1, 2, 2, 0);
	jst_meter *m = open_meter(ops, 1, 0);

	assert_int_equal(jst_meter_domain_count(m), 1);
	jst_domain_info info = {.size = sizeof info};
	assert_int_equal(jst_meter_domain(m, 0, &info), 0);
	assert_string_equal(info.backend, "estimate");
	assert_int_equal(info.method, JST_METHOD_ESTIMATE);
	assert_int_equal(info.primary, 1);
	assert_non_null(strstr(info.note, "150 W TDP"));

	assert_int_equal(tw_begin(m, "w"), 0);
	struct timespec ts = {0, 50 * 1000000L};
	nanosleep(&ts, NULL);
	f.user += 20; /* a plausible 20 ticks in 50 ms on 4 CPUs at USER_HZ 100 */
	write_stat(&f, 4);
	jst_measurement *ms = NULL;
	assert_int_equal(tw_end(m, "w", &ms), 0);
	jst_domain_energy e = {.size = sizeof e};
	assert_int_equal(jst_measurement_domain(ms, 0, &e), 0);
	assert_int_equal(e.method, JST_METHOD_ESTIMATE);
	assert_float_equal(e.energy_j, 20 * 150 / (4 * (double)hz()), 1e-12);
	jst_total t = {.size = sizeof t};
	assert_int_equal(jst_measurement_total(ms, JST_TOTAL_CPU, &t), 0);
	assert_int_equal(t.parts, 1);
	assert_int_equal(t.estimated, 1);
	/* The model's class, widened by one tick of /proc/stat at each edge. */
	assert_true(e.accuracy >= 0.30);
	assert_true(e.uncertainty_j >= 2 * 150 / (4 * (double)hz()));
	assert_float_equal(t.accuracy, e.accuracy, 1e-12);
	jst_measurement_free(ms);
	jst_meter_close(m);
}

static void meter_prefers_measurement(void **st)
{
	(void)st;
	/* A measured package, as rapl would declare it: the estimate must yield to it. */
	static const struct jst_backend_ops *const ops[] = {&fake_ops_a, &jst_backend_estimate};
	fake_reset(&fake_a);
	fake_add(&fake_a, "package-0", JST_KIND_PACKAGE, "cpu:package-0", JST_METHOD_COUNTER, 0.05,
	         1e-6, 0);
	write_stat(&base_fields, 4);
	jst_meter *m = open_meter(ops, 2, 0);
	assert_int_equal(jst_meter_domain_count(m), 1);
	jst_domain_info info = {.size = sizeof info};
	assert_int_equal(jst_meter_domain(m, 0, &info), 0);
	assert_string_equal(info.backend, "fake-a");
	jst_backend_info bi = {.size = sizeof bi};
	assert_int_equal(jst_meter_backend(m, 1, &bi), 0);
	assert_string_equal(bi.name, "estimate");
	assert_non_null(strstr(bi.reason, "more accurate"));
	jst_meter_close(m);

	/* Cross-validation keeps both, and counts only the measurement. */
	m = open_meter(ops, 2, 1);
	assert_int_equal(jst_meter_domain_count(m), 2);
	assert_int_equal(jst_meter_domain(m, 1, &info), 0);
	assert_string_equal(info.backend, "estimate");
	assert_int_equal(info.primary, 0);
	jst_meter_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tdp_known_models),
	    cmocka_unit_test(tdp_unknown_models),
	    cmocka_unit_test(tdp_table_is_consistent),
	    cmocka_unit_test(stat_line_parsing),
	    cmocka_unit_test(stat_counts_cpus),
	    cmocka_unit_test_setup_teardown(cpuinfo_topology, setup, teardown),
	    cmocka_unit_test(model_sources),
	    cmocka_unit_test_setup_teardown(backend_counter_arithmetic, setup, teardown),
	    cmocka_unit_test_setup_teardown(backend_override_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(backend_without_cpuinfo, setup, teardown),
	    cmocka_unit_test_setup_teardown(backend_missing_stat, setup, teardown),
	    cmocka_unit_test_setup_teardown(backend_garbage_stat, setup, teardown),
	    cmocka_unit_test_setup_teardown(meter_window_energy, setup, teardown),
	    cmocka_unit_test_setup_teardown(meter_prefers_measurement, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
