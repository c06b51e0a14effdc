/*
 * The joulestat._ext module: its types, JoulestatError and the library's
 * version. The Python package (joulestat/__init__.py) is the public face.
 */
#include "ext.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <time.h>

PyObject *ext_error;

int64_t ext_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

PyObject *ext_raise(int code)
{
	int err = code < 0 ? -code : code;
	PyObject *args = Py_BuildValue("(is)", err, jst_strerror(code));
	if (args) {
		PyErr_SetObject(ext_error, args);
		Py_DECREF(args);
	}
	return NULL;
}

PyObject *ext_raise_msg(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PyObject *text = PyUnicode_FromFormatV(fmt, ap);
	va_end(ap);
	if (!text)
		return NULL;
	PyObject *args = Py_BuildValue("(iO)", err, text);
	Py_DECREF(text);
	if (args) {
		PyErr_SetObject(ext_error, args);
		Py_DECREF(args);
	}
	return NULL;
}

int ext_int_arg(PyObject *v, const char *arg, long long min, long long max, const char *unit,
                long long *out)
{
	/* An int or what stands for one (numpy's integers: __index__); a bool
	 * is no count of anything. */
	if (PyBool_Check(v) || !PyIndex_Check(v)) {
		PyErr_Format(PyExc_TypeError,
		             "%s must be an int (%s from %lld to %lld), not %.100s", arg, unit, min,
		             max, Py_TYPE(v)->tp_name);
		return -1;
	}
	PyObject *i = PyNumber_Index(v);
	if (!i)
		return -1;
	int overflow = 0;
	long long x = PyLong_AsLongLongAndOverflow(i, &overflow);
	Py_DECREF(i);
	if (x == -1 && PyErr_Occurred())
		return -1;
	if (overflow || x < min || x > max) {
		PyErr_Format(PyExc_ValueError,
		             "%s: %R is out of range; accepted: %s from %lld to %lld", arg, v, unit,
		             min, max);
		return -1;
	}
	*out = x;
	return 0;
}

static PyObject *mod_version(PyObject *mod, PyObject *unused)
{
	(void)mod;
	(void)unused;
	return PyUnicode_FromString(jst_version());
}

static PyObject *mod_strerror(PyObject *mod, PyObject *arg)
{
	(void)mod;
	long long code;
	if (ext_int_arg(arg, "code", INT_MIN, INT_MAX, "a return code", &code) < 0)
		return NULL;
	return PyUnicode_FromString(jst_strerror((int)code));
}

static PyMethodDef mod_methods[] = {
    {"version", mod_version, METH_NOARGS, "the C library's version"},
    {"strerror", mod_strerror, METH_O, "text of a library return code"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mod_def = {
    PyModuleDef_HEAD_INIT,
    "joulestat._ext",
    "The C core of the joulestat package.",
    -1,
    mod_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__ext(void)
{
	PyObject *m = PyModule_Create(&mod_def);
	if (!m)
		return NULL;
	ext_error = PyErr_NewExceptionWithDoc("joulestat.JoulestatError",
	                                      "A negative return code from libjoulestat, with "
	                                      "its errno and text.",
	                                      PyExc_OSError, NULL);
	if (!ext_error || PyModule_AddObjectRef(m, "JoulestatError", ext_error) < 0)
		goto fail;
	PyTypeObject *types[] = {&ext_meter_type, &ext_window_type, &ext_measurement_type};
	const char *names[] = {"Meter", "Window", "Measurement"};
	for (int i = 0; i < 3; i++)
		if (PyType_Ready(types[i]) < 0 ||
		    PyModule_AddObjectRef(m, names[i], (PyObject *)types[i]) < 0)
			goto fail;
	if (ext_mirror_init(m) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
