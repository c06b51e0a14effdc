/* GPU selection: an explicit list wins; CUDA_VISIBLE_DEVICES is read the way
 * the CUDA runtime reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "backend.h"

static char out[256];

static int sel(const char *explicit_sel, const char *cuda)
{
	memset(out, 'x', sizeof out);
	return jst_gpu_selection_resolve(explicit_sel, cuda, out, sizeof out);
}

static void nothing_set_selects_all(void **st)
{
	(void)st;
	assert_int_equal(sel(NULL, NULL), 0);
	assert_string_equal(out, "");
	assert_int_equal(sel("", NULL), 0);
}

static void explicit_list_wins(void **st)
{
	(void)st;
	assert_int_equal(sel("0, 2", "1"), 1);
	assert_string_equal(out, "0,2");
	assert_int_equal(sel("GPU-5a1c0000-0000-4000-8000-000000000003", NULL), 1);
	assert_string_equal(out, "GPU-5a1c0000-0000-4000-8000-000000000003");
	/* "all" undoes a CUDA_VISIBLE_DEVICES inherited from a job script. */
	assert_int_equal(sel("all", "1"), 0);
}

static void explicit_garbage_is_an_error(void **st)
{
	(void)st;
	assert_int_equal(sel("0,,2", NULL), -EINVAL);
	assert_int_equal(sel("gpu0", NULL), -EINVAL);
	assert_int_equal(sel("-1", NULL), -EINVAL);
}

static void cuda_visible_devices(void **st)
{
	(void)st;
	assert_int_equal(sel(NULL, "1,3"), JST_GPUS_FROM_ENV);
	assert_string_equal(out, "1,3");
	assert_int_equal(sel(NULL, "GPU-8f1c,MIG-5a1c0000-0000-4000-9000-000000000002"),
	                 JST_GPUS_FROM_ENV);
	assert_string_equal(out, "GPU-8f1c,MIG-5a1c0000-0000-4000-9000-000000000002");
	assert_int_equal(sel(NULL, "MIG-GPU-8f1c/1/0"), JST_GPUS_FROM_ENV);
	assert_string_equal(out, "MIG-GPU-8f1c/1/0");
	/* Set but empty: no GPU at all. */
	assert_int_equal(sel(NULL, ""), JST_GPUS_FROM_ENV);
	assert_string_equal(out, "");
	/* CUDA stops at the first invalid entry and keeps those before it. */
	assert_int_equal(sel(NULL, "0,-1,2"), JST_GPUS_FROM_ENV);
	assert_string_equal(out, "0");
	assert_int_equal(sel(NULL, "-1"), JST_GPUS_FROM_ENV);
	assert_string_equal(out, "");
}

static void too_long_is_an_error(void **st)
{
	(void)st;
	char small[4];
	assert_int_equal(jst_gpu_selection_resolve("10,11", NULL, small, sizeof small),
	                 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nothing_set_selects_all),      cmocka_unit_test(explicit_list_wins),
	    cmocka_unit_test(explicit_garbage_is_an_error), cmocka_unit_test(cuda_visible_devices),
	    cmocka_unit_test(too_long_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
