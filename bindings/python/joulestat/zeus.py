"""A drop-in for Zeus's ZeusMonitor (zeus.monitor, Zeus 0.16), measured by joulestat.

    from joulestat.zeus import ZeusMonitor      # instead of: from zeus.monitor import ...
    monitor = ZeusMonitor(gpu_indices=[0])
    monitor.begin_window("inference")
    run_inference()
    m = monitor.end_window("inference")
    m.time, m.gpu_energy, m.cpu_energy, m.dram_energy, m.total_energy

As in Zeus: GPU indices are CUDA ordinals (under CUDA_VISIBLE_DEVICES, index 1 of
"2,3" is GPU 3), window names are unique while open, begin/end synchronise CUDA
work through torch, JAX or CuPy, cancel=True returns zeros, log_file gets a CSV
row per window, and total_energy is the GPUs' energy. As Zeus, NVIDIA GPUs are measured where
there are any (through DCGM where it runs, else NVML: the meter's best method),
else AMD GPUs (AMD SMI), keyed by HIP index (after HIP_VISIBLE_DEVICES, else
CUDA_VISIBLE_DEVICES); a repeated index is one GPU, counted once. Unlike Zeus: when no
framework can be imported there is nothing to synchronise and windows are not
refused; windows are read by libjoulestat (GPU counters extended past their
wraps, short windows and resets handled), and the full joulestat figure of the
last window (accuracy, CPU estimate, per-domain detail) is on
monitor.last_joulestat_measurement.
"""
import os
import time
from dataclasses import dataclass, field
from functools import cached_property

from . import JoulestatError, Meter

__all__ = ["ZeusMonitor", "Measurement", "sync_execution"]


@dataclass
class Measurement:
    """Zeus's Measurement: time in s, energies in J, keyed by GPU (CUDA
    ordinal) and CPU package index; cpu_energy/dram_energy are None where not
    measured."""

    time: float
    gpu_energy: dict = field(default_factory=dict)
    cpu_energy: "dict | None" = None
    dram_energy: "dict | None" = None
    soc_energy: None = None

    @cached_property
    def total_energy(self):
        """The GPUs' energy (J), as Zeus defines it."""
        return sum(self.gpu_energy.values())


_FRAMEWORKS = ("torch", "jax", "cupy")


