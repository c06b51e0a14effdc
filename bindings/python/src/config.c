/*
 * The one place that builds a jst_config from the Python side's options: a
 * dict of setting name -> str, already checked by joulestat.Meter (which names
 * the argument in its errors), handed to the library's generic key=value
 * settings (jst_config_set), which check them again and say what they accept.
 */
#include "ext.h"

#include <string.h>

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
		/* The library checks every setting and names what it accepts. */
		if (!strcmp(key, "allow_estimate"))
			key = "estimate";
		int rc = jst_config_set(cfg, key, val);
		if (rc) {
			PyErr_SetString(PyExc_ValueError, *jst_config_error(cfg)
			                                      ? jst_config_error(cfg)
			                                      : jst_strerror(rc));
			return -1;
		}
	}
	return 0;
}
