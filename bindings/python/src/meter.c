/*
 * joulestat._ext.Meter: the library's meter and the calls that take
 * readings. joulestat.Meter subclasses it in Python to check its arguments;
 * begin, end and the named-window calls are this type's own C methods, so a
 * window costs no Python frame.
 */
#include "ext.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

jst_meter *ext_meter_live(ext_meter *m)
{
	if (!m->meter || m->closing) {
		ext_raise_msg(EBADF, "the meter is closed");
		return NULL;
	}
	return m->meter;
}

static PyObject *meter_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	ext_meter *self = (ext_meter *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->release_gil = 1; /* until the first readings show they are fast */
	self->named = PyDict_New();
	if (!self->named) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static int meter_init(ext_meter *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"options", NULL};
	PyObject *options = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:Meter", kwlist, &options))
		return -1;
	if (self->meter) {
		ext_raise_msg(EISCONN, "the meter is already open");
		return -1;
	}
	PyObject *keep = PyList_New(0);
	if (!keep)
		return -1;
	jst_config cfg;
	int rc = ext_config_build(&cfg, options, keep);
	if (rc == 0) {
		PyThreadState *ts = PyEval_SaveThread(); /* probing takes milliseconds */
		rc = jst_meter_open(&cfg, &self->meter);
		PyEval_RestoreThread(ts);
		if (rc < 0) {
			self->meter = NULL;
			ext_raise(rc);
		}
	}
	Py_DECREF(keep);
	return rc < 0 ? -1 : 0;
}

/* Wait for calls that run with the GIL released on other threads: close must
 * not race them. */
static void wait_idle(ext_meter *self)
{
	while (self->busy > 0) {
		PyThreadState *ts = PyEval_SaveThread();
		nanosleep(&(struct timespec){0, 100000}, NULL);
		PyEval_RestoreThread(ts);
	}
}

static void meter_do_close(ext_meter *self)
{
	if (!self->meter || self->closing)
		return; /* closed, or being closed by another thread */
	self->closing = 1;
	wait_idle(self);
	/* The library frees open windows with the meter: forget their handles. */
	if (self->named)
		PyDict_Clear(self->named);
	jst_meter *m = self->meter;
	self->meter = NULL;
	self->closing = 0;
	jst_meter_close(m);
}

static int meter_traverse(ext_meter *self, visitproc visit, void *arg)
{
	Py_VISIT(self->named);
	Py_VISIT(self->gpu_keys);
	return 0;
}

static int meter_clear(ext_meter *self)
{
	Py_CLEAR(self->named);
	Py_CLEAR(self->gpu_keys);
	return 0;
}

static void meter_dealloc(ext_meter *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	meter_do_close(self);
	meter_clear(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *meter_close(ext_meter *self, PyObject *unused)
{
	(void)unused;
	meter_do_close(self);
	Py_RETURN_NONE;
}

static int check_label(PyObject *label, const char **out)
{
	if (!PyUnicode_Check(label)) {
		PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s",
		             Py_TYPE(label)->tp_name);
		return -1;
	}
	Py_ssize_t n;
	const char *s = PyUnicode_AsUTF8AndSize(label, &n);
	if (!s)
		return -1;
	if ((size_t)n != strlen(s)) {
		PyErr_SetString(PyExc_ValueError, "name must not contain NUL characters");
		return -1;
	}
	*out = s;
	return 0;
}

/* A fresh window of the library's, or NULL with an exception. */
static jst_window *begin_raw(ext_meter *self, PyObject *label)
{
	const char *s;
	if (!ext_meter_live(self) || check_label(label, &s) < 0)
		return NULL;
	jst_window *w = NULL;
	int rc;
	ext_read ts = ext_read_begin(self);
	rc = jst_window_begin(self->meter, s, &w);
	ext_read_end(self, ts);
	if (rc < 0) {
		ext_raise(rc);
		return NULL;
	}
	return w;
}

static PyObject *meter_window(ext_meter *self, PyObject *const *args, Py_ssize_t n)
{
	if (n > 1)
		return PyErr_Format(PyExc_TypeError,
		                    "window() takes at most 1 argument (%zd given)", n);
	static PyObject *empty;
	if (!empty && !(empty = PyUnicode_InternFromString("")))
		return NULL;
	PyObject *label = n ? args[0] : empty;
	jst_window *w = begin_raw(self, label);
	return w ? ext_window_new(self, w, label) : NULL;
}

/* Named windows are kept as bare handles (ints) in a dict: no Python object of
 * their own, so that a begin_window/end_window pair costs one Measurement and
 * one dict lookup at each end. */
static PyObject *meter_begin_window(ext_meter *self, PyObject *name)
{
	jst_window *w = begin_raw(self, name);
	if (!w)
		return NULL;
	PyObject *h = PyLong_FromVoidPtr(w);
	/* Inserts h unless the name is open already (then returns that one). */
	PyObject *had = h ? PyDict_SetDefault(self->named, name, h) : NULL;
	Py_XDECREF(h);
	if (had == h && had)
		Py_RETURN_NONE;
	jst_window_cancel(w);
	if (!had)
		return NULL;
	return ext_raise_msg(EEXIST, "a window named %R is already open", name);
}

/* Take the named window out of the dict; NULL with an exception if none. */
static jst_window *pop_named(ext_meter *self, PyObject *name)
{
	if (!ext_meter_live(self))
		return NULL;
	if (!PyUnicode_Check(name)) {
		PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s",
		             Py_TYPE(name)->tp_name);
		return NULL;
	}
#if PY_VERSION_HEX >= 0x030D0000
	PyObject *h = NULL;
	if (PyDict_Pop(self->named, name, &h) < 0)
		return NULL;
#else
	PyObject *h = _PyDict_Pop(self->named, name, Py_None);
	if (!h)
		return NULL;
	if (h == Py_None) {
		Py_DECREF(h);
		h = NULL;
	}
#endif
	if (!h) {
		ext_raise_msg(ENOENT, "no open window named %R", name);
		return NULL;
	}
	jst_window *w = PyLong_AsVoidPtr(h);
	Py_DECREF(h);
	return w;
}

