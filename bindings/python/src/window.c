/*
 * joulestat.Window: one open window of a meter, as returned by
 * Meter.window()/begin(). Labels need not be unique, so a decorated function
 * that recurses or runs on many threads opens a window per call. A Window is
 * also a context manager: on leaving the block it ends and keeps the result
 * in .measurement.
 */
#include "ext.h"

#include <errno.h>

PyObject *ext_window_new(ext_meter *owner, jst_window *w, PyObject *label)
{
	ext_window *self = PyObject_GC_New(ext_window, &ext_window_type);
	if (!self) {
		jst_window_cancel(w);
		return NULL;
	}
	self->owner = (ext_meter *)Py_NewRef(owner);
	self->window = w;
	self->label = Py_NewRef(label);
	self->measurement = NULL;
	PyObject_GC_Track(self);
	return (PyObject *)self;
}

static int window_traverse(ext_window *self, visitproc visit, void *arg)
{
	Py_VISIT(self->owner);
	Py_VISIT(self->measurement);
	return 0;
}

static int window_clear(ext_window *self)
{
	/* A window dropped while open is cancelled, unless its meter closed
	 * (which freed it already). */
	if (self->window && self->owner && self->owner->meter)
		jst_window_cancel(self->window);
	self->window = NULL;
	Py_CLEAR(self->owner);
	Py_CLEAR(self->measurement);
	return 0;
}

static void window_dealloc(ext_window *self)
{
	PyObject_GC_UnTrack(self);
	window_clear(self);
	Py_CLEAR(self->label);
	PyObject_GC_Del(self);
}

PyObject *ext_finish(ext_meter *owner, jst_window **slot, int how)
{
	if (!ext_meter_live(owner))
		return NULL;
	jst_window *w = *slot;
	if (!w)
		return ext_raise_msg(EINVAL, "the window has already ended");
	/* Taken out while the GIL is released, so that no other thread ends it too. */
	*slot = NULL;
	if (how == EXT_CANCEL) {
		jst_window_cancel(w);
		Py_RETURN_NONE;
	}
	jst_measurement *ms = NULL;
	int rc;
	if (how == EXT_END_SETTLED) {
		/* A wait of up to a refresh and a half: always without the GIL, and
		 * not timed as a read (it would mark every read as slow). */
		owner->busy++;
		PyThreadState *ts = PyEval_SaveThread();
		rc = jst_window_end_settled(w, 0, &ms);
		PyEval_RestoreThread(ts);
		owner->busy--;
	} else {
		ext_read ts = ext_read_begin(owner);
		rc = how == EXT_END ? jst_window_end(w, &ms) : jst_window_rotate(w, &ms);
		ext_read_end(owner, ts);
	}
	if (how == EXT_ROTATE || rc == -ENOMEM)
		*slot = w; /* still open */
	if (rc < 0)
		return ext_raise(rc);
	return ext_measurement_new(ms, owner->gpu_keys);
}

static PyObject *window_finish(ext_window *self, int how)
{
	if (!self->owner)
		return ext_raise_msg(EBADF, "the meter is closed");
	return ext_finish(self->owner, &self->window, how);
}

static PyObject *window_end(ext_window *self, PyObject *unused)
{
	(void)unused;
	return window_finish(self, EXT_END);
}

static PyObject *window_rotate(ext_window *self, PyObject *unused)
{
	(void)unused;
	return window_finish(self, EXT_ROTATE);
}

static PyObject *window_cancel(ext_window *self, PyObject *unused)
{
	(void)unused;
	return window_finish(self, EXT_CANCEL);
}

static PyObject *window_enter(ext_window *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

/* Ends the window however the block is left; an exception in the block still
 * yields its measurement, and is not swallowed. */
static PyObject *window_exit(ext_window *self, PyObject *const *args, Py_ssize_t n)
{
	(void)args;
	(void)n;
	if (!self->window)
		Py_RETURN_FALSE; /* ended inside the block */
	PyObject *m = window_finish(self, EXT_END);
	if (!m)
		return NULL;
	Py_XSETREF(self->measurement, m);
	Py_RETURN_FALSE;
}

static PyObject *get_label(ext_window *self, void *unused)
{
	(void)unused;
	return Py_NewRef(self->label);
}

static PyObject *get_open(ext_window *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->window && self->owner && self->owner->meter);
}

static PyObject *get_measurement(ext_window *self, void *unused)
{
	(void)unused;
	return Py_NewRef(self->measurement ? self->measurement : Py_None);
}

static PyObject *window_repr(ext_window *self)
{
	return PyUnicode_FromFormat("<joulestat.Window %R %s>", self->label,
	                            self->window ? "open" : "ended");
}

static PyMethodDef window_methods[] = {
    {"end", (PyCFunction)window_end, METH_NOARGS, "End the window; returns its Measurement."},
    {"rotate", (PyCFunction)window_rotate, METH_NOARGS,
     "End the current span and begin the next on the same reading; returns the span's "
     "Measurement. Consecutive spans tile time exactly."},
    {"cancel", (PyCFunction)window_cancel, METH_NOARGS, "Discard the window unmeasured."},
    {"__enter__", (PyCFunction)window_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))window_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef window_getset[] = {
    {"label", (getter)get_label, NULL, "the label given at begin", NULL},
    {"open", (getter)get_open, NULL, "not yet ended or cancelled", NULL},
    {"measurement", (getter)get_measurement, NULL,
     "the Measurement once a with block has ended the window, else None", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject ext_window_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "joulestat.Window",
    .tp_basicsize = sizeof(ext_window),
    .tp_dealloc = (destructor)window_dealloc,
    .tp_traverse = (traverseproc)window_traverse,
    .tp_clear = (inquiry)window_clear,
    .tp_repr = (reprfunc)window_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An open window of a Meter (Meter.window(label)); a context manager.",
    .tp_methods = window_methods,
    .tp_getset = window_getset,
};