def _import(name):
    """The framework module, or None when it cannot be imported."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _sync_torch(torch, devices):
    if not torch.cuda.is_available():
        return False
    for d in devices:
        torch.cuda.synchronize(d)
    return True


def _sync_jax(jax, devices):
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:  # no GPU backend: nothing runs asynchronously on a GPU
        return False
    futures = [jax.device_put(0.0, device=gpus[d]) + 0 for d in devices]
    futures.append(jax.device_put(0.0, device=jax.devices("cpu")[0]) + 0)
    jax.block_until_ready(futures)
    return True


def _sync_cupy(cupy, devices):
    for d in devices:
        cupy.cuda.Device(d).synchronize()
    return True


_SYNC = {"torch": _sync_torch, "jax": _sync_jax, "cupy": _sync_cupy}


def sync_execution(gpu_devices, sync_with="torch"):
    """Wait for the work queued on these GPUs (CUDA ordinals) through the named
    framework. Returns True when it synchronised, False when the framework
    cannot be imported or has no GPU (then there is nothing to wait for)."""
    if sync_with not in _SYNC:
        raise ValueError(f"sync_with: {sync_with!r} is not one of {', '.join(_FRAMEWORKS)}")
    mod = _import(sync_with)
    return False if mod is None else _SYNC[sync_with](mod, list(gpu_devices))


# The GPU backends of each vendor, and how their domains are named: NVIDIA GPUs
# as gpu<NVML index> (DCGM where it runs, else NVML: the meter keeps the most
# accurate), AMD GPUs as amdgpu<AMD SMI index>. Zeus takes NVIDIA's where there
# are any, else AMD's.
_VENDORS = {"nvidia": (["dcgm", "nvml"], "gpu"), "amd": (["amdsmi"], "amdgpu")}


def _gpu_index(name, prefix):
    """N of a GPU domain named <prefix>N, else None."""
    rest = name[len(prefix):]
    return int(rest) if name.startswith(prefix) and rest.isdigit() else None


def _gpu_table(probe, vendor="nvidia", measured_by=None):
    """[(index, UUID)] of every GPU of vendor that the meter sees ([] when none
    or no library), from a meter that is opened and closed at once: through
    each of the vendor's backends in turn, the cheapest to open first (NVML,
    then DCGM, whose host engine takes longest to start). The backend that
    sees them is added to measured_by (a list) if given."""
    backends, prefix = _VENDORS[vendor]
    for backend in reversed(backends):
        try:
            m = Meter(backends=[backend], gpus="all", allow_estimate=False, settle=False,
                      **probe)
        except JoulestatError:
            continue
        try:
            table = [(_gpu_index(d["name"], prefix), d["device"].partition(":")[2])
                     for d in m.domains() if d["kind"] == "gpu" and d["primary"]
                     and _gpu_index(d["name"], prefix) is not None]
        finally:
            m.close()
        if table:
            if measured_by is not None:
                measured_by.append(backend)
            return table
    return []


def _by_uuid(table, prefix):
    """The NVML index of the one GPU whose UUID starts with prefix (CUDA takes
    unique prefixes), None when none or several do."""
    found = [i for i, uuid in table if uuid and uuid.startswith(prefix)]
    exact = [i for i, uuid in table if uuid == prefix]
    return exact[0] if exact else found[0] if len(found) == 1 else None


def _by_mig(entry, table, probe):
    """The NVML index of the GPU that holds MIG instance entry, None when no
    GPU does: energy is only measured per whole GPU."""
    if entry.startswith("MIG-GPU-"):  # the old form, MIG-GPU-<uuid>/<gi>/<ci>, names it
        return _by_uuid(table, entry[4:].partition("/")[0])
    # Only NVML knows a MIG instance's GPU: the library asks it (as the CLI does).
    try:
        m = Meter(backends="nvml", gpus=entry, allow_estimate=False, settle=False, **probe)
    except (JoulestatError, ValueError):
        return None
    try:
        return next((int(d["name"][3:]) for d in m.domains() if d["kind"] == "gpu"
                     and d["primary"] and d["name"][3:].isdigit()), None)
    finally:
        m.close()


def _visible_devices(probe, table):
    """CUDA_VISIBLE_DEVICES as the CUDA runtime reads it, each entry as the
    NVML index of the GPU it names (a MIG instance: the GPU holding it), up to
    the first entry that names no GPU, is an ambiguous UUID prefix or repeats
    a GPU; None when unset. table: _gpu_table's NVIDIA GPUs. Raises ValueError
    when entries are given but the first names no GPU: a monitor never
    measures nothing silently."""
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is None:
        return None
    entries = [e.strip() for e in cvd.split(",")]
    if entries == [""]:
        return []  # set but empty: CUDA sees no GPU
    out = []
    for e in entries:
        if e.isdigit():
            i = int(e) if any(int(e) == k for k, _ in table) else None
        elif e.startswith("MIG-"):
            i = _by_mig(e, table, probe)
        else:
            i = _by_uuid(table, e) if e else None
        if i is None or i in out:
            break
        out.append(i)
    if not out:
        raise ValueError(f"CUDA_VISIBLE_DEVICES={cvd!r} names no GPU that DCGM or NVML sees "
                         f"({len(table)} GPU(s)): its first entry {entries[0]!r} matches "
                         "none; nvidia-smi -L lists this machine's GPUs")
    return out


def _hip_visible_devices(probe):
    """HIP_VISIBLE_DEVICES (else CUDA_VISIBLE_DEVICES) as HIP and Zeus read it on
    AMD GPUs: GPU indices, the visible ones renumbered from 0 in order, up to
    the first entry that names no GPU or repeats one; None when neither is
    set, [] when set but empty. Raises ValueError for an entry that is no
    index, or when the first names no GPU."""
    var = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in os.environ else \
        "CUDA_VISIBLE_DEVICES"
    val = os.environ.get(var)
    if val is None:
        return None, var
    entries = [e.strip() for e in val.split(",")]
    if entries == [""]:
        return [], var
    bad = [e for e in entries if not e.isdigit()]
    if bad:
        raise ValueError(f"{var}={val!r}: {bad[0]!r} is not a GPU index; on AMD GPUs it "
                         "lists indices (amd-smi list)")
    have = {i for i, _ in _gpu_table(probe, "amd")}
    out = []
    for e in entries:
        if int(e) not in have or int(e) in out:
            break
        out.append(int(e))
    if not out:
        raise ValueError(f"{var}={val!r} names no GPU that AMD SMI sees ({len(have)} GPU(s)): "
                         f"its first entry {entries[0]!r} matches none")
    return out, var


def _indices(arg, value):
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{arg} must be a list of int or None, not {type(value).__name__}")
    out = list(value)
    for i in out:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"{arg}: an entry is {type(i).__name__} ({i!r}); accepted: int")
        if i < 0:
            raise ValueError(f"{arg}: {i} is negative; accepted: indices from 0")
    return out  # a repeated index is kept, as Zeus keeps it: the same device, counted once


class ZeusMonitor:
    """Zeus's ZeusMonitor on joulestat. Extra keyword arguments (backends=,
    nvml_library=, period_ms=, ...) go to joulestat.Meter."""

    def __init__(self, gpu_indices=None, cpu_indices=None, approx_instant_energy=False,
                 log_file=None, sync_execution_with="torch", **meter_options):
        if sync_execution_with not in _SYNC:
            raise ValueError(f"sync_execution_with: {sync_execution_with!r} is not one of "
                             f"{', '.join(_FRAMEWORKS)}")
        if not isinstance(approx_instant_energy, (bool, int)):
            raise TypeError("approx_instant_energy must be a bool")
        gpus = _indices("gpu_indices", gpu_indices)
        cpus = _indices("cpu_indices", cpu_indices)
        self.approx_instant_energy = bool(approx_instant_energy)
        self.sync_with = sync_execution_with
        self._sync_fn = None  # resolved on first use: (module, function) or False

        probe = {k: meter_options[k] for k in ("nvml_library", "options", "sysfs_root")
                 if k in meter_options}
        cpu_backends = [] if cpus == [] else ["rapl"]
        self._meter, keys, self._gpu_prefix = self._open(gpus, cpu_backends, probe,
                                                         meter_options)
        self._begun = {}  # key -> wall time at begin, for the log
        if self._meter is not None and self._gpu_prefix == "gpu":
            self._meter.gpu_keys = keys  # Measurement.gpu_energy keyed in C
        self._gpu_keys = keys
        cpu_found = [int(d["name"].rpartition("-")[2]) for d in
                     (self._meter.domains() if self._meter else ())
                     if d["kind"] == "package" and d["name"].startswith("package-")
                     and d["name"].rpartition("-")[2].isdigit()]
        self.gpu_indices = gpus if gpus is not None else sorted(keys.values())
        missing = [k for k in self.gpu_indices if k not in keys.values()]
        if missing:
            raise ValueError(f"gpu_indices: no GPU measures CUDA device(s) {missing}")
        if cpus is None:
            self.cpu_indices = sorted(cpu_found)
        else:
            gone = [c for c in cpus if c not in cpu_found]
            if gone:
                raise ValueError(f"cpu_indices: no RAPL package {gone}; found {sorted(cpu_found)}")
            self.cpu_indices = cpus
        self._cpu_set = set(self.cpu_indices)

        self.log_file = None
        if log_file is not None:
            path = os.fspath(log_file)
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            self.log_file = open(path, "w")
            self.log_file.write("start_time,window_name,elapsed_time,"
                                + ",".join(f"gpu{i}_energy" for i in self.gpu_indices) + "\n")
            self.log_file.flush()
        self.last_joulestat_measurement = None

    @staticmethod
    def _selectors(gpus, visible, var):
        """{Zeus index: what the meter is asked for}, None for every GPU."""
        if gpus is None:
            return None if visible is None else {k: str(i) for k, i in enumerate(visible)}
        if visible is None:
            return {k: str(k) for k in gpus}
        for k in gpus:
            if k >= len(visible):
                what = "a CUDA device" if var == "CUDA" else "a visible GPU"
                env = "CUDA_VISIBLE_DEVICES" if var == "CUDA" else var
                raise ValueError(f"gpu_indices: {k} is not {what}: "
                                 f"{env}={os.environ[env]!r} makes {len(visible)} visible")
        return {k: str(visible[k]) for k in gpus}

    def _open(self, gpus, cpu_backends, probe, meter_options):
        """The meter, {GPU index in its domain names: Zeus index} and the prefix of
        those names. NVIDIA GPUs where there are any, else AMD GPUs, as Zeus's
        get_gpus() chooses; a visible-devices variable is read for the vendor
        it applies to."""
        order = ["nvidia", "amd"]
        nv_table = None
        if gpus != [] and ("CUDA_VISIBLE_DEVICES" in os.environ
                           or "HIP_VISIBLE_DEVICES" in os.environ):
            nv_table = _gpu_table(probe)
            order = ["nvidia"] if nv_table else ["amd"]
        fallback = None  # a meter of no GPU, kept in case no vendor has one
        for vendor in order if gpus != [] else ["none"]:
            backends, prefix = _VENDORS.get(vendor, ([], "gpu"))
            selectors = None
            if vendor == "nvidia" and nv_table is not None:
                selectors = self._selectors(gpus, _visible_devices(probe, nv_table), "CUDA")
            elif vendor == "amd":
                visible, var = _hip_visible_devices(probe)
                selectors = self._selectors(gpus, visible, var)
            elif gpus is not None:
                selectors = self._selectors(gpus, None, None)
            if selectors == {}:
                backends = []  # the variable makes no GPU visible
            names = backends + cpu_backends
            if not names:
                return None, {}, prefix
            opts = {"backends": names, "allow_estimate": False}
            if selectors and backends:
                opts["gpus"] = list(dict.fromkeys(selectors.values()))
            opts.update(meter_options)
            try:
                meter = Meter(**opts)
            except JoulestatError:
                # No GPU of this vendor here: the next vendor's, else the
                # meter of no GPU; a GPU this vendor lacks is refused as asked.
                # A selection is refused by a backend that cannot load (NVML
                # beside a DCGM without it): asked again of those that measure.
                measured_by = []
                have = _gpu_table(probe, vendor, measured_by) if vendor != "none" else []
                if not have and vendor == "nvidia" and len(order) > 1:
                    continue
                if fallback is not None:
                    return fallback
                if not have or measured_by == backends:
                    raise
                opts["backends"] = measured_by + cpu_backends
                meter = Meter(**opts)
            keys = {}
            for d in meter.domains():
                idx = _gpu_index(d["name"], prefix)
                if d["kind"] != "gpu" or not d["primary"] or idx is None:
                    continue
                if selectors is None:
                    keys[idx] = idx
                for k, sel in (selectors or {}).items():
                    if int(sel) == idx:
                        keys[idx] = k
            if keys or vendor == order[-1] or selectors:
                if fallback is not None:
                    fallback[0].close()
                return meter, keys, prefix
            fallback = (meter, keys, prefix)
        return fallback if fallback is not None else (None, {}, "gpu")

    # -- synchronisation ------------------------------------------------------
    def _sync(self):
        """Wait for queued GPU work; resolves the framework on first use, and
        remembers when there is none (then this is one attribute test)."""
        fn = self._sync_fn
        if fn is None:
            mod = _import(self.sync_with)
            fn = self._sync_fn = (mod, _SYNC[self.sync_with]) if mod is not None else False
        if fn and self.gpu_indices:
            fn[1](fn[0], self.gpu_indices)

    # -- windows --------------------------------------------------------------
    def begin_window(self, key, sync_execution=True, restart=False):
        """Begin a window named key (unique while open)."""
        begun = self._begun
        if key in begun:
            if not restart:
                raise ValueError(f"Measurement window '{key}' already exists")
            self._cancel(key)
        if sync_execution and self._sync_fn is not False:
            self._sync()
        if self._meter is not None:
            self._meter.begin_window(key)
        # The wall-clock start is what the log shows; without a log, nothing to keep.
        begun[key] = time.time() if self.log_file is not None or self._meter is None else None

    def _cancel(self, key):
        self._begun.pop(key)
        if self._meter is not None:
            self._meter.cancel_window(key)

    def end_window(self, key, sync_execution=True, cancel=False):
        """End the window named key and return its Measurement (zeros with cancel=True)."""
        begun = self._begun
        if key not in begun:
            raise ValueError(f"Measurement window '{key}' does not exist")
        if sync_execution and self._sync_fn is not False:
            self._sync()
        if cancel:
            self._cancel(key)
            return Measurement(time=0.0, gpu_energy={g: 0.0 for g in self.gpu_indices},
                               cpu_energy={c: 0.0 for c in self.cpu_indices})
        start = begun.pop(key)
        meter = self._meter
        if meter is None:
            return Measurement(time=time.time() - start, gpu_energy={})
        m = meter.end_window(key)
        self.last_joulestat_measurement = m
        gpu_energy = m.gpu_energy if self._gpu_prefix == "gpu" else self._gpu_energy(m)
        if self._cpu_set:
            cpu, dram = self._cpu_dram(m)
            out = Measurement(m.time, gpu_energy, cpu, dram)
        else:
            out = Measurement(m.time, gpu_energy)
        if self.log_file is not None:
            self.log_file.write(f"{start},{key},{out.time},"
                                + ",".join(str(out.gpu_energy.get(g, 0.0))
                                           for g in self.gpu_indices) + "\n")
            self.log_file.flush()
        return out

    def _gpu_energy(self, m):
        """{Zeus index: J} of GPUs whose domains are not named gpu<N> (AMD's)."""
        keys, prefix = self._gpu_keys, self._gpu_prefix
        out = {}
        for d in m.domains:
            if d.kind == "gpu" and d.primary:
                idx = _gpu_index(d.name, prefix)
                if idx in keys:
                    out[keys[idx]] = d.energy
        return out

    def _cpu_dram(self, m):
        """{package index: J} of the CPU packages and their DRAM, None where none."""
        cpu, dram = {}, {}
        for d in m.domains:
            kind = d.kind
            if kind in ("package", "dram") and d.name[-1].isdigit():
                i = int(d.name.rpartition("-")[2])
                if i in self._cpu_set:
                    (cpu if kind == "package" else dram)[i] = d.energy
        return cpu or None, dram or None

    def reset_windows(self):
        """Cancel every open window."""
        for key in list(self._begun):
            self._cancel(key)

    def __del__(self):
        m = getattr(self, "_meter", None)
        if m is not None:
            m.close()
        f = getattr(self, "log_file", None)
        if f is not None:
            f.close()
