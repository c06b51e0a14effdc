/* The uncertainty the core states for a BMC node meter, measured: many
 * windows on the simulators' stepped traces in virtual time, with the
 * backends' own poller (tests/unit/virtual_bmc.h), and the share whose truth
 * lies inside the stated ± (the sensor model's coverage target: 95%). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>

#include "virtual_bmc.h"

/* The traces of tests/integration/test_redfish.py and test_ipmi.py, with the
 * power supplies' capacity sim/redfish states (1.5 x the highest level; the
 * IPMI one states none), one poll in ten begun up to a refresh late, and the
 * most each row's mean stated ± may be (a statement can cover by being huge:
 * these hold it near what the edges can miss, a refresh and a half of the
 * power's spread at the window's end). */
static const struct {
	struct vb_case c;
	double mean_u_max;
} cases[] = {
    {{"steps:180,420,260,600@2.5", 1, 5, 900, 0.1, 2}, 0.40},
    {{"steps:180,420,260,600@1.3", 1, 4, 900, 0.1, 2}, 0.45},
    {{"steps:180,420,260,600@1.3", 2, 5, 900, 0.1, 2}, 0.35},
    /* test_redfish's run: a cycle of the trace, every level seen. */
    {{"steps:180,420,260,600@1.3", 1, 6, 900, 0.1, 2}, 0.35},
    {{"steps:4000,6500@2.5", 1, 4, 9800, 0.1, 2}, 0.25},
    {{"steps:250,600,380@2", 1, 4, 0, 0, 2}, 0.40},
    {{"const:400", 1, 2.5, 600, 0.1, 2}, 0.07},
    {{"steps:180,420,260,600@2.5", 1, 60, 900, 0.1, 1}, 0.08},
};

/* 100 meters a row, opened at random instants and BMC phases. */
static void coverage_of_the_stated_uncertainty(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct vb_case *c = &cases[i].c;
		struct vb_stats s;
		assert_int_equal(vb_windows(c, 100, 0xb3c0 + i, &s), 0);
		double cov = (double)s.covered / s.n;
		printf("%-26s R=%.0fs %4.1fs: %u windows, coverage %5.1f%%, mean error %5.2f%%, "
		       "worst %5.2f%%, mean stated %5.2f%%, worst error/stated %.2f\n",
		       c->trace, c->refresh_s, c->len_s, s.n, 100 * cov, 100 * s.mean_err,
		       100 * s.worst_err, 100 * s.mean_u, s.worst_ratio);
		assert_true(s.n >= 100);
		assert_true(cov >= 0.95);
		assert_true(s.mean_u <= cases[i].mean_u_max);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(coverage_of_the_stated_uncertainty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
