/* Wraparound extension, resets and implausible jumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "counter.h"

static void first_reading_is_the_base(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d = 99;
	jst_counter_init(&c, 1000);
	assert_int_equal(jst_counter_update(&c, 700, UINT64_MAX, &d), JST_COUNTER_FIRST);
	assert_int_equal(d, 0);
	assert_int_equal(c.ext, 0);
	assert_int_equal(jst_counter_update(&c, 750, UINT64_MAX, &d), JST_COUNTER_OK);
	assert_int_equal(d, 50);
	assert_int_equal(c.ext, 50);
}

static void single_wrap(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 1000);
	jst_counter_update(&c, 900, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, 50, 500, &d), JST_COUNTER_WRAP);
	assert_int_equal(d, 150); /* 100 to reach the modulus, 50 after */
	assert_int_equal(c.ext, 150);
	assert_int_equal(c.wraps, 1);
}

static void wrap_at_exactly_the_modulus(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 1000);
	jst_counter_update(&c, 999, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, 0, 10, &d), JST_COUNTER_WRAP);
	assert_int_equal(d, 1);
	/* A value equal to the modulus can never be read: garbage, not energy. */
	assert_int_equal(jst_counter_update(&c, 1000, 10, &d), JST_COUNTER_DISCONTINUITY);
	assert_int_equal(d, 0);
	assert_int_equal(c.ext, 1);
}

static void many_wraps_accumulate_past_32_bits(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	uint64_t mod = 1ULL << 32;
	jst_counter_init(&c, mod);
	uint64_t v = mod - 100, truth = 0;
	jst_counter_update(&c, v, UINT64_MAX, &d);
	for (int i = 0; i < 10; i++) {
		uint64_t step = (mod / 3) + (uint64_t)i;
		v = (v + step) % mod;
		truth += step;
		assert_int_not_equal(jst_counter_update(&c, v, mod / 2, &d),
		                     JST_COUNTER_DISCONTINUITY);
	}
	assert_true(c.ext == truth);
	assert_true(c.ext > mod);
}

static void reset_is_a_discontinuity(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 1ULL << 32);
	jst_counter_update(&c, 100000, UINT64_MAX, &d);
	jst_counter_update(&c, 100500, 1000, &d);
	/* Dropped to 20: a wrap would mean ~4e9 units in one interval, far above the bound. */
	assert_int_equal(jst_counter_update(&c, 20, 1000, &d), JST_COUNTER_DISCONTINUITY);
	assert_int_equal(d, 0);
	assert_int_equal(c.ext, 500);
	assert_int_equal(c.discontinuities, 1);
	/* Counting resumes from the new value. */
	assert_int_equal(jst_counter_update(&c, 220, 1000, &d), JST_COUNTER_OK);
	assert_int_equal(c.ext, 700);
}

static void backwards_64bit_counter_is_a_reset(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 0);
	jst_counter_update(&c, 5000000, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, 4999999, UINT64_MAX, &d),
	                 JST_COUNTER_DISCONTINUITY);
	assert_int_equal(d, 0);
	assert_int_equal(c.ext, 0);
}

static void backwards_without_power_bound_uses_half_range(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 1000);
	jst_counter_update(&c, 600, UINT64_MAX, &d);
	/* 600 -> 300: a wrap would be 700 units, more than half the range: reset. */
	assert_int_equal(jst_counter_update(&c, 300, UINT64_MAX, &d), JST_COUNTER_DISCONTINUITY);
	jst_counter_update(&c, 900, UINT64_MAX, &d);
	/* 900 -> 100: 200 units the short way round: a wrap. */
	assert_int_equal(jst_counter_update(&c, 100, UINT64_MAX, &d), JST_COUNTER_WRAP);
	assert_int_equal(d, 200);
}

static void implausible_forward_jump(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	/* A wrapping counter's jump past the bound (and short of its range) is
	 * no energy the device could have spent. */
	jst_counter_init(&c, 100000);
	jst_counter_update(&c, 10, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, 10 + 5000, 1000, &d), JST_COUNTER_DISCONTINUITY);
	assert_int_equal(c.ext, 0);
	/* Once the bound spans the whole range, any forward step is possible. */
	assert_int_equal(jst_counter_update(&c, 90000, 100000, &d), JST_COUNTER_OK);
	assert_int_equal(d, 90000 - 5010);
}

static void forward_64bit_step_never_dropped_for_size(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	/* A 64-bit counter read after a long pause moved a lot: that is energy. */
	jst_counter_init(&c, 0);
	jst_counter_update(&c, 10, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, 10 + 5000000, 1000, &d), JST_COUNTER_OK);
	assert_int_equal(d, 5000000);
	assert_int_equal(c.ext, 5000000);
}

static void garbage_reading_does_not_become_the_base(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 1000);
	jst_counter_update(&c, 900, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, 1200, UINT64_MAX, &d), JST_COUNTER_DISCONTINUITY);
	/* Measured from the last real value, 900 -> 300 is one wrap of 400 units;
	 * measured from the garbage it would be a phantom "wrap" of 100. */
	assert_int_equal(jst_counter_update(&c, 300, UINT64_MAX, &d), JST_COUNTER_WRAP);
	assert_int_equal(d, 400);
	assert_int_equal(c.ext, 400);
	assert_int_equal(c.wraps, 1);
}

static void garbage_first_reading_is_not_a_base(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d = 99;
	jst_counter_init(&c, 1000);
	assert_int_equal(jst_counter_update(&c, 1500, UINT64_MAX, &d), JST_COUNTER_DISCONTINUITY);
	assert_int_equal(d, 0);
	/* The first value in range is the base: nothing counted, no wrap. */
	assert_int_equal(jst_counter_update(&c, 700, UINT64_MAX, &d), JST_COUNTER_FIRST);
	assert_int_equal(d, 0);
	assert_int_equal(jst_counter_update(&c, 750, UINT64_MAX, &d), JST_COUNTER_OK);
	assert_int_equal(c.ext, 50);
	assert_int_equal(c.wraps, 0);
}

static void extended_count_never_overflows(void **st)
{
	(void)st;
	struct jst_counter c;
	uint64_t d;
	jst_counter_init(&c, 0);
	jst_counter_update(&c, 0, UINT64_MAX, &d);
	assert_int_equal(jst_counter_update(&c, UINT64_MAX - 5, UINT64_MAX, &d), JST_COUNTER_OK);
	jst_counter_update(&c, 0, UINT64_MAX, &d); /* reset */
	/* Adding 10 more units would take ext past 2^64 back to 4: energy would
	 * appear to fall by 1.8e13 units. */
	assert_int_equal(jst_counter_update(&c, 10, UINT64_MAX, &d), JST_COUNTER_DISCONTINUITY);
	assert_int_equal(d, 0);
	assert_true(c.ext == UINT64_MAX - 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_reading_is_the_base),
	    cmocka_unit_test(single_wrap),
	    cmocka_unit_test(wrap_at_exactly_the_modulus),
	    cmocka_unit_test(many_wraps_accumulate_past_32_bits),
	    cmocka_unit_test(reset_is_a_discontinuity),
	    cmocka_unit_test(backwards_64bit_counter_is_a_reset),
	    cmocka_unit_test(backwards_without_power_bound_uses_half_range),
	    cmocka_unit_test(implausible_forward_jump),
	    cmocka_unit_test(forward_64bit_step_never_dropped_for_size),
	    cmocka_unit_test(garbage_reading_does_not_become_the_base),
	    cmocka_unit_test(garbage_first_reading_is_not_a_base),
	    cmocka_unit_test(extended_count_never_overflows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
