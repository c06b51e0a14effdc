/* The dcgm backend against sim/dcgm (a stand-in libdcgm.so.4): its raw
 * counters are the simulator's to the millijoule on 8 GPUs, its domains carry
 * NVML's identity, and errors, resets, lost GPUs, a lost host engine
 * connection, the library fallback and process statistics each do what
 * docs/backends/dcgm.md says. The simulator's path is JST_SIM_DCGM. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "dcgm.h"
#include "trace.h"

#define STEPS "steps:150,420,80,300@0.2"
#define MAX_READS 48

static char truth_path[256];
static char options[2048];
static char reason[JST_REASON_MAX];

static const char *sim_path(void)
{
	const char *p = getenv("JST_SIM_DCGM");
	return p && *p ? p : "libdcgm.so.4";
}

/* A backend context with these options ("k=v" strings, NULL-ended). */
static struct jst_backend_ctx ctx_with(const char *const *kv, const char *gpus)
{
	size_t used = 0;
	for (; *kv; kv++) {
		used += (size_t)snprintf(options + used, sizeof options - used, "%s", *kv) + 1;
		assert_true(used < sizeof options - 1);
	}
	options[used] = 0;
	return (struct jst_backend_ctx){.options = options, .gpus = gpus};
}

static void sim_env(const char *gpus, const char *trace)
{
	static const char *const vars[] = {"JSTSIM_DCGM_LOST",           "JSTSIM_DCGM_RESET",
	                                   "JSTSIM_DCGM_ERRORS",         "JSTSIM_DCGM_MODE",
	                                   "JSTSIM_DCGM_HOSTENGINE",     "JSTSIM_DCGM_DISCONNECT",
	                                   "JSTSIM_DCGM_COUNTER_TICK_MS"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	setenv("JSTSIM_DCGM_GPUS", gpus, 1);
	setenv("JSTSIM_DCGM_TRACE", trace, 1);
	snprintf(truth_path, sizeof truth_path, "/tmp/jst-dcgm-truth-%ld.json", (long)getpid());
	unlink(truth_path);
	setenv("JSTSIM_DCGM_TRUTH", truth_path, 1);
}

/* The state a test has open: closed by the teardown if the test fails, so
 * that the next test starts a fresh simulator. */
static void *open_state;

static void *probe_ok(const struct jst_backend_ctx *ctx)
{
	void *st = NULL;
	int rc = jst_backend_dcgm.probe(ctx, &st, reason, sizeof reason);
	if (rc)
		fail_msg("probe: %d: %s", rc, reason);
	open_state = st;
	return st;
}

static void close_state(void *st)
{
	assert_ptr_equal(st, open_state);
	open_state = NULL;
	jst_backend_dcgm.close(st);
}

static int teardown(void **st)
{
	(void)st;
	if (open_state)
		jst_backend_dcgm.close(open_state);
	open_state = NULL;
	return 0;
}

static void *probe_sim(void)
{
	char lib[600];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	const char *kv[] = {lib, NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	return probe_ok(&ctx);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A number after "key": in the truth file, the nth occurrence. */
static double truth_number(const char *text, const char *key, int nth)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	const char *p = text;
	for (int i = 0; i <= nth; i++) {
		p = strstr(p, pat);
		assert_non_null(p);
		p += strlen(pat);
	}
	return strtod(p, NULL);
}

static char *truth_text(void)
{
	static char buf[1 << 16];
	FILE *f = fopen(truth_path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* What the counter of a GPU of this scale and base shows at refresh k. */
static uint64_t counter_at(const struct sim_trace *tr, double scale, uint64_t base, int64_t k,
                           double tick)
{
	return base + (uint64_t)floor(scale * sim_trace_energy(tr, 0, (double)k * tick) * 1e3);
}

static void counters_exact_on_eight_gpus(void **st)
{
	(void)st;
	sim_env("8", STEPS);
	setenv("JSTSIM_DCGM_COUNTER_TICK_MS", "10", 1);
	char lib[600];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	const char *kv[] = {lib, "dcgm.update-ms=10", NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	void *s = probe_ok(&ctx);
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_dcgm.domains(s, &d), 8);
	for (int k = 0; k < 8; k++) {
		char name[16], dev[96];
		snprintf(name, sizeof name, "gpu%d", k);
		snprintf(dev, sizeof dev, "gpu:GPU-5a1c0000-0000-4000-8000-%012x", k);
		assert_string_equal(d[k].name, name);
		assert_string_equal(d[k].device, dev); /* NVML's identity: dedup relies on it */
		assert_int_equal(d[k].kind, JST_KIND_GPU);
		assert_int_equal(d[k].method, JST_METHOD_COUNTER);
		assert_string_equal(d[k].source, "energy-field");
		assert_true(fabs(d[k].accuracy - 0.02) < 1e-12);
		assert_true(fabs(d[k].unit_j - 1e-3) < 1e-15);
		assert_true(fabs(d[k].max_power_w - 1050) < 1e-9); /* 700 W limit x 1.5 */
	}
	static struct jst_raw raw[MAX_READS][8];
	static int64_t t0[MAX_READS], t1[MAX_READS];
	for (int i = 0; i < MAX_READS; i++) {
		for (int k = 0; k < 8; k++)
			jst_raw_clear(&raw[i][k]);
		t0[i] = jst_backend_now_ns();
		assert_int_equal(
		    jst_backend_dcgm.read(s, raw[i], 8, i % 2 ? JST_READ_TELEMETRY : 0), 0);
		t1[i] = jst_backend_now_ns();
		sleep_ms(7); /* spreads the reads over many refreshes; any spacing will do */
	}
	close_state(s); /* the last dcgmShutdown writes the truth */
	const char *truth = truth_text();
	int64_t start = (int64_t)truth_number(truth, "start_ns", 0);
	double tick = truth_number(truth, "counter_tick_s", 0);
	assert_true(fabs(tick - 0.010) < 1e-9);
	char err[200];
	struct sim_trace *tr = sim_trace_parse(STEPS, err, sizeof err);
	assert_non_null(tr);
	int changed = 0;
	for (int k = 0; k < 8; k++) {
		double scale = truth_number(truth, "scale", k);
		uint64_t base = (uint64_t)truth_number(truth, "base_mj", k);
		for (int i = 0; i < MAX_READS; i++) {
			const struct jst_raw *r = &raw[i][k];
			assert_int_equal(r->status, 0);
			/* The read lies between t0 and t1: the counter shows the refresh
			 * before one of them, to the millijoule. */
			int64_t k0 = (t0[i] - start) / (int64_t)llround(tick * 1e9);
			int64_t k1 = (t1[i] - start) / (int64_t)llround(tick * 1e9);
			uint64_t lo = counter_at(tr, scale, base, k0, tick);
			uint64_t hi = counter_at(tr, scale, base, k1, tick);
			if (r->counter + 1 < lo || r->counter > hi + 1)
				fail_msg("gpu%d read %d: %llu mJ, truth %llu..%llu mJ", k, i,
				         (unsigned long long)r->counter, (unsigned long long)lo,
				         (unsigned long long)hi);
			changed += i && r->counter != raw[i - 1][k].counter;
			if (i % 2) {
				/* Telemetry of the power at its last refresh (100 ms). */
				assert_true(r->temperature_c >= 35 && r->temperature_c <= 35 + 42);
				assert_true(r->telemetry_power_w >= 80 * scale - 1e-9 &&
				            r->telemetry_power_w <= 420 * scale + 1e-9);
				assert_true(fabs(r->power_limit_w - 700) < 1e-9);
				assert_true(r->clock_mhz >= 345 && r->clock_mhz <= 1980);
				assert_true(r->utilization_pct >= 0 && r->utilization_pct <= 100);
			} else {
				assert_true(isnan(r->temperature_c));
			}
		}
	}
	assert_true(changed > 8 * MAX_READS / 2); /* the reads did see the counter move */
	sim_trace_free(tr);
	unlink(truth_path);
}

/* What the simulator's energy field refreshed at, given the context. */
static double watched_tick(double period_s, const char *update_ms)
{
	sim_env("1", "const:300");
	setenv("JSTSIM_DCGM_COUNTER_TICK_MS", "5", 1);
	char lib[600], upd[64];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	snprintf(upd, sizeof upd, "dcgm.update-ms=%s", update_ms);
	const char *kv[] = {lib, upd, NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	ctx.period_s = period_s;
	close_state(probe_ok(&ctx));
	double tick = truth_number(truth_text(), "counter_tick_s", 0);
	unlink(truth_path);
	return tick;
}

static void watch_follows_the_sampler(void **st)
{
	(void)st;
	/* The sampler's period, kept within 10 to 100 ms; or the option. */
	assert_true(fabs(watched_tick(0.02, "") - 0.020) < 1e-9);
	assert_true(fabs(watched_tick(0.001, "") - 0.010) < 1e-9);
	assert_true(fabs(watched_tick(5, "") - 0.100) < 1e-9);
	assert_true(fabs(watched_tick(0, "") - 0.100) < 1e-9);
	assert_true(fabs(watched_tick(0.02, "50") - 0.050) < 1e-9);
	const char *kv[] = {"dcgm.update-ms=fast", NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	void *s = NULL;
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &s, reason, sizeof reason), -EINVAL);
	assert_non_null(strstr(reason, "dcgm.update-ms must be 1 to 10000 (ms), got 'fast'"));
}

static void two_meters_share_the_host_engine(void **st)
{
	(void)st;
	sim_env("2", "const:300");
	void *a = probe_sim();
	open_state = NULL;
	void *b = probe_sim();
	/* Another host engine while this one is in use: refused, with the reason. */
	char lib[600];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	const char *kv[] = {lib, "dcgm.address=127.0.0.1:5555", NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	void *c = NULL;
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &c, reason, sizeof reason), -EBUSY);
	assert_non_null(strstr(reason, "already in use in this process"));
	jst_backend_dcgm.close(a); /* its watches go, b's stay */
	struct jst_raw raw[2];
	jst_raw_clear(&raw[0]);
	jst_raw_clear(&raw[1]);
	assert_int_equal(jst_backend_dcgm.read(b, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, 0);
	assert_int_equal(raw[1].status, 0);
	close_state(b);
}

static void library_list_falls_back(void **st)
{
	(void)st;
	sim_env("1", "const:300");
	char lib[700];
	snprintf(lib, sizeof lib, "dcgm.library=/nonexistent/libdcgm.so.4,%s", sim_path());
	const char *kv[] = {lib, NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	void *s = probe_ok(&ctx);
	close_state(s);

	const char *none[] = {"dcgm.library=/nonexistent/libdcgm.so.4,/nonexistent/libdcgm.so.3",
	                      NULL};
	ctx = ctx_with(none, NULL);
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &s, reason, sizeof reason), -ENOENT);
	assert_non_null(strstr(reason, "/nonexistent/libdcgm.so.4"));
	assert_non_null(strstr(reason, "/nonexistent/libdcgm.so.3"));
	assert_non_null(strstr(reason, "dcgm.library"));
}

static void transient_errors_cost_a_reading(void **st)
{
	(void)st;
	sim_env("2", "const:300");
	setenv("JSTSIM_DCGM_ERRORS", "0@0+1000", 1);
	void *s = probe_sim();
	struct jst_raw raw[2];
	jst_raw_clear(&raw[0]);
	jst_raw_clear(&raw[1]);
	assert_int_equal(jst_backend_dcgm.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, -EIO); /* transient: the core skips it */
	if (!strstr(raw[0].error, "gpu0: no energy value from DCGM"))
		fail_msg("error: %s", raw[0].error);
	assert_int_equal(raw[1].status, 0);
	close_state(s);
}

static void reset_and_lost_gpu(void **st)
{
	(void)st;
	sim_env("2", "const:300");
	setenv("JSTSIM_DCGM_RESET", "0@0.5", 1);
	setenv("JSTSIM_DCGM_LOST", "1@0.5", 1);
	void *s = probe_sim();
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_dcgm.domains(s, &d), 2);
	sleep_ms(550); /* past both instants, however long probing took */
	struct jst_raw raw[2];
	jst_raw_clear(&raw[0]);
	jst_raw_clear(&raw[1]);
	assert_int_equal(jst_backend_dcgm.read(s, raw, 2, 0), 0);
	/* The counter starts again from zero (the core bridges it) ... */
	assert_int_equal(raw[0].status, 0);
	if (raw[0].counter >= 123456789ULL)
		fail_msg("gpu0 shows %llu mJ after its reset", (unsigned long long)raw[0].counter);
	/* ... and a lost GPU ends its domain for good. */
	assert_int_equal(raw[1].status, -ENODEV);
	assert_non_null(strstr(raw[1].error, "gpu1: GPU is lost"));
	close_state(s);
}

static void host_engine_address(void **st)
{
	(void)st;
	sim_env("2", "const:300");
	char lib[600];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	const char *kv[] = {lib, "dcgm.address=127.0.0.1:5555", NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	void *s = NULL;
	/* Nothing listens: a clear reason, never a hang. */
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &s, reason, sizeof reason), -ENODEV);
	assert_non_null(strstr(reason, "cannot connect to nv-hostengine at 127.0.0.1:5555"));

	setenv("JSTSIM_DCGM_HOSTENGINE", "127.0.0.1:5555", 1);
	setenv("JSTSIM_DCGM_DISCONNECT", "0.05", 1);
	s = probe_ok(&ctx);
	assert_non_null(
	    strstr(reason, "2 GPUs, NVIDIA H100 80GB HBM3 (sim), through 127.0.0.1:5555"));
	sleep_ms(60);
	struct jst_raw raw[2];
	jst_raw_clear(&raw[0]);
	jst_raw_clear(&raw[1]);
	assert_int_equal(jst_backend_dcgm.read(s, raw, 2, 0), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(raw[k].status, -ENODEV);
		assert_non_null(strstr(raw[k].error, "connection to nv-hostengine is lost"));
	}
	close_state(s);
}

static void power_when_no_energy_field(void **st)
{
	(void)st;
	sim_env("1", "const:250");
	setenv("JSTSIM_DCGM_MODE", "nocounter", 1);
	void *s = probe_sim();
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_dcgm.domains(s, &d), 1);
	assert_int_equal(d[0].method, JST_METHOD_POWER);
	assert_string_equal(d[0].source, "power-field");
	struct jst_raw raw;
	jst_raw_clear(&raw);
	assert_int_equal(jst_backend_dcgm.read(s, &raw, 1, 0), 0);
	assert_int_equal(raw.status, 0);
	assert_true(fabs(raw.power_w - 250) < 1e-9);
	close_state(s);
}

