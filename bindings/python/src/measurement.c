/*
 * joulestat.Measurement: what a window yields. It owns the library's
 * jst_measurement and decodes a field only when it is first read, so that a
 * window whose figures are never looked at costs no Python objects beyond
 * this one.
 */
#include "ext.h"

#include <stdlib.h>
#include <string.h>

PyObject *ext_measurement_new(jst_measurement *ms, PyObject *gpu_keys)
{
	ext_measurement *self = PyObject_New(ext_measurement, &ext_measurement_type);
	if (!self) {
		jst_measurement_free(ms);
		return NULL;
	}
	self->ms = ms;
	self->gpu_keys = gpu_keys;
	Py_XINCREF(gpu_keys);
	self->name = self->gpu_energy = self->domains = self->totals = NULL;
	return (PyObject *)self;
}

static void measurement_dealloc(ext_measurement *self)
{
	jst_measurement_free(self->ms);
	Py_XDECREF(self->gpu_keys);
	Py_XDECREF(self->name);
	Py_XDECREF(self->gpu_energy);
	Py_XDECREF(self->domains);
	Py_XDECREF(self->totals);
	PyObject_Free(self);
}

static int total(ext_measurement *self, jst_total_kind which, jst_total *t)
{
	EXT_STRUCT_INIT(*t);
	int rc = jst_measurement_total(self->ms, which, t);
	if (rc < 0)
		ext_raise(rc);
	return rc;
}

/* A total's energy, or None when nothing measured it. */
static PyObject *total_energy_or_none(ext_measurement *self, jst_total_kind which)
{
	jst_total t;
	if (total(self, which, &t) < 0)
		return NULL;
	if (!t.parts)
		Py_RETURN_NONE;
	return PyFloat_FromDouble(t.energy_j);
}

static PyObject *get_name(ext_measurement *self, void *unused)
{
	(void)unused;
	if (!self->name) {
		const char *s = jst_measurement_name(self->ms);
		self->name = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
	}
	return Py_XNewRef(self->name);
}

static PyObject *get_time(ext_measurement *self, void *unused)
{
	(void)unused;
	return PyFloat_FromDouble(jst_measurement_duration(self->ms));
}

static PyObject *get_begin_ns(ext_measurement *self, void *unused)
{
	(void)unused;
	return PyLong_FromLongLong(jst_measurement_begin_ns(self->ms));
}

static PyObject *get_end_ns(ext_measurement *self, void *unused)
{
	(void)unused;
	return PyLong_FromLongLong(jst_measurement_end_ns(self->ms));
}

static PyObject *get_partial(ext_measurement *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(jst_measurement_partial(self->ms));
}

static PyObject *get_total_energy(ext_measurement *self, void *unused)
{
	(void)unused;
	jst_total t;
	if (total(self, JST_TOTAL_ALL, &t) < 0)
		return NULL;
	return PyFloat_FromDouble(t.parts ? t.energy_j : 0.0);
}

static PyObject *get_accuracy(ext_measurement *self, void *unused)
{
	(void)unused;
	jst_total t;
	if (total(self, JST_TOTAL_ALL, &t) < 0)
		return NULL;
	if (!t.parts)
		Py_RETURN_NONE;
	/* This figure's own: its uncertainty relative to it (the class, the
	 * edges, sampling, what was bridged), the class where there is no energy. */
	return PyFloat_FromDouble(t.energy_j > 0 ? t.uncertainty_j / t.energy_j : t.accuracy);
}

static PyObject *get_cpu_energy(ext_measurement *self, void *unused)
{
	(void)unused;
	return total_energy_or_none(self, JST_TOTAL_CPU);
}

static PyObject *get_dram_energy(ext_measurement *self, void *unused)
{
	(void)unused;
	return total_energy_or_none(self, JST_TOTAL_DRAM);
}

/* {GPU index: J} from each GPU's primary figure; the meter's gpu_keys (set by
 * joulestat.zeus) turn NVML indices into CUDA ordinals. */
