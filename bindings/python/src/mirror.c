/*
 * The one place that reads the library's public result structs (a domain's
 * energy, a total, backend and domain descriptions) and turns them into Python
 * objects. A DomainEnergy is a struct sequence: built in one allocation,
 * read-only, named fields.
 */
#include "ext.h"

#include <math.h>
#include <string.h>

static PyTypeObject domain_energy_type;

static PyStructSequence_Field domain_fields[] = {
    {"name", "domain name: gpu0, package-0, core-0, dram-0, ..."},
    {"kind", "gpu, package, core, uncore, dram, platform, node, other"},
    {"device", "device identity (de-duplication key)"},
    {"backend", "backend that read it"},
    {"method", "counter, power or estimate"},
    {"source", "finer method: energy-counter, instant-power, ..."},
    {"accuracy", "the method's relative error class (0.05 = 5%)"},
    {"energy", "joules"},
    {"uncertainty", "+- joules"},
    {"avg_power", "W over the window, None if unknown"},
    {"peak_power", "highest sampled W in the window, None if none"},
    {"samples", "sampler readings inside the window"},
    {"primary", "the figure counted for its device"},
    {"partial", "figure ended early (device failed)"},
    {"short_window", "window shorter than three sensor refreshes"},
    {"bridged", "a reset, jump or gap was bridged from power"},
    {"note", "caveat, or ''"},
    {"temperature_max", "highest C in the window, None if not reported"},
    {"utilization_mean", "mean % in the window, None if not reported"},
    {"clock_mean", "mean MHz in the window, None if not reported"},
    {"power_limit", "enforced W limit, None if not reported"},
    {"parent", "index of the containing domain, or None"},
    {"counted", "in the total of all components (totals['total'])"},
    {NULL, NULL},
};

static PyStructSequence_Desc domain_desc = {
    "joulestat.DomainEnergy",
    "One domain's figure in a measurement. Energies in J, power in W.",
    domain_fields,
    sizeof domain_fields / sizeof domain_fields[0] - 1,
};

int ext_mirror_init(PyObject *module)
{
	if (PyStructSequence_InitType2(&domain_energy_type, &domain_desc) < 0)
		return -1;
	Py_INCREF(&domain_energy_type);
	return PyModule_AddObject(module, "DomainEnergy", (PyObject *)&domain_energy_type);
}

static PyObject *str_or_none(const char *s)
{
	if (!s)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *num_or_none(double x)
{
	if (isnan(x))
		Py_RETURN_NONE;
	return PyFloat_FromDouble(x);
}

PyObject *ext_domain_energy(const jst_domain_energy *d)
{
	PyObject *o = PyStructSequence_New(&domain_energy_type);
	if (!o)
		return NULL;
	PyObject *v[] = {
	    str_or_none(d->name),
	    PyUnicode_FromString(jst_kind_name(d->kind)),
	    str_or_none(d->device),
	    str_or_none(d->backend),
	    PyUnicode_FromString(jst_method_name(d->method)),
	    str_or_none(d->source),
	    PyFloat_FromDouble(d->accuracy),
	    PyFloat_FromDouble(d->energy_j),
	    PyFloat_FromDouble(d->uncertainty_j),
	    num_or_none(d->avg_power_w),
	    num_or_none(d->peak_power_w),
	    PyLong_FromSize_t(d->samples),
	    PyBool_FromLong(d->primary),
	    PyBool_FromLong(d->partial),
	    PyBool_FromLong(d->short_window),
	    PyBool_FromLong(d->bridged),
	    str_or_none(d->note),
	    num_or_none(d->temperature_max_c),
	    num_or_none(d->utilization_mean_pct),
	    num_or_none(d->clock_mean_mhz),
	    num_or_none(d->power_limit_w),
	    d->parent < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(d->parent),
	    PyBool_FromLong(d->counted),
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		failed |= v[i] == NULL;
		PyStructSequence_SET_ITEM(o, (Py_ssize_t)i, v[i]);
	}
	if (failed) {
		Py_DECREF(o);
		return NULL;
	}
	return o;
}

PyObject *ext_total(const jst_total *t)
{
	return Py_BuildValue("{s:d,s:d,s:d,s:d,s:n,s:O,s:O}", "energy_j", t->energy_j,
	                     "avg_power_w", t->avg_power_w, "accuracy", t->accuracy,
	                     "uncertainty_j", t->uncertainty_j, "parts", (Py_ssize_t)t->parts,
	                     "estimated", t->estimated ? Py_True : Py_False, "partial",
	                     t->partial ? Py_True : Py_False);
}

PyObject *ext_backend_info(const jst_backend_info *b)
{
	return Py_BuildValue("{s:s,s:s,s:d,s:O,s:s}", "name", b->name, "description",
	                     b->description ? b->description : "", "accuracy", b->accuracy,
	                     "available", b->available ? Py_True : Py_False, "reason",
	                     b->reason ? b->reason : "");
}

PyObject *ext_domain_info(const jst_domain_info *d)
{
	return Py_BuildValue(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:d,s:d,s:d,s:d,s:d,s:O,s:O,s:s}", "name", d->name, "kind",
	    jst_kind_name(d->kind), "device", d->device ? d->device : "", "backend", d->backend,
	    "method", jst_method_name(d->method), "source", d->source ? d->source : "", "accuracy",
	    d->accuracy, "sample_period_s", d->sample_period_s, "refresh_s", d->refresh_s,
	    "resolution_j", d->resolution_j, "max_power_w", d->max_power_w, "primary",
	    d->primary ? Py_True : Py_False, "counted", d->counted ? Py_True : Py_False, "note",
	    d->note ? d->note : "");
}
