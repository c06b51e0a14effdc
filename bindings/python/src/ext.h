/*
 * joulestat._ext: the CPython extension behind the joulestat package. This
 * header is what its files share: the three object types, the error helpers,
 * and the two places that know the C library's struct layouts (config.c builds
 * a jst_config; mirror.c turns the public result structs into Python objects).
 */
#ifndef JST_PY_EXT_H
#define JST_PY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "joulestat.h"

typedef struct {
	PyObject_HEAD jst_meter *meter;
	PyObject *named;    /* dict: name -> jst_window * (an int), for begin_window */
	PyObject *gpu_keys; /* dict: NVML index -> key of gpu_energy, or NULL */
	long busy;          /* calls in flight with the GIL released; close waits */
	int closing;        /* close has begun: no new call starts */
	int release_gil;    /* readings are slow: let other threads run meanwhile */
	int64_t slow_at_ns; /* when a call last took long (0: never) */
	PyObject *weakrefs;
} ext_meter;

typedef struct {
	PyObject_HEAD ext_meter *owner; /* strong: the meter outlives its windows */
	jst_window *window;             /* NULL once ended or cancelled */
	PyObject *label;
	PyObject *measurement; /* set by __exit__ */
} ext_window;

typedef struct {
	PyObject_HEAD jst_measurement *ms;
	PyObject *gpu_keys; /* borrowed from the meter at end, strong here */
	/* Decoded on first access, then kept. */
	PyObject *name;
	PyObject *gpu_energy;
	PyObject *domains;
	PyObject *totals;
} ext_measurement;

extern PyTypeObject ext_meter_type;
extern PyTypeObject ext_window_type;
extern PyTypeObject ext_measurement_type;
extern PyObject *ext_error; /* joulestat.JoulestatError, an OSError */

/* Around every call that reads the devices. The GIL is released only where a
 * reading is slow enough for other Python threads to gain from it (a real GPU
 * read takes microseconds): handing the GIL over and back costs about 70 ns,
 * as much as a whole reading of a fast sensor. Every call is timed: one that
 * took long has the GIL released for every call of the next second. Not a
 * sample of the calls: most edges of a settled meter read no device at all
 * (edges between latches, docs/sensor-model.md) and take 0.1 us, and a
 * sample of them would keep the GIL through the reads that do come, each a
 * refresh apart. busy tells close to wait for the call. */
#define EXT_SLOW_READ_NS 5000
#define EXT_SLOW_KEEP_NS 1000000000LL

typedef struct {
	PyThreadState *ts; /* non-NULL while the GIL is released */
	int64_t t0;        /* start */
} ext_read;

int64_t ext_now_ns(void);

static inline ext_read ext_read_begin(ext_meter *m)
{
	ext_read r = {NULL, ext_now_ns()};
	m->busy++;
	if (m->release_gil)
		r.ts = PyEval_SaveThread();
	return r;
}

static inline void ext_read_end(ext_meter *m, ext_read r)
{
	if (r.ts)
		PyEval_RestoreThread(r.ts);
	m->busy--;
	int64_t now = ext_now_ns();
	if (now - r.t0 > EXT_SLOW_READ_NS)
		m->slow_at_ns = now;
	m->release_gil = m->slow_at_ns && now - m->slow_at_ns < EXT_SLOW_KEEP_NS;
}

/* Raise JoulestatError(errno, text) for a negative code; returns NULL. */
PyObject *ext_raise(int code);
PyObject *ext_raise_msg(int err, const char *fmt, ...);
/* A whole-number argument named arg, from min to max (unit: what it counts,
 * for the message): 0 and *out, or -1 with TypeError (not an int, or a bool)
 * or ValueError (out of range) naming arg and the accepted range. Never
 * narrowed: 2**32 + 5 is out of range, not 5. */
int ext_int_arg(PyObject *v, const char *arg, long long min, long long max, const char *unit,
                long long *out);

/* config.c: the only place that builds a jst_config. options maps setting
 * names to str values; keep receives the bytes objects the config borrows,
 * which must live until jst_meter_open returns. 0, or -1 with an exception. */
int ext_config_build(jst_config *cfg, PyObject *options, PyObject *keep);

/* mirror.c: the only place that reads the public result structs. */
int ext_mirror_init(PyObject *module);
PyObject *ext_domain_energy(const jst_domain_energy *d);
PyObject *ext_total(const jst_total *t);
PyObject *ext_backend_info(const jst_backend_info *b);
PyObject *ext_domain_info(const jst_domain_info *d);
/* Zero a public struct before the library fills it (the size field, once the
 * header has one, is set here). */
/* Zeroed, and sized: the library fills what the size covers. */
#define EXT_STRUCT_INIT(x) (memset(&(x), 0, sizeof(x)), (x).size = sizeof(x))

/* measurement.c */
PyObject *ext_measurement_new(jst_measurement *ms, PyObject *gpu_keys);

/* window.c */
PyObject *ext_window_new(ext_meter *owner, jst_window *w, PyObject *label);
/* End, rotate or cancel the window in *slot (set to NULL once it is freed).
 * Returns the Measurement (None for cancel), or NULL with an exception. */
/* EXT_END_SETTLED: jst_window_end_settled (end_window(name, settle=True)). */
enum { EXT_END, EXT_ROTATE, EXT_CANCEL, EXT_END_SETTLED };
PyObject *ext_finish(ext_meter *owner, jst_window **slot, int how);

/* meter.c: the C handle of an open meter, or NULL with EBADF raised. */
jst_meter *ext_meter_live(ext_meter *m);

#endif
