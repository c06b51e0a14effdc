"""joulestat: energy of code, with the accuracy of every figure.

    import joulestat
    with joulestat.Meter(gpus=[0]) as meter:
        meter.begin_window("inference")          # as in Zeus
        run_inference()
        m = meter.end_window("inference")
        with meter.window("prefill") as w:       # a window of its own per use
            run_prefill()
    print(m.total_energy, m.gpu_energy, m.time, m.accuracy, w.measurement)

The meter, its windows and measurements live in the C extension joulestat._ext
(the library compiled in); a Measurement decodes a field when it is first read.
Also here, loaded on first use: joulestat.zeus (a drop-in ZeusMonitor),
joulestat.backend (the EnergyBackend protocol and its registry) and
joulestat.tracker (CodeCarbon's modes: EnergyTracker, track_energy).
This module imports nothing beyond the extension, so that a process reaches its
first measurement quickly.
"""
from . import _ext
from ._ext import DomainEnergy, JoulestatError, Measurement, Window

__version__ = _ext.version()
__all__ = ["Meter", "Measurement", "Window", "DomainEnergy", "JoulestatError", "__version__",
           "EnergyTracker", "track_energy", "default_meter", "get_energy_backend"]

_EINVAL = 22
_UINT_MAX = 2**32 - 1
_PERIOD_MS_MAX = 3600000  # an hour: the library's period_ms range

# Names served by the submodules, imported on first access (PEP 562).
_LAZY = {
    "EnergyTracker": "tracker", "track_energy": "tracker", "default_meter": "tracker",
    "get_energy_backend": "backend", "EnergyBackend": "backend", "EnergyMetrics": "backend",
    "register_energy_backend": "backend",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'joulestat' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module("." + mod, __name__), name)


def _type_name(v):
    return type(v).__name__


