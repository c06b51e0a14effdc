"""The EnergyBackend protocol of the seed's tool (llenergymeasure), served by
joulestat, and a small registry.

    from joulestat.backend import get_energy_backend
    backend = get_energy_backend("joulestat")
    if backend.is_available():
        tracker = backend.start_tracking()
        run_inference()
        metrics = backend.stop_tracking(tracker)
        metrics.total_energy_j, metrics.per_device, metrics.duration_s,
        metrics.method, metrics.accuracy

Other backends register with register_energy_backend(name, factory).
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Protocol, runtime_checkable

from . import JoulestatError, Meter, _type_name

__all__ = ["EnergyBackend", "EnergyMetrics", "JoulestatBackend", "get_energy_backend",
           "register_energy_backend", "energy_backends"]


@dataclass
class EnergyMetrics:
    """What stop_tracking returns. Energies in J; accuracy is the relative
    uncertainty of total_energy_j (0.05 = 5%)."""

    total_energy_j: float
    duration_s: float
    per_device: Dict[str, float] = field(default_factory=dict)  # domain name -> J
    gpu_energy_j: Optional[float] = None
    cpu_energy_j: Optional[float] = None
    dram_energy_j: Optional[float] = None
    method: str = ""          # e.g. "nvml/energy-counter, rapl/powercap"
    accuracy: Optional[float] = None
    uncertainty_j: Optional[float] = None
    estimated: bool = False   # some part is a model, not a measurement
    partial: bool = False     # a device failed during the span
    backend: str = "joulestat"
    measurement: Any = None   # the joulestat.Measurement behind it

    @property
    def avg_power_w(self):
        return self.total_energy_j / self.duration_s if self.duration_s > 0 else None


@runtime_checkable
class EnergyBackend(Protocol):
    """The seed's protocol: an energy backend behind one interface."""

    @property
    def name(self) -> str: ...

    def start_tracking(self) -> Any: ...

    def stop_tracking(self, tracker: Any) -> EnergyMetrics: ...

    def is_available(self) -> bool: ...


def metrics_from(m):
    """EnergyMetrics of a joulestat.Measurement."""
    per, methods = {}, []
    for d in m.domains:
        if d.primary:
            per[d.name] = d.energy
            label = f"{d.backend}/{d.source}"
            if label not in methods:
                methods.append(label)
    total = m.totals.get("total")
    gpu = m.totals.get("gpu")
    return EnergyMetrics(
        total_energy_j=m.total_energy, duration_s=m.time, per_device=per,
        gpu_energy_j=gpu["energy_j"] if gpu else None, cpu_energy_j=m.cpu_energy,
        dram_energy_j=m.dram_energy, method=", ".join(methods), accuracy=m.accuracy,
        uncertainty_j=total["uncertainty_j"] if total else None,
        estimated=bool(total and total["estimated"]), partial=m.partial, measurement=m)


class JoulestatBackend:
    """EnergyBackend measured by joulestat: each start_tracking opens a window
    of its own, so trackers may nest, overlap and run on many threads.
    Settings (backends=, gpus=, ...) go to joulestat.Meter; meter= shares one."""

    def __init__(self, meter=None, **meter_settings):
        if meter is not None and not isinstance(meter, Meter):
            raise TypeError(f"meter must be a joulestat.Meter, not {_type_name(meter)}")
        self._meter = meter
        self._given = meter is not None  # then it is the only meter this backend uses
        self._settings = meter_settings
        self._why = None

    @property
    def name(self):
        return "joulestat"

    def _get_meter(self):
        if self._given:
            # Another meter would measure another selection: never substitute one.
            if self._meter.closed:
                raise RuntimeError("the meter given to JoulestatBackend is closed: give an "
                                   "open joulestat.Meter, or settings instead of meter=")
            return self._meter
        if self._meter is None or self._meter.closed:
            self._meter = Meter(**self._settings)
        return self._meter

    def is_available(self):
        """True when at least one device can be measured (or estimated, unless
        allow_estimate=False); why_unavailable says why not."""
        try:
            m = self._get_meter()
        except (JoulestatError, ValueError, RuntimeError) as e:
            self._why = str(e)
            return False
        if m.domains():
            return True
        self._why = "; ".join(f"{b['name']}: {b['reason']}" for b in m.backends())
        return False

    @property
    def why_unavailable(self):
        return self._why

    def start_tracking(self):
        return self._get_meter().window("tracking")

    def stop_tracking(self, tracker):
        from . import Window
        if not isinstance(tracker, Window):
            raise TypeError(f"tracker must be what start_tracking returned (a "
                            f"joulestat.Window), not {_type_name(tracker)}")
        return metrics_from(tracker.end())

    def close(self):
        if self._meter is not None:
            self._meter.close()


_REGISTRY: Dict[str, Callable[..., Any]] = {"joulestat": JoulestatBackend}


def register_energy_backend(name, factory):
    """Make get_energy_backend(name) return factory(**settings)."""
    if not isinstance(name, str) or not name:
        raise TypeError("name must be a non-empty str")
    if not callable(factory):
        raise TypeError(f"factory must be callable, not {_type_name(factory)}")
    _REGISTRY[name] = factory


def energy_backends():
    """The registered names."""
    return sorted(_REGISTRY)


def get_energy_backend(name="joulestat", **settings):
    """A backend by name; settings go to its constructor."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {_type_name(name)}")
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"name: no energy backend {name!r}; accepted: "
                         f"{', '.join(energy_backends())}") from None
    return factory(**settings)
