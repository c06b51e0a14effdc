"""The DCGM simulator (sim/dcgm) for the integration tests: environment in,
ground truth out, optionally beside sim/nvml simulating the same GPUs.

sim/dcgm is a stand-in libdcgm.so.4 that joulestat loads through its ordinary
dlopen path (JOULESTAT_DCGM_LIBRARY), configured by JSTSIM_DCGM_* variables read
at dcgmInit; it writes its truth (JSTSIM_DCGM_TRUTH) at dcgmShutdown, i.e. when
the joulestat process ends. Its GPUs have sim/nvml's UUIDs, scales and bases.
"""
import glob
import json
import os
import unittest

from common import REPO, truth_energy
from nvml_sim import NvmlSim, gpu_uuid  # noqa: F401 (gpu_uuid: the same GPUs)


def sim_dcgm_path():
    """Path of the simulator library, from SIM_DCGM or the newest build dir."""
    path = os.environ.get("SIM_DCGM")
    if path:
        return path
    found = glob.glob(os.path.join(REPO, "build*", "sim", "dcgm", "libdcgm.so.4"))
    if not found:
        raise unittest.SkipTest("SIM_DCGM not set and no build*/sim/dcgm/libdcgm.so.4")
    return max(found, key=os.path.getmtime)


class DcgmSim(NvmlSim):
    """sim/dcgm with `gpus` GPUs on `trace`, and sim/nvml with the same GPUs when
    nvml=True (else no NVML at all). A context manager, as NvmlSim.

    DcgmSim(gpus=8, trace="steps:...", nvml=True, errors="0@1+0.2", reset="1@1",
            lost="2@1", hostengine="127.0.0.1:5555", disconnect=1.0)
    """

    def __init__(self, gpus=1, trace="const:300", nvml=False, mode=None, lost=None,
                 reset=None, errors=None, counter_tick_ms=None, hostengine=None,
                 disconnect=None, fail_init=None):
        super().__init__(gpus=gpus, trace=trace)
        self.nvml = nvml
        self.dcgm_vars = {"JSTSIM_DCGM_GPUS": str(gpus), "JSTSIM_DCGM_TRACE": trace}
        for var, val in (("MODE", mode), ("LOST", lost), ("RESET", reset), ("ERRORS", errors),
                         ("COUNTER_TICK_MS", counter_tick_ms), ("HOSTENGINE", hostengine),
                         ("DISCONNECT", disconnect), ("FAIL_INIT", fail_init)):
            if val is not None:
                self.dcgm_vars["JSTSIM_DCGM_" + var] = str(val)
        self.dcgm_truth_path = None
        self._dtruth = None

    def __enter__(self):
        super().__enter__()
        self.dcgm_truth_path = os.path.join(self.dir, "dcgm-truth.json")
        return self

    def env(self, cuda_visible=None, **extra):
        env = super().env(cuda_visible=cuda_visible)
        if not self.nvml:
            env["JOULESTAT_NVML_LIBRARY"] = os.path.join(self.dir, "no-libnvidia-ml.so.1")
        env.update(self.dcgm_vars)
        env["JOULESTAT_DCGM_LIBRARY"] = sim_dcgm_path()
        env["JSTSIM_DCGM_TRUTH"] = self.dcgm_truth_path
        env.update(extra)
        return env

    def dcgm_truth(self):
        """The truth sim/dcgm wrote at the end of the last run."""
        with open(self.dcgm_truth_path) as f:
            self._dtruth = json.load(f)
        return self._dtruth

    def dcgm_exact(self, index, begin_ns, end_ns):
        """The exact energy GPU `index` drew between two instants (J), on DCGM's clock."""
        t = self._dtruth
        g = t["gpus"][index]
        return truth_energy(self.trace, (begin_ns - t["start_ns"]) * 1e-9,
                            (end_ns - t["start_ns"]) * 1e-9, scale=g["scale"])