static void gpu_selection(void **st)
{
	(void)st;
	sim_env("4", "const:300");
	char lib[600];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	const char *kv[] = {lib, NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, "1,GPU-5a1c0000-0000-4000-8000-000000000003");
	void *s = probe_ok(&ctx);
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_dcgm.domains(s, &d), 2);
	assert_string_equal(d[0].name, "gpu1");
	assert_string_equal(d[1].name, "gpu3");
	close_state(s);
	/* The selection's order, a unique prefix, and no GPU twice. */
	ctx.gpus = "3, GPU-5a1c0000-0000-4000-8000-00000000000,3";
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &s, reason, sizeof reason), -ENODEV);
	assert_non_null(strstr(reason, "matches 4 GPUs"));
	ctx.gpus = "3,GPU-5a1c0000-0000-4000-8000-000000000001,3";
	s = probe_ok(&ctx);
	assert_int_equal(jst_backend_dcgm.domains(s, &d), 2);
	assert_string_equal(d[0].name, "gpu3");
	assert_string_equal(d[1].name, "gpu1");
	close_state(s);
	/* CUDA_VISIBLE_DEVICES ends at its first entry that names no GPU ... */
	ctx.gpus = "2,9,1";
	ctx.gpus_from_env = 1;
	s = probe_ok(&ctx);
	assert_int_equal(jst_backend_dcgm.domains(s, &d), 1);
	assert_string_equal(d[0].name, "gpu2");
	close_state(s);
	/* ... an explicit selection must name GPUs that exist; MIG is NVML's. */
	ctx.gpus_from_env = 0;
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &s, reason, sizeof reason), -ENODEV);
	assert_non_null(strstr(reason, "DCGM has no GPU '9'"));
	ctx.gpus = "MIG-5a1c0000-0000-4000-9000-000000000000";
	assert_int_equal(jst_backend_dcgm.probe(&ctx, &s, reason, sizeof reason), -ENODEV);
	assert_non_null(strstr(reason, "not MIG instance"));
}

