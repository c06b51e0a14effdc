/* What the virtual-time tests of the sensor model (test_sensor.c,
 * test_settle.c, ...) share: a trace from its spec, a seeded generator, the
 * first domain's figure, a window begun at a virtual instant, a GPU counter,
 * and the bars a sweep checks. Include after cmocka.h and virtual_sensor.h. */
#ifndef JST_VM_TEST_H
#define JST_VM_TEST_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static inline struct sim_trace *trace(const char *spec)
{
	char err[128];
	struct sim_trace *tr = sim_trace_parse(spec, err, sizeof err);
	if (!tr)
		fail_msg("%s", err);
	return tr;
}

/* splitmix64: seeded, so that every run draws the same windows. */
static inline uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline jst_domain_energy dom0(const jst_measurement *ms)
{
	jst_domain_energy d = {.size = sizeof d};
	assert_int_equal(jst_measurement_domain(ms, 0, &d), 0);
	return d;
}

static inline jst_window *begin(struct vm *v, double t)
{
	vm_advance(v, t);
	jst_window *w = NULL;
	assert_int_equal(jst_window_begin(v->m, "w", &w), 0);
	return w;
}

/* A GPU counter (mJ) latched every r at a fixed phase, the device's power in
 * its telemetry. */
static inline struct vs_dom *gpu(const struct sim_trace *tr, double r)
{
	struct vs_dom *d = vs_add("gpu0", JST_KIND_GPU, JST_METHOD_COUNTER, tr, r, 1e-3, 0.05);
	d->phase_s = 0.37 * r;
	d->telemetry = 1;
	return d;
}

/* Bars a sweep checks: each one missed is printed, and the test fails at its
 * end (check_bars), so that one run shows every figure that is off. */
static inline unsigned *bars_missed(void)
{
	static unsigned n;
	return &n;
}

static inline void bar(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void bar(int ok, const char *fmt, ...)
{
	if (ok)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "missed: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	(*bars_missed())++;
}

static inline void check_bars(void)
{
	unsigned n = *bars_missed();
	*bars_missed() = 0;
	if (n)
		fail_msg("%u bar(s) missed", n);
}

#endif
