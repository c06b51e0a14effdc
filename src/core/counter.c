/* Wraparound extension: the one place where counters become energy. */
#include "counter.h"

void jst_counter_init(struct jst_counter *c, uint64_t modulus)
{
	*c = (struct jst_counter){.modulus = modulus};
}

enum jst_counter_event jst_counter_update(struct jst_counter *c, uint64_t raw, uint64_t max_delta,
                                          uint64_t *delta)
{
	enum jst_counter_event ev;
	uint64_t d = 0;

	int out_of_range = c->modulus && raw >= c->modulus;
	/* A garbage base would turn the next real value into a phantom wrap: an
	 * out-of-range first reading is a discontinuity below, and primes nothing. */
	if (!c->primed && !out_of_range) {
		c->primed = 1;
		c->last = raw;
		*delta = 0;
		return JST_COUNTER_FIRST;
	}
	/* Out of range and a backwards 64-bit counter are two causes of one verdict. */
	if (out_of_range) { // NOLINT(bugprone-branch-clone)
		/* Outside the counter's range: garbage, never energy. */
		ev = JST_COUNTER_DISCONTINUITY;
	} else if (raw >= c->last) {
		d = raw - c->last;
		/* A 64-bit counter's forward step is never judged by its size (the
		 * caller may simply not have looked for a long time); a wrapping
		 * counter's is, while its range is more than the bound allows. */
		ev = !c->modulus || d <= max_delta || max_delta >= c->modulus
		         ? JST_COUNTER_OK
		         : JST_COUNTER_DISCONTINUITY;
	} else if (c->modulus) {
		d = c->modulus - c->last + raw;
		/* With no power bound, a wrap must at least be the shorter way round:
		 * a counter that fell by less than half its range was reset. */
		uint64_t bound = max_delta == UINT64_MAX ? c->modulus / 2 : max_delta;
		ev = d <= bound ? JST_COUNTER_WRAP : JST_COUNTER_DISCONTINUITY;
	} else {
		ev = JST_COUNTER_DISCONTINUITY; /* a 64-bit counter never wraps: reset */
	}

	/* A sum past 2^64 would wrap ext to almost nothing: energy that fell. */
	if (ev != JST_COUNTER_DISCONTINUITY && d > UINT64_MAX - c->ext)
		ev = JST_COUNTER_DISCONTINUITY;

	if (ev == JST_COUNTER_DISCONTINUITY) {
		c->discontinuities++;
		d = 0;
	} else if (ev == JST_COUNTER_WRAP) {
		c->wraps++;
	}
	/* The wrap arithmetic needs last in [0, modulus): a value outside it is
	 * dropped, and the next one is measured from the last real value. */
	if (!out_of_range)
		c->last = raw;
	c->ext += d;
	*delta = d;
	return ev;
}