static void process_energy(void **st)
{
	(void)st;
	sim_env("2", "const:300");
	void *s = probe_sim();
	struct jst_dcgm_pid_energy e[4];
	size_t n = 9;
	/* Off unless asked for: it turns on accounting on real GPUs. */
	assert_int_equal(
	    jst_dcgm_pid_energy(s, (unsigned)getpid(), e, 4, &n, reason, sizeof reason), -ENOTSUP);
	assert_int_equal(n, 0);
	assert_non_null(strstr(reason, "dcgm.process-stats=1"));
	close_state(s);

	char lib[600];
	snprintf(lib, sizeof lib, "dcgm.library=%s", sim_path());
	const char *kv[] = {lib, "dcgm.process-stats=1", NULL};
	struct jst_backend_ctx ctx = ctx_with(kv, NULL);
	s = probe_ok(&ctx);
	int64_t t0 = jst_backend_now_ns();
	sleep_ms(300);
	assert_int_equal(
	    jst_dcgm_pid_energy(s, (unsigned)getpid(), e, 4, &n, reason, sizeof reason), 0);
	double elapsed = (double)(jst_backend_now_ns() - t0) / 1e9;
	assert_int_equal(n, 2);
	for (size_t k = 0; k < n; k++) {
		double w = 300 * (1 - 0.05 * (double)k);
		assert_int_equal(e[k].gpu_id, k);
		/* Since the watch began, to within a refresh (100 ms) at each end. */
		assert_true(e[k].energy_j >= w * (0.3 - 0.1) &&
		            e[k].energy_j <= w * (elapsed + 0.2));
		assert_true(e[k].start_s > 1e9 && e[k].end_s == 0);
	}
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	assert_int_equal(jst_dcgm_pid_energy(s, (unsigned)child, e, 4, &n, reason, sizeof reason),
	                 -ESRCH);
	close_state(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(counters_exact_on_eight_gpus, teardown),
	    cmocka_unit_test_teardown(watch_follows_the_sampler, teardown),
	    cmocka_unit_test_teardown(two_meters_share_the_host_engine, teardown),
	    cmocka_unit_test_teardown(library_list_falls_back, teardown),
	    cmocka_unit_test_teardown(transient_errors_cost_a_reading, teardown),
	    cmocka_unit_test_teardown(reset_and_lost_gpu, teardown),
	    cmocka_unit_test_teardown(host_engine_address, teardown),
	    cmocka_unit_test_teardown(power_when_no_energy_field, teardown),
	    cmocka_unit_test_teardown(gpu_selection, teardown),
	    cmocka_unit_test_teardown(process_energy, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
