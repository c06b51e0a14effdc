"""joulestat: energy of code, with the accuracy of every figure.

A thin ctypes binding over libjoulestat; the arithmetic is the library's.

    from joulestat import Meter
    with Meter(gpus=[0]) as meter:
        meter.begin_window("inference")
        run_inference()
        m = meter.end_window("inference")
    print(m.total_energy, m.gpu_energy, m.time, m.accuracy)

The library is found through $JOULESTAT_LIBRARY, then the system's loader.
"""
import contextlib
import errno
import ctypes
import ctypes.util
import functools
import math
import os

__all__ = ["Meter", "Measurement", "DomainEnergy", "JoulestatError", "library"]

KINDS = ["gpu", "package", "core", "uncore", "dram", "platform", "node", "other"]
METHODS = ["counter", "power", "estimate"]
TOTALS = ["gpu", "cpu", "dram", "total", "system"]


class JoulestatError(OSError):
    """A negative return code from libjoulestat, with its text."""


class _Config(ctypes.Structure):
    _fields_ = [
        ("backends", ctypes.c_char_p),
        ("gpus", ctypes.c_char_p),
        ("sample_period_ms", ctypes.c_uint),
        ("sysfs_root", ctypes.c_char_p),
        ("procfs_root", ctypes.c_char_p),
        ("nvml_library", ctypes.c_char_p),
        ("allow_estimate", ctypes.c_int),
        ("cross_validate", ctypes.c_int),
        ("series_capacity", ctypes.c_size_t),
    ]


class _BackendInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("description", ctypes.c_char_p),
        ("accuracy", ctypes.c_double),
        ("available", ctypes.c_int),
        ("reason", ctypes.c_char_p),
    ]


class _DomainInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("device", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("source", ctypes.c_char_p),
        ("note", ctypes.c_char_p),
        ("kind", ctypes.c_int),
        ("method", ctypes.c_int),
        ("accuracy", ctypes.c_double),
        ("sample_period_s", ctypes.c_double),
        ("refresh_s", ctypes.c_double),
        ("resolution_j", ctypes.c_double),
        ("max_power_w", ctypes.c_double),
        ("refresh_source", ctypes.c_int),
        ("parent", ctypes.c_int),
        ("primary", ctypes.c_int),
    ]


