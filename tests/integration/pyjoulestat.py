"""For the Python package's tests: put the built package (build*/bindings/python,
or $JOULESTAT_PYPKG as meson sets it) first on sys.path, and the shared checks
against the NVML simulator's truth.

    from pyjoulestat import joulestat, sim_path, assert_gpu_truth
"""
import glob
import os
import sys
import unittest

from common import REPO
from nvml_sim import COUNTER_TICK_S, sim_nvml_path


def package_dir():
    path = os.environ.get("JOULESTAT_PYPKG")
    if path:
        return path
    found = glob.glob(os.path.join(REPO, "build*", "bindings", "python", "joulestat",
                                   "_ext*.so"))
    if not found:
        raise unittest.SkipTest("JOULESTAT_PYPKG not set and no build*/bindings/python")
    return os.path.dirname(os.path.dirname(max(found, key=os.path.getmtime)))


sys.path.insert(0, package_dir())
import joulestat  # noqa: E402


def sim_path():
    return sim_nvml_path()


def gpu_tolerance(want, peak_w):
    """A counter figure is the truth to within 0.5%, give or take one 10 ms
    refresh of the counter at each edge."""
    return 0.005 * abs(want) + 2 * COUNTER_TICK_S * peak_w + 0.002


def assert_gpu_truth(case, sim, nvml_index, energy, begin_ns, end_ns, peak_w):
    want = sim.exact_truth(nvml_index, begin_ns, end_ns)
    case.assertAlmostEqual(energy, want, delta=gpu_tolerance(want, peak_w),
                           msg="gpu%d: %.4f J, truth %.4f J" % (nvml_index, energy, want))