static PyObject *finish_named(ext_meter *self, PyObject *name, int how)
{
	jst_window *w = pop_named(self, name);
	if (!w)
		return NULL;
	PyObject *r = ext_finish(self, &w, how);
	if (w) { /* still open (ENOMEM): keep it by name, so that the call may be repeated */
		PyObject *h = PyLong_FromVoidPtr(w);
		if (!h || PyDict_SetItem(self->named, name, h) < 0)
			jst_window_cancel(w);
		Py_XDECREF(h);
	}
	return r;
}

/* end_window(name, settle=False): settle waits, GIL released, for the slow
 * counters' next values after the end (jst_window_end_settled). Vectorcall,
 * so that the usual end_window(name) parses nothing (the pair's cost is
 * benchmarked against two raw reads: BENCHMARKS.md section 10). */
static PyObject *meter_end_window(ext_meter *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	if (nargs != 1 || nkw > 1) {
		PyErr_Format(PyExc_TypeError,
		             "end_window() takes one argument, the name, and settle= (%zd given)",
		             nargs + nkw);
		return NULL;
	}
	int settle = 0;
	if (nkw) {
		PyObject *key = PyTuple_GET_ITEM(kwnames, 0);
		if (!PyUnicode_Check(key) || PyUnicode_CompareWithASCIIString(key, "settle") != 0) {
			PyErr_Format(PyExc_TypeError,
			             "end_window() got an unexpected keyword argument '%S'", key);
			return NULL;
		}
		/* A bool, as Meter(settle=) takes: 'no' must not mean yes. */
		if (!PyBool_Check(args[1])) {
			PyErr_Format(PyExc_TypeError, "settle must be a bool, not %.100s",
			             Py_TYPE(args[1])->tp_name);
			return NULL;
		}
		settle = args[1] == Py_True;
	}
	return finish_named(self, args[0], settle ? EXT_END_SETTLED : EXT_END);
}

static PyObject *meter_cancel_window(ext_meter *self, PyObject *name)
{
	return finish_named(self, name, EXT_CANCEL);
}

static PyObject *meter_open_windows(ext_meter *self, PyObject *unused)
{
	(void)unused;
	return PyDict_Keys(self->named);
}

static PyObject *meter_backends(ext_meter *self, PyObject *unused)
{
	(void)unused;
	if (!ext_meter_live(self))
		return NULL;
	size_t n = jst_meter_backend_count(self->meter);
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		jst_backend_info b;
		EXT_STRUCT_INIT(b);
		int rc = jst_meter_backend(self->meter, i, &b);
		PyObject *o = rc < 0 ? ext_raise(rc) : ext_backend_info(&b);
		if (!o)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, o);
	}
	return list;
}

static PyObject *meter_domains(ext_meter *self, PyObject *unused)
{
	(void)unused;
	if (!ext_meter_live(self))
		return NULL;
	size_t n = jst_meter_domain_count(self->meter);
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		jst_domain_info d;
		EXT_STRUCT_INIT(d);
		int rc = jst_meter_domain(self->meter, i, &d);
		PyObject *o = rc < 0 ? ext_raise(rc) : ext_domain_info(&d);
		if (!o)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, o);
	}
	return list;
}

