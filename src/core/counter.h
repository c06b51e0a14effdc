/* Extension of wrapping hardware counters to 64 bits. */
#ifndef JST_COUNTER_H
#define JST_COUNTER_H

#include <stdint.h>

struct jst_counter {
	uint64_t modulus; /* raw values lie in [0, modulus); 0 = a full 64-bit counter */
	uint64_t last;    /* last raw value seen */
	uint64_t ext;     /* raw units counted since the first reading */
	int primed;
	unsigned wraps;
	unsigned discontinuities;
};

enum jst_counter_event {
	JST_COUNTER_FIRST = 0,     /* first reading in range: the base, counted as nothing */
	JST_COUNTER_OK,            /* moved forward (or stood still) */
	JST_COUNTER_WRAP,          /* passed the modulus once */
	JST_COUNTER_DISCONTINUITY, /* went backwards, jumped implausibly or read out of range:
	                              counted as nothing */
};

void jst_counter_init(struct jst_counter *c, uint64_t modulus);

/* Feed one raw reading. max_delta is the largest increase in raw units that is
 * physically plausible since the previous value (from the sensor model);
 * UINT64_MAX when unknown. A 64-bit counter's forward step is always taken.
 * The interval's increase goes to *delta (0 on a discontinuity: energy is
 * never negative, never huge; the caller bridges it). */
enum jst_counter_event jst_counter_update(struct jst_counter *c, uint64_t raw, uint64_t max_delta,
                                          uint64_t *delta);

#endif