def _list_arg(arg, value, what, allow_int):
    """A comma list from a str or a list/tuple of str (and int where allowed)."""
    if isinstance(value, str):
        items = [s.strip() for s in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = []
        for v in value:
            if allow_int and isinstance(v, int) and not isinstance(v, bool):
                if v < 0:
                    raise ValueError(f"{arg}: GPU index {v} is negative; accepted: {what}")
                items.append(str(v))
            elif isinstance(v, str):
                items.append(v.strip())
            else:
                raise TypeError(f"{arg}: an entry is {_type_name(v)} ({v!r}); accepted: {what}")
    elif allow_int and isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{arg}: GPU index {value} is negative; accepted: {what}")
        items = [str(value)]
    else:
        raise TypeError(f"{arg} must be {what}, not {_type_name(value)}")
    if not items or any(not s or "," in s for s in items):
        raise ValueError(f"{arg}: {value!r} has an empty entry; accepted: {what}")
    return ",".join(items)


def _flag(arg, value):
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return "1" if value else "0"
    raise TypeError(f"{arg} must be a bool, not {_type_name(value)} ({value!r})")


def _path(arg, value):
    import os
    try:
        p = os.fspath(value)
    except TypeError:
        raise TypeError(f"{arg} must be a str or os.PathLike path, not {_type_name(value)}") \
            from None
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if not p or "\0" in p:
        raise ValueError(f"{arg}: {value!r} is not a usable path")
    return p


def _measured(fn, begin, arg, after):
    """fn wrapped so that each call runs in a window of its own: begin(arg)
    opens it; at the end the wrapper keeps the measurement as
    .last_measurement and hands it to after (or None). A coroutine function
    is measured from its first step to its completion (an async wrapper
    awaiting it), a generator or an async generator over its whole
    iteration, from the first item asked for to its exhaustion or close: what
    the call spends, not the creation of the object that will spend it. The
    plain wrapper calls nothing more than the window's own two calls."""
    import functools
    import inspect

    def done(w):
        m = w.end()
        wrapper.last_measurement = m
        if after is not None:
            after(m)

    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            agen = fn(*args, **kwargs)
            w = begin(arg)
            try:
                # Delegation by hand (async generators have no `yield from`):
                # values sent and exceptions thrown in reach fn's generator.
                try:
                    item = await agen.__anext__()
                except StopAsyncIteration:
                    return
                while True:
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as e:  # thrown in: fn's to handle
                        try:
                            item = await agen.athrow(e)
                        except StopAsyncIteration:
                            return
                    else:
                        try:
                            item = await agen.asend(sent)
                        except StopAsyncIteration:
                            return
            finally:
                done(w)
    elif inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            w = begin(arg)
            try:
                return (yield from gen)
            finally:
                done(w)
    elif inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            w = begin(arg)
            try:
                return await fn(*args, **kwargs)
            finally:
                done(w)
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            w = begin(arg)
            try:
                return fn(*args, **kwargs)
            finally:
                m = w.end()
                wrapper.last_measurement = m
                if after is not None:
                    after(m)
    wrapper.last_measurement = None
    return wrapper


def _known_backends():
    """Every backend the library has, from a meter that probes only the cheapest."""
    m = _ext.Meter({"backends": "estimate"})
    try:
        return [b["name"] for b in m.backends()]
    finally:
        m.close()


def _explain(opts, err):
    """The setting behind an EINVAL from jst_meter_open, as a ValueError."""
    names = opts.get("backends")
    if names:
        known = _known_backends()
        bad = [n for n in names.split(",") if n not in known]
        if bad:
            return ValueError(f"backends: unknown backend {bad[0]!r}; accepted: "
                              f"{', '.join(known)} (a list, or a comma-separated str)")
    if "gpus" in opts:
        return ValueError(f"gpus: {opts['gpus']!r} does not select GPUs ({err.strerror}); "
                          "accepted: indices (0 or [0, 2]) and GPU UUIDs or their prefixes")
    return ValueError(f"the meter's settings were refused: {err.strerror} "
                      f"(settings: {opts})")


class Meter(_ext.Meter):
    """An energy meter: backends probed, sampler running, windows open.

    Meter(backends=None, gpus=None, period_ms=0, cross_validate=False,
          allow_estimate=True, sysfs_root=None, procfs_root=None,
          nvml_library=None, options=None)

    backends: names to try ("nvml", "rapl", "estimate"), a list or a
        comma-separated str; None tries all.
    gpus: GPU indices or UUIDs (list, int or comma-separated str); None means
        CUDA_VISIBLE_DEVICES when set, else every GPU.
    period_ms: sampler period, 0 for the default (100 ms).
    options: further settings by name, {"nvml.library": path, ...}.

    Windows: begin_window(name)/end_window(name) as in Zeus (one open window per
    name); window(name) returns a Window of its own (a context manager), so that
    the same name may be open many times at once; measure(name) is a decorator
    that is re-entrant and thread-safe.
    """

    def __init__(self, backends=None, gpus=None, period_ms=0, cross_validate=False,
                 allow_estimate=True, sysfs_root=None, procfs_root=None, nvml_library=None,
                 options=None, settle=True):
        if not isinstance(settle, bool):
            raise TypeError(f"settle must be a bool, not {_type_name(settle)}")
        opts = {}
        if backends is not None:
            opts["backends"] = _list_arg("backends", backends,
                                         "backend names (a list of str or a comma-separated "
                                         "str, e.g. ['nvml', 'rapl'])", False)
        if gpus is not None:
            opts["gpus"] = _list_arg("gpus", gpus, "GPU indices (int) or UUIDs (str), a list "
                                     "or a comma-separated str", True)
        if not isinstance(period_ms, int) or isinstance(period_ms, bool):
            raise TypeError(f"period_ms must be an int (milliseconds, 0 for the default), "
                            f"not {_type_name(period_ms)}")
        if not 0 <= period_ms <= _PERIOD_MS_MAX:
            raise ValueError(f"period_ms: {period_ms} is out of range; accepted: 0 (the "
                             f"default, 100 ms) to {_PERIOD_MS_MAX} milliseconds")
        if period_ms:
            opts["period_ms"] = str(period_ms)
        opts["cross_validate"] = _flag("cross_validate", cross_validate)
        opts["allow_estimate"] = _flag("allow_estimate", allow_estimate)
        for arg, key, value in (("sysfs_root", "sysfs.root", sysfs_root),
                                ("procfs_root", "procfs.root", procfs_root),
                                ("nvml_library", "nvml.library", nvml_library)):
            if value is not None:
                opts[key] = _path(arg, value)
        if options is not None:
            if not isinstance(options, dict):
                raise TypeError(f"options must be a dict of setting name to value, not "
                                f"{_type_name(options)}")
            for k, v in options.items():
                if not isinstance(k, str):
                    raise TypeError(f"options: a setting name is {_type_name(k)}, not str")
                opts[k] = v if isinstance(v, str) else str(v)
        try:
            super().__init__(opts)
        except JoulestatError as e:
            if e.errno == _EINVAL:
                raise _explain(opts, e) from None
            raise
        if settle:
            # A counter whose refresh the hardware does not state (NVML) is
            # measured in the meter's first second: windows begun before are
            # measured too, but less precisely. settle=False skips the wait.
            try:
                self.settle(2000)
            except JoulestatError:
                pass  # still measuring: figures say so in their uncertainty

    def measure(self, name=None, *, callback=None):
        """Decorator: every call runs in a window of its own (recursive and
        concurrent calls included). The wrapper keeps the measurement of the call
        that ended last as .last_measurement; callback(measurement) sees each.
        An async def function is measured until its coroutine completes, a
        generator (or async generator) function over its whole iteration."""
        if callable(name):  # bare @meter.measure
            return self.measure()(name)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {_type_name(name)}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {_type_name(callback)}")

        def deco(fn):
            return _measured(fn, self.window, name or getattr(fn, "__qualname__", "call"),
                             callback)
        return deco

    def __repr__(self):
        if self.closed:
            return "<joulestat.Meter closed>"
        return f"<joulestat.Meter {', '.join(d['name'] for d in self.domains())}>"
