"""CodeCarbon's five ways in, for energy: a decorator, a context manager,
explicit start/stop, a background tracker writing a CSV row per period, and the
command line (python3 -m joulestat run -- CMD, see __main__.py).

    from joulestat import EnergyTracker, track_energy

    @track_energy                                   # 1. decorator
    def train(): ...

    with EnergyTracker("eval") as t:                # 2. context manager
        evaluate()
    print(t.measurement.total_energy)

    t = EnergyTracker("serve")                      # 3. explicit
    t.start(); serve(); m = t.stop()

    t = EnergyTracker("job", period_s=10, output_file="energy.csv")   # 4. background
    t.start(); run(); t.stop()                      # a row every 10 s, then the rest

Trackers share one meter per process (default_meter()) unless given a meter or
meter settings of their own. Rows come from Window.rotate: consecutive rows
tile the run exactly, so their energies add up to the whole.
"""
import csv
import functools
import os
import threading
import time

from . import Meter, _measured, _type_name

__all__ = ["EnergyTracker", "track_energy", "default_meter", "CSV_FIELDS"]

CSV_FIELDS = ["timestamp", "label", "row", "duration_s", "energy_j", "gpu_energy_j",
              "cpu_energy_j", "dram_energy_j", "accuracy", "partial"]

_default = None
_default_lock = threading.Lock()


def default_meter():
    """The process's shared Meter (every backend, default settings), opened on
    first use and closed at exit."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            import atexit
            _default = Meter()
            atexit.register(_default.close)
        return _default


def _row(label, index, m):
    def j(x):
        return "" if x is None else repr(x)
    gpu = m.totals.get("gpu")
    return {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "label": label, "row": index, "duration_s": repr(m.time),
            "energy_j": repr(m.total_energy),
            "gpu_energy_j": j(gpu["energy_j"] if gpu else None),
            "cpu_energy_j": j(m.cpu_energy), "dram_energy_j": j(m.dram_energy),
            "accuracy": j(m.accuracy), "partial": int(m.partial)}


class _CsvSink:
    """Rows appended to a CSV file, with a header when the file is new. The file
    is opened for each row, so that a killed run keeps every row written and a
    decorator holds no file open. A row that cannot be written is warned about
    once and no more rows are written: the log never costs the measurement nor
    the measured program's result."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.lock = threading.Lock()
        self.failed = None  # the OSError that stopped the rows
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            self._append(None)

    def _append(self, row):
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            if row is None:
                w.writeheader()
            else:
                w.writerow(row)

    def write(self, row):
        with self.lock:
            if self.failed is not None:
                return
            try:
                self._append(row)
            except OSError as e:
                self.failed = e
                import warnings
                warnings.warn(f"joulestat: cannot write to {self.path!r} ({e}); no more rows "
                              "are written there, the measurement is kept",
                              RuntimeWarning, stacklevel=2)

    def close(self):
        pass