static PyObject *get_gpu_energy(ext_measurement *self, void *unused)
{
	(void)unused;
	if (self->gpu_energy)
		return Py_NewRef(self->gpu_energy);
	PyObject *d = PyDict_New();
	size_t n = jst_measurement_domain_count(self->ms);
	for (size_t i = 0; d && i < n; i++) {
		jst_domain_energy de;
		EXT_STRUCT_INIT(de);
		int rc = jst_measurement_domain(self->ms, i, &de);
		if (rc < 0) {
			Py_CLEAR(d);
			ext_raise(rc);
			break;
		}
		if (de.kind != JST_KIND_GPU || !de.primary || strncmp(de.name, "gpu", 3) != 0)
			continue;
		char *end;
		long idx = strtol(de.name + 3, &end, 10);
		if (end == de.name + 3 || *end)
			continue;
		PyObject *key = PyLong_FromLong(idx);
		if (key && self->gpu_keys) {
			PyObject *mapped = PyDict_GetItemWithError(self->gpu_keys, key);
			Py_DECREF(key);
			key = mapped ? Py_NewRef(mapped) : NULL;
			if (!mapped && !PyErr_Occurred())
				continue; /* a GPU the caller did not ask for */
		}
		PyObject *val = PyFloat_FromDouble(de.energy_j);
		if (!key || !val || PyDict_SetItem(d, key, val) < 0)
			Py_CLEAR(d);
		Py_XDECREF(key);
		Py_XDECREF(val);
	}
	self->gpu_energy = d;
	return Py_XNewRef(d);
}

static PyObject *get_domains(ext_measurement *self, void *unused)
{
	(void)unused;
	if (self->domains)
		return Py_NewRef(self->domains);
	size_t n = jst_measurement_domain_count(self->ms);
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		jst_domain_energy de;
		EXT_STRUCT_INIT(de);
		int rc = jst_measurement_domain(self->ms, i, &de);
		PyObject *o = rc < 0 ? ext_raise(rc) : ext_domain_energy(&de);
		if (!o) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, o);
	}
	self->domains = list;
	return Py_XNewRef(list);
}

static PyObject *get_totals(ext_measurement *self, void *unused)
{
	(void)unused;
	if (self->totals)
		return Py_NewRef(self->totals);
	PyObject *d = PyDict_New();
	for (int k = 0; d && k < JST_TOTAL_COUNT_; k++) {
		jst_total t;
		if (total(self, (jst_total_kind)k, &t) < 0) {
			Py_CLEAR(d);
			break;
		}
		if (!t.parts)
			continue;
		PyObject *o = ext_total(&t);
		if (!o || PyDict_SetItemString(d, jst_total_name((jst_total_kind)k), o) < 0)
			Py_CLEAR(d);
		Py_XDECREF(o);
	}
	self->totals = d;
	return Py_XNewRef(d);
}

static PyObject *measurement_repr(ext_measurement *self)
{
	char buf[160];
	jst_total t;
	if (total(self, JST_TOTAL_ALL, &t) < 0)
		return NULL;
	PyObject *name = get_name(self, NULL);
	if (!name)
		return NULL;
	PyOS_snprintf(buf, sizeof buf, "%.3f s, %.3f J", jst_measurement_duration(self->ms),
	              t.parts ? t.energy_j : 0.0);
	PyObject *r = PyUnicode_FromFormat("Measurement(%R, %s)", name, buf);
	Py_DECREF(name);
	return r;
}

static PyGetSetDef measurement_getset[] = {
    {"name", (getter)get_name, NULL, "the window's label", NULL},
    {"time", (getter)get_time, NULL, "duration in seconds", NULL},
    {"begin_ns", (getter)get_begin_ns, NULL, "CLOCK_MONOTONIC at begin", NULL},
    {"end_ns", (getter)get_end_ns, NULL, "CLOCK_MONOTONIC at end", NULL},
    {"partial", (getter)get_partial, NULL, "a device failed during the window", NULL},
    {"total_energy", (getter)get_total_energy, NULL,
     "J of every component, each device once (system meters excluded)", NULL},
    {"accuracy", (getter)get_accuracy, NULL,
     "relative uncertainty of total_energy (0.05 = 5%), None if nothing measured", NULL},
    {"gpu_energy", (getter)get_gpu_energy, NULL, "{GPU index: J}", NULL},
    {"cpu_energy", (getter)get_cpu_energy, NULL, "J of all CPU packages, or None", NULL},
    {"dram_energy", (getter)get_dram_energy, NULL, "J of all DRAM, or None", NULL},
    {"domains", (getter)get_domains, NULL, "list of DomainEnergy", NULL},
    {"totals", (getter)get_totals, NULL,
     "{gpu|cpu|dram|total|system: {energy_j, avg_power_w, accuracy, uncertainty_j, parts, "
     "estimated, partial}} for the totals that measured something",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject ext_measurement_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "joulestat.Measurement",
    .tp_basicsize = sizeof(ext_measurement),
    .tp_dealloc = (destructor)measurement_dealloc,
    .tp_repr = (reprfunc)measurement_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "What a window yields: energies in J, time in s, power in W. Fields are "
              "decoded from the library's measurement when first read.",
    .tp_getset = measurement_getset,
};
