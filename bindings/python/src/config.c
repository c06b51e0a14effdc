/*
 * The one place that builds a jst_config from the Python side's options: a
 * dict of setting name -> str, already checked by joulestat.Meter (which names
 * the argument in its errors). When the library takes generic key=value
 * settings, this becomes a loop of jst_config_set().
 */
#include "ext.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *key, const char *v, unsigned long long max,
                      unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || errno || x > max || v[0] == '-') {
		PyErr_Format(PyExc_ValueError, "%s: '%s' is not a whole number from 0 to %llu", key,
		             v, max);
		return -1;
	}
	*out = x;
	return 0;
}

int ext_config_build(jst_config *cfg, PyObject *options, PyObject *keep)
{
	jst_config_init(cfg);
	if (options == NULL || options == Py_None)
		return 0;
	if (!PyDict_Check(options)) {
		PyErr_SetString(PyExc_TypeError, "options must be a dict of str to str");
		return -1;
	}
	PyObject *k, *v;
	Py_ssize_t pos = 0;
	while (PyDict_Next(options, &pos, &k, &v)) {
		if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
			PyErr_SetString(PyExc_TypeError, "options must be a dict of str to str");
			return -1;
		}
		const char *key = PyUnicode_AsUTF8(k);
		PyObject *b = PyUnicode_AsUTF8String(v);
		if (!key || !b || PyList_Append(keep, b) < 0) {
			Py_XDECREF(b);
			return -1;
		}
		Py_DECREF(b);
		const char *val = PyBytes_AS_STRING(b); /* kept alive by keep */
		if (strlen(val) != (size_t)PyBytes_GET_SIZE(b)) {
			PyErr_Format(PyExc_ValueError, "%s: the value must not contain NUL", key);
			return -1;
		}
		unsigned long long n;
		if (!strcmp(key, "backends")) {
			cfg->backends = val;
		} else if (!strcmp(key, "gpus")) {
			cfg->gpus = val;
		} else if (!strcmp(key, "period_ms")) {
			if (parse_uint(key, val, UINT_MAX, &n) < 0)
				return -1;
			cfg->sample_period_ms = (unsigned)n;
		} else if (!strcmp(key, "sysfs.root")) {
			cfg->sysfs_root = val;
		} else if (!strcmp(key, "procfs.root")) {
			cfg->procfs_root = val;
		} else if (!strcmp(key, "nvml.library")) {
			cfg->nvml_library = val;
		} else if (!strcmp(key, "allow_estimate")) {
			cfg->allow_estimate = strcmp(val, "0") != 0;
		} else if (!strcmp(key, "cross_validate")) {
			cfg->cross_validate = strcmp(val, "0") != 0;
		} else if (!strcmp(key, "series_capacity")) {
			if (parse_uint(key, val, SIZE_MAX, &n) < 0)
				return -1;
			cfg->series_capacity = (size_t)n;
		} else {
			PyErr_Format(PyExc_ValueError,
			             "unknown setting %R; accepted: backends, gpus, period_ms, "
			             "sysfs.root, procfs.root, nvml.library, allow_estimate, "
			             "cross_validate, series_capacity",
			             k);
			return -1;
		}
	}
	return 0;
}
