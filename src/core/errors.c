/* Error text, names of kinds and methods, the version. */
#include "joulestat.h"
#include "meter_internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

const char *jst_version(void)
{
	return JST_VERSION;
}

const char *jst_strerror(int code)
{
	/* -INT_MIN is not an int: that one has no errno to name. */
	if (code == INT_MIN)
		return "unknown error";
	if (code < 0)
		code = -code;
	switch (code) {
	case 0:
		return "success";
	case EINVAL:
		return "invalid argument";
	case ENODEV:
		return "no energy domain is available (see 'joulestat list' for why)";
	case ENOMEM:
		return "out of memory";
	case EACCES:
		return "permission denied";
	case EIO:
		return "device read failed";
	case ERANGE:
		return "value out of range";
	case ENOSYS:
		return "not supported by this backend";
	case ENXIO: {
		/* jst_meter_open's refusal: which selection, and what exists. */
		const char *why = jst_meter_refusal();
		return why ? why : "a device explicitly selected cannot be measured";
	}
	case ECHILD:
		return "the meter belongs to the process that opened it (after fork, open one in "
		       "the child)";
	default: {
		const char *s = strerrordesc_np(code);
		return s ? s : "unknown error";
	}
	}
}

static const char *const kind_names[JST_KIND_COUNT_] = {
    "gpu", "package", "core", "uncore", "dram", "platform", "node", "other",
};
static const char *const method_names[JST_METHOD_COUNT_] = {"counter", "power", "estimate"};
static const char *const total_names[JST_TOTAL_COUNT_] = {"gpu", "cpu", "dram", "total", "system"};

const char *jst_kind_name(jst_kind kind)
{
	return (unsigned)kind < JST_KIND_COUNT_ ? kind_names[kind] : "unknown";
}

const char *jst_method_name(jst_method method)
{
	return (unsigned)method < JST_METHOD_COUNT_ ? method_names[method] : "unknown";
}

const char *jst_total_name(jst_total_kind total)
{
	return (unsigned)total < JST_TOTAL_COUNT_ ? total_names[total] : "unknown";
}