class EnergyTracker:
    """Measure a span of a program: start()/stop(), or `with`, or as a
    decorator (each call its own window). With period_s, a background thread
    ends a row every period_s seconds (Window.rotate) and writes it to
    output_file (CSV, appended; fields in CSV_FIELDS) and to .rows.

    EnergyTracker(label="joulestat", *, period_s=None, output_file=None,
                  meter=None, **meter_settings)
    """

    def __init__(self, label="joulestat", *, period_s=None, output_file=None, meter=None,
                 **meter_settings):
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, not {_type_name(label)}")
        if period_s is not None:
            if isinstance(period_s, bool) or not isinstance(period_s, (int, float)):
                raise TypeError(f"period_s must be a number of seconds or None, not "
                                f"{_type_name(period_s)}")
            if not period_s > 0 or period_s == float("inf"):
                raise ValueError(f"period_s: {period_s!r} is not a positive finite number "
                                 "of seconds")
        if output_file is not None:
            try:
                os.fspath(output_file)
            except TypeError:
                raise TypeError(f"output_file must be a path (str or os.PathLike), not "
                                f"{_type_name(output_file)}") from None
        if meter is not None and not isinstance(meter, Meter):
            raise TypeError(f"meter must be a joulestat.Meter, not {_type_name(meter)}")
        if meter is not None and meter_settings:
            raise TypeError("give either meter or meter settings "
                            f"({', '.join(meter_settings)}), not both")
        self.label = label
        self.period_s = period_s
        self.output_file = output_file
        self._meter = meter
        self._settings = meter_settings
        self._own_meter = False
        self._window = None   # the whole span
        self._rowwin = None   # the current row, rotated each period
        self._thread = None
        self._stop = None
        self._sink = None
        self.rows = []
        self.measurement = None

    @property
    def running(self):
        return self._window is not None

    def start(self):
        """Begin measuring; returns self."""
        if self._window is not None:
            raise RuntimeError(f"tracker {self.label!r} is already started")
        if self._meter is None:
            if self._settings:
                self._meter = Meter(**self._settings)
                self._own_meter = True
            else:
                self._meter = default_meter()
        self.rows = []
        self.measurement = None
        if self.output_file is not None:
            self._sink = _CsvSink(self.output_file)
        self._window = self._meter.window(self.label)
        if self.period_s is not None:
            self._rowwin = self._meter.window(self.label)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="joulestat-tracker",
                                            daemon=True)
            self._thread.start()
        return self

    def _emit(self, m):
        self.rows.append(m)
        if self._sink is not None:
            self._sink.write(_row(self.label, len(self.rows) - 1, m))

    def _run(self):
        # Deadlines, not sleeps: rows stay on the period however long a write takes.
        next_t = time.monotonic() + self.period_s
        while not self._stop.wait(max(0.0, next_t - time.monotonic())):
            self._emit(self._rowwin.rotate())
            next_t += self.period_s
            now = time.monotonic()
            if next_t < now:  # stalled past a whole period: skip, never burst
                next_t = now + self.period_s

    def stop(self):
        """End the span and return its Measurement (also kept as .measurement).
        With period_s, the last (shorter) row is written first."""
        if self._window is None:
            raise RuntimeError(f"tracker {self.label!r} is not started")
        try:
            if self._thread is not None:
                self._stop.set()
                self._thread.join()
                self._thread = None
                self._emit(self._rowwin.end())
                self._rowwin = None
            self.measurement = self._window.end()
            if self._sink is not None and self.period_s is None:
                self._emit(self.measurement)
        finally:
            self._window = None
            if self._sink is not None:
                self._sink.close()
                self._sink = None
            if self._own_meter:
                self._meter.close()
                self._meter = None
                self._own_meter = False
        return self.measurement

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def __call__(self, fn):
        """As a decorator: each call is measured in a window of its own (the
        tracker's settings; re-entrant and thread-safe)."""
        return track_energy(fn, label=self.label, output_file=self.output_file,
                            meter=self._meter, **self._settings)


def track_energy(fn=None, *, label=None, output_file=None, meter=None, callback=None,
                 **meter_settings):
    """Decorator: each call runs in a window of its own, recursive and
    concurrent calls included. wrapper.last_measurement is the call that ended
    last; callback(measurement) sees every call; output_file gets a CSV row per
    call. Usable bare (@track_energy) or with arguments. An async def function
    is measured until its coroutine completes, a generator (or async
    generator) function over its whole iteration."""
    if fn is None:
        return functools.partial(track_energy, label=label, output_file=output_file,
                                 meter=meter, callback=callback, **meter_settings)
    if not callable(fn):
        raise TypeError(f"track_energy decorates a callable, not {_type_name(fn)}")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, not {_type_name(label)}")
    if meter is not None and not isinstance(meter, Meter):
        raise TypeError(f"meter must be a joulestat.Meter, not {_type_name(meter)}")
    name = label or getattr(fn, "__qualname__", "call")
    sink = _CsvSink(output_file) if output_file is not None else None
    count = [0]
    own = Meter(**meter_settings) if meter_settings else None

    def on_end(m):
        if sink is not None:
            count[0] += 1
            sink.write(_row(name, count[0] - 1, m))
        if callback is not None:
            callback(m)

    def begin(label):
        # The meter is looked up per call, so that decorating at import opens nothing.
        return (meter or own or default_meter()).window(label)

    # A meter known now is used directly: no call more than the window's own.
    return _measured(fn, (meter or own).window if meter or own else begin, name,
                     on_end if sink is not None or callback is not None else None)
