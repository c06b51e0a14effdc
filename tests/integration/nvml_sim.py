"""The NVML simulator (sim/nvml) for the integration tests: environment in,
ground truth out.

The simulator is a stand-in libnvidia-ml.so.1 that joulestat loads through its
ordinary dlopen path (JOULESTAT_NVML_LIBRARY). It is configured by JSTSIM_NVML_*
variables read at nvmlInit and writes its truth (JSTSIM_NVML_TRUTH) when NVML
is shut down, i.e. when the joulestat process ends.
"""
import glob
import json
import os
import shutil
import tempfile
import unittest

from common import REPO, truth_energy

COUNTER_TICK_S = 0.1  # the simulated energy counter refreshes every 100 ms by default


def sim_nvml_path():
    """Path of the simulator library, from SIM_NVML or the newest build dir."""
    path = os.environ.get("SIM_NVML")
    if path:
        return path
    found = glob.glob(os.path.join(REPO, "build*", "sim", "nvml", "libnvidia-ml.so.1"))
    if not found:
        raise unittest.SkipTest("SIM_NVML not set and no build*/sim/nvml/libnvidia-ml.so.1")
    return max(found, key=os.path.getmtime)


def gpu_uuid(index):
    """The simulator's deterministic UUID of GPU `index`."""
    return "GPU-5a1c0000-0000-4000-8000-%012x" % index


class NvmlSim:
    """One simulated NVML configuration and its truth file, as a context manager.

    NvmlSim(gpus=2, trace="const:300", mode="nocounter", lost="1@0.5", mig="0")
    """

    def __init__(self, gpus=1, trace="const:300", mode=None, lost=None, mig=None,
                 fail_init=None, library=None, name=None, arch=None, counter_tick_ms=None,
                 power_tick_ms=None, reset=None, errors=None, read_us=None,
                 latch_jitter_ms=None):
        self.gpus = gpus
        self.trace = trace
        self.vars = {"JSTSIM_NVML_GPUS": str(gpus), "JSTSIM_NVML_TRACE": trace}
        for var, val in (("MODE", mode), ("LOST", lost), ("MIG", mig),
                         ("FAIL_INIT", fail_init), ("NAME", name), ("ARCH", arch),
                         ("COUNTER_TICK_MS", counter_tick_ms), ("POWER_TICK_MS", power_tick_ms),
                         ("RESET", reset), ("ERRORS", errors), ("READ_US", read_us),
                         ("LATCH_JITTER_MS", latch_jitter_ms)):
            if val is not None:
                self.vars["JSTSIM_NVML_" + var] = str(val)
        self.library = library
        self.dir = None
        self.truth_path = None
        self._truth = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-nvml-")
        self.truth_path = os.path.join(self.dir, "truth.json")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def env(self, cuda_visible=None, **extra):
        """The environment for a joulestat run against this simulator."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("JSTSIM_") and k != "CUDA_VISIBLE_DEVICES"}
        env.update(self.vars)
        env["JOULESTAT_NVML_LIBRARY"] = self.library or sim_nvml_path()
        env["JSTSIM_NVML_TRUTH"] = self.truth_path
        # Keep the host's own RAPL counters out of the figures, and the AMD SMI
        # simulator that meson's LD_LIBRARY_PATH would let a plain dlopen find.
        env["JOULESTAT_SYSFS_ROOT"] = self.dir
        env["JOULESTAT_AMDSMI_LIBRARY"] = os.path.join(self.dir, "no-libamd_smi.so")
        # A DCGM on the machine (or sim/dcgm) would take these GPUs' place.
        env["JOULESTAT_DCGM_LIBRARY"] = os.path.join(self.dir, "no-libdcgm.so.4")
        env["JOULESTAT_DEVFS_ROOT"] = self.dir
        if cuda_visible is not None:
            env["CUDA_VISIBLE_DEVICES"] = cuda_visible
        env.update(extra)
        return env

    def truth(self):
        """The truth the last run wrote (start_ns, ticks, per GPU scale and base)."""
        with open(self.truth_path) as f:
            self._truth = json.load(f)
        return self._truth

    def seconds(self, t_ns):
        """A CLOCK_MONOTONIC instant as seconds of trace time (t = 0 at nvmlInit)."""
        return (t_ns - self._truth["start_ns"]) * 1e-9

    def gpu(self, index):
        for g in self._truth["gpus"]:
            if g["index"] == index:
                return g
        raise KeyError(index)

    def counter_truth(self, index, begin_ns, end_ns):
        """What GPU `index`'s energy counter gained between two instants (J)."""
        return truth_energy(self.trace, self.seconds(begin_ns), self.seconds(end_ns),
                            scale=self.gpu(index)["scale"], tick=self._truth["counter_tick_s"])

    def exact_truth(self, index, begin_ns, end_ns):
        """The exact energy GPU `index` drew between two instants (J)."""
        return truth_energy(self.trace, self.seconds(begin_ns), self.seconds(end_ns),
                            scale=self.gpu(index)["scale"])


def gpu_domains(measurement, name=None):
    """The GPU domains of a measurement (all named `name` when given)."""
    return [d for d in measurement["domains"]
            if d["kind"] == "gpu" and (name is None or d["name"] == name)]
