/* Two meters over the same virtual backend in lockstep, one forming edges
 * between latches from the model (edge_read=auto), the other reading every
 * edge (always): what the virtual-time tests of the hold compare. Include
 * after cmocka.h, meter_internal.h and virtual_sensor.h. */
#ifndef JST_VM_PAIR_H
#define JST_VM_PAIR_H

struct pair {
	struct vm a, b; /* a holds (auto), b reads every edge (always) */
};

static inline void pair_open(struct pair *p, double open_s, double sample_s)
{
	assert_int_equal(setenv("JOULESTAT_OPTIONS", "edge_read=always", 1), 0);
	assert_int_equal(vm_open(&p->b, open_s, sample_s), 0);
	assert_int_equal(unsetenv("JOULESTAT_OPTIONS"), 0);
	assert_int_equal(vm_open(&p->a, open_s, sample_s), 0);
	assert_int_equal(p->a.m->edge_hold, 1);
	assert_int_equal(p->b.m->edge_hold, 0);
}

static inline void pair_close(struct pair *p)
{
	jst_meter_close(p->b.m);
	vm_close(&p->a);
}

/* Both meters' sampler readings due up to trace time t, then the clock at t. */
static inline void pair_advance(struct pair *p, double t)
{
	int64_t to = vs_ns(t);
	while (p->a.sample_ns && p->a.next_sample <= to) {
		vs_now = p->a.next_sample;
		jst_meter_read(p->a.m, JST_READ_SAMPLER | JST_READ_TELE, NULL);
		jst_meter_read(p->b.m, JST_READ_SAMPLER | JST_READ_TELE, NULL);
		p->a.next_sample += p->a.sample_ns;
	}
	if (to > vs_now)
		vs_now = to;
}

#endif