static PyObject *meter_settle(ext_meter *self, PyObject *arg)
{
	long long ms;
	if (ext_int_arg(arg, "timeout_ms", 0, UINT_MAX, "milliseconds", &ms) < 0 ||
	    !ext_meter_live(self))
		return NULL;
	int rc;
	self->busy++; /* waits up to timeout_ms: always without the GIL */
	PyThreadState *ts = PyEval_SaveThread();
	rc = jst_meter_settle(self->meter, (unsigned)ms);
	PyEval_RestoreThread(ts);
	self->busy--;
	if (rc < 0)
		return ext_raise(rc);
	Py_RETURN_NONE;
}

/* For bench/bench_python.py: n window pairs in C alone, timed in C (ns), so
 * that the Python side's own cost shows beside the library's in one run. */
static PyObject *meter_c_pairs(ext_meter *self, PyObject *arg)
{
	long long n;
	if (ext_int_arg(arg, "n", 0, PY_SSIZE_T_MAX, "window pairs", &n) < 0 ||
	    !ext_meter_live(self))
		return NULL;
	struct timespec t0, t1;
	int rc = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long long i = 0; i < n && rc == 0; i++) {
		jst_window *w;
		jst_measurement *ms;
		rc = jst_window_begin(self->meter, "w", &w);
		if (rc == 0)
			rc = jst_window_end(w, &ms);
		if (rc == 0)
			jst_measurement_free(ms);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		return ext_raise(rc);
	return PyLong_FromLongLong((t1.tv_sec - t0.tv_sec) * 1000000000LL +
	                           (t1.tv_nsec - t0.tv_nsec));
}

static PyObject *meter_enter(ext_meter *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

static PyObject *meter_exit(ext_meter *self, PyObject *const *args, Py_ssize_t n)
{
	(void)args;
	(void)n;
	meter_do_close(self);
	Py_RETURN_FALSE;
}

static PyObject *get_closed(ext_meter *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->meter == NULL);
}

static PyObject *get_gpu_keys(ext_meter *self, void *unused)
{
	(void)unused;
	return Py_NewRef(self->gpu_keys ? self->gpu_keys : Py_None);
}

static int set_gpu_keys(ext_meter *self, PyObject *v, void *unused)
{
	(void)unused;
	if (v && v != Py_None && !PyDict_Check(v)) {
		PyErr_SetString(PyExc_TypeError, "gpu_keys must be a dict or None");
		return -1;
	}
	Py_XSETREF(self->gpu_keys, v && v != Py_None ? Py_NewRef(v) : NULL);
	return 0;
}

static PyMethodDef meter_methods[] = {
    {"window", (PyCFunction)(void (*)(void))meter_window, METH_FASTCALL,
     "window(name='') -> Window: begin a window now. Names need not be unique."},
    {"begin_window", (PyCFunction)meter_begin_window, METH_O,
     "begin_window(name): begin a window known by name until end_window(name)."},
    {"end_window", (PyCFunction)(void (*)(void))meter_end_window, METH_FASTCALL | METH_KEYWORDS,
     "end_window(name, *, settle=False) -> Measurement; settle=True forms the figure once the "
     "slow energy counters have latched again after the end (blocks up to ~1.5 refreshes)"},
    {"cancel_window", (PyCFunction)meter_cancel_window, METH_O,
     "cancel_window(name): discard the named window unmeasured."},
    {"open_windows", (PyCFunction)meter_open_windows, METH_NOARGS,
     "names of the windows begun with begin_window and not yet ended"},
    {"backends", (PyCFunction)meter_backends, METH_NOARGS,
     "every backend, in registry order, available or why not"},
    {"domains", (PyCFunction)meter_domains, METH_NOARGS, "the domains this meter measures"},
    {"settle", (PyCFunction)meter_settle, METH_O,
     "settle(timeout_ms): wait until every domain's sensor refresh is known"},
    {"close", (PyCFunction)meter_close, METH_NOARGS,
     "Stop the sampler and release the meter; its open windows are discarded."},
    {"_c_pairs", (PyCFunction)meter_c_pairs, METH_O,
     "_c_pairs(n) -> ns: n window pairs in C alone (for the benchmark)"},
    {"__enter__", (PyCFunction)meter_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))meter_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef meter_getset[] = {
    {"closed", (getter)get_closed, NULL, "True once closed", NULL},
    {"gpu_keys", (getter)get_gpu_keys, (setter)set_gpu_keys,
     "{NVML index: key} used for Measurement.gpu_energy, or None for NVML indices", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject ext_meter_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "joulestat._ext.Meter",
    .tp_basicsize = sizeof(ext_meter),
    .tp_new = meter_new,
    .tp_init = (initproc)meter_init,
    .tp_dealloc = (destructor)meter_dealloc,
    .tp_traverse = (traverseproc)meter_traverse,
    .tp_clear = (inquiry)meter_clear,
    .tp_weaklistoffset = offsetof(ext_meter, weakrefs),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Meter(options=None): the C meter; use joulestat.Meter.",
    .tp_methods = meter_methods,
    .tp_getset = meter_getset,
};