class _DomainEnergy(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("device", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("source", ctypes.c_char_p),
        ("kind", ctypes.c_int),
        ("method", ctypes.c_int),
        ("accuracy", ctypes.c_double),
        ("energy_j", ctypes.c_double),
        ("uncertainty_j", ctypes.c_double),
        ("avg_power_w", ctypes.c_double),
        ("peak_power_w", ctypes.c_double),
        ("samples", ctypes.c_size_t),
        ("note", ctypes.c_char_p),
        ("temperature_max_c", ctypes.c_double),
        ("utilization_mean_pct", ctypes.c_double),
        ("clock_mean_mhz", ctypes.c_double),
        ("power_limit_w", ctypes.c_double),
        ("parent", ctypes.c_int),
        ("primary", ctypes.c_int),
        ("partial", ctypes.c_int),
        ("short_window", ctypes.c_int),
        ("bridged", ctypes.c_int),
    ]


class _Total(ctypes.Structure):
    _fields_ = [
        ("energy_j", ctypes.c_double),
        ("avg_power_w", ctypes.c_double),
        ("accuracy", ctypes.c_double),
        ("uncertainty_j", ctypes.c_double),
        ("parts", ctypes.c_size_t),
        ("estimated", ctypes.c_int),
        ("partial", ctypes.c_int),
    ]


def _load():
    path = os.environ.get("JOULESTAT_LIBRARY") or ctypes.util.find_library("joulestat")
    if not path:
        raise ImportError("libjoulestat not found: install joulestat or set JOULESTAT_LIBRARY")
    lib = ctypes.CDLL(path)
    P, I, Z, D = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_double
    sigs = {
        "jst_version": (ctypes.c_char_p, []),
        "jst_strerror": (ctypes.c_char_p, [I]),
        "jst_config_init": (None, [ctypes.POINTER(_Config)]),
        "jst_meter_open": (I, [ctypes.POINTER(_Config), ctypes.POINTER(P)]),
        "jst_meter_close": (None, [P]),
        "jst_meter_backend_count": (Z, [P]),
        "jst_meter_backend": (I, [P, Z, ctypes.POINTER(_BackendInfo)]),
        "jst_meter_domain_count": (Z, [P]),
        "jst_meter_domain": (I, [P, Z, ctypes.POINTER(_DomainInfo)]),
        "jst_window_begin": (I, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
        "jst_window_end": (I, [P, ctypes.POINTER(P)]),
        "jst_window_cancel": (None, [P]),
        "jst_measurement_name": (ctypes.c_char_p, [P]),
        "jst_measurement_duration": (D, [P]),
        "jst_measurement_partial": (I, [P]),
        "jst_measurement_domain_count": (Z, [P]),
        "jst_measurement_domain": (I, [P, Z, ctypes.POINTER(_DomainEnergy)]),
        "jst_measurement_total": (I, [P, I, ctypes.POINTER(_Total)]),
        "jst_measurement_free": (None, [P]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


library = _load()


def _check(rc):
    if rc < 0:
        raise JoulestatError(-rc, library.jst_strerror(rc).decode())
    return rc


def _s(b):
    return b.decode() if b is not None else None


def _nan_to_none(x):
    return None if math.isnan(x) else x


class DomainEnergy:
    """One domain's figure in a measurement."""

    def __init__(self, d):
        self.name = _s(d.name)
        self.kind = KINDS[d.kind]
        self.device = _s(d.device)
        self.backend = _s(d.backend)
        self.method = METHODS[d.method]
        self.source = _s(d.source)
        self.accuracy = d.accuracy
        self.energy = d.energy_j
        self.uncertainty = d.uncertainty_j
        self.short_window = bool(d.short_window)
        self.bridged = bool(d.bridged)
        self.avg_power = _nan_to_none(d.avg_power_w)
        self.peak_power = _nan_to_none(d.peak_power_w)
        self.samples = d.samples
        self.primary = bool(d.primary)
        self.partial = bool(d.partial)
        self.note = _s(d.note)
        # Telemetry over the sampler's readings in the window; None where none.
        self.temperature_max = _nan_to_none(d.temperature_max_c)
        self.utilization_mean = _nan_to_none(d.utilization_mean_pct)
        self.clock_mean = _nan_to_none(d.clock_mean_mhz)
        self.power_limit = _nan_to_none(d.power_limit_w)

    def __repr__(self):
        return (f"DomainEnergy({self.name!r}, {self.energy:.3f} J ±{self.accuracy:.0%}, "
                f"{self.backend}/{self.source})")


class Measurement:
    """What a window yields. Energies in J, time in s, power in W."""

    def __init__(self, handle):
        lib = library
        self.name = _s(lib.jst_measurement_name(handle))
        self.time = lib.jst_measurement_duration(handle)
        self.partial = bool(lib.jst_measurement_partial(handle))
        self.domains = []
        for i in range(lib.jst_measurement_domain_count(handle)):
            d = _DomainEnergy()
            _check(lib.jst_measurement_domain(handle, i, ctypes.byref(d)))
            self.domains.append(DomainEnergy(d))
        self.totals = {}
        for k, name in enumerate(TOTALS):
            t = _Total()
            _check(lib.jst_measurement_total(handle, k, ctypes.byref(t)))
            if t.parts:
                self.totals[name] = {
                    "energy_j": t.energy_j, "avg_power_w": t.avg_power_w,
                    "accuracy": t.accuracy, "parts": t.parts,
                    "estimated": bool(t.estimated), "partial": bool(t.partial),
                }

    @property
    def total_energy(self):
        """Joules of every component, each device once (system meters excluded)."""
        return self.totals.get("total", {}).get("energy_j", 0.0)

    @property
    def accuracy(self):
        """Relative error class of total_energy (0.05 = ±5%)."""
        return self.totals.get("total", {}).get("accuracy")

    @property
    def gpu_energy(self):
        """{gpu index: joules}, from each GPU's primary figure."""
        return {int(d.name[3:]): d.energy for d in self.domains
                if d.kind == "gpu" and d.primary and d.name[3:].isdigit()}

    @property
    def cpu_energy(self):
        return self.totals.get("cpu", {}).get("energy_j")

    def __repr__(self):
        return f"Measurement({self.name!r}, {self.time:.3f} s, {self.total_energy:.3f} J)"


class Meter:
    """An energy meter: backends probed, sampler running, windows by name."""

    def __init__(self, backends=None, gpus=None, period_ms=0, cross_validate=False,
                 allow_estimate=True, sysfs_root=None, procfs_root=None, nvml_library=None):
        self._h = None  # so that __del__ of a meter that failed to open has nothing to close
        self._named = {}
        cfg = _Config()
        library.jst_config_init(ctypes.byref(cfg))
        self._keep = []  # the C side borrows these strings while opening

        def s(v):
            if v is None:
                return None
            b = str(v).encode()
            self._keep.append(b)
            return b
        cfg.backends = s(",".join(backends) if isinstance(backends, (list, tuple)) else backends)
        cfg.gpus = s(",".join(map(str, gpus)) if isinstance(gpus, (list, tuple)) else gpus)
        cfg.sample_period_ms = period_ms
        cfg.cross_validate = int(cross_validate)
        cfg.allow_estimate = int(allow_estimate)
        cfg.sysfs_root, cfg.procfs_root = s(sysfs_root), s(procfs_root)
        cfg.nvml_library = s(nvml_library)
        handle = ctypes.c_void_p()
        _check(library.jst_meter_open(ctypes.byref(cfg), ctypes.byref(handle)))
        self._h = handle

    @property
    def _live(self):
        """The C handle; a closed meter is a clear error, not a NULL passed on."""
        if not getattr(self, "_h", None):
            raise JoulestatError(errno.EBADF, "the meter is closed")
        return self._h

    def close(self):
        if getattr(self, "_h", None):
            library.jst_meter_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def backends(self):
        out = []
        for i in range(library.jst_meter_backend_count(self._live)):
            b = _BackendInfo()
            _check(library.jst_meter_backend(self._live, i, ctypes.byref(b)))
            out.append({"name": _s(b.name), "description": _s(b.description),
                        "accuracy": b.accuracy, "available": bool(b.available),
                        "reason": _s(b.reason)})
        return out

    def domains(self):
        out = []
        for i in range(library.jst_meter_domain_count(self._live)):
            d = _DomainInfo()
            _check(library.jst_meter_domain(self._live, i, ctypes.byref(d)))
            out.append({"name": _s(d.name), "kind": KINDS[d.kind], "device": _s(d.device),
                        "backend": _s(d.backend), "method": METHODS[d.method],
                        "source": _s(d.source), "accuracy": d.accuracy,
                        "refresh_s": d.refresh_s, "resolution_j": d.resolution_j,
                        "max_power_w": d.max_power_w,
                        "primary": bool(d.primary), "note": _s(d.note)})
        return out

    def _begin(self, name):
        w = ctypes.c_void_p()
        _check(library.jst_window_begin(self._live, name.encode(), ctypes.byref(w)))
        return w

    def _end(self, w):
        handle = ctypes.c_void_p()
        _check(library.jst_window_end(w, ctypes.byref(handle)))
        try:
            return Measurement(handle)
        finally:
            library.jst_measurement_free(handle)

    def begin_window(self, name):
        """Begin a window known by name until end_window(name)."""
        if name in self._named:
            raise JoulestatError(errno.EEXIST, f"a window named {name!r} is already open")
        self._named[name] = self._begin(name)

    def end_window(self, name):
        w = self._named.pop(name, None)
        if w is None:
            raise JoulestatError(errno.ENOENT, f"no open window named {name!r}")
        return self._end(w)

    def cancel_window(self, name):
        w = self._named.pop(name, None)
        if w is None:
            raise JoulestatError(errno.ENOENT, f"no open window named {name!r}")
        library.jst_window_cancel(w)

    @contextlib.contextmanager
    def window(self, name):
        """with meter.window("prefill") as w: ...   then w.measurement
        Each use opens a window of its own: re-entrant and thread-safe."""
        holder = type("Window", (), {"measurement": None})()
        w = self._begin(name)
        try:
            yield holder
        finally:
            holder.measurement = self._end(w)

    def measure(self, name=None):
        """Decorator: each call runs in a window; the last measurement is on
        the wrapper as .last_measurement."""
        def deco(fn):
            label = name or fn.__qualname__

            @functools.wraps(fn)
            def wrapper(*a, **kw):
                with self.window(label) as w:
                    result = fn(*a, **kw)
                wrapper.last_measurement = w.measurement
                return result
            wrapper.last_measurement = None
            return wrapper
        return deco
