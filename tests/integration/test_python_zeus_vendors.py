"""joulestat.zeus.ZeusMonitor on the GPUs the meter measures, not NVML's alone:
DCGM without NVML, DCGM beside NVML (DCGM measures), and AMD GPUs through AMD
SMI alone, each against its simulator's truth. Zeus 0.16 keys gpu_energy by
the index the framework sees (CUDA ordinal, HIP index on AMD, after
HIP_VISIBLE_DEVICES or CUDA_VISIBLE_DEVICES): so must the drop-in.
"""
import os
import time
import unittest

from dcgm_sim import DcgmSim
from pyjoulestat import joulestat  # noqa: F401 (puts the built package on sys.path)
from test_amdsmi import AmdSim
import joulestat.zeus as jz

TRACE = "steps:150,420,80,300@0.1"
NO_LIB = "/nonexistent/joulestat-test-no-such-library.so"


class VendorCase(unittest.TestCase):
    def setUp(self):
        self.saved = dict(os.environ)
        for var in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "JOULESTAT_GPUS"):
            os.environ.pop(var, None)
        self.addCleanup(self.restore)

    def restore(self):
        os.environ.clear()
        os.environ.update(self.saved)

    def window(self, mon, seconds=0.4):
        """One window; its Zeus Measurement and joulestat figure. The monitor's
        meter is closed after it, so that the simulator writes its truth."""
        mon.begin_window("w", sync_execution=False)
        time.sleep(seconds)
        m = mon.end_window("w", sync_execution=False)
        jm = mon.last_joulestat_measurement
        mon._meter.close()
        return m, jm

    def gpu_domains(self, jm):
        return {d.name: d for d in jm.domains if d.kind == "gpu" and d.primary}


class DcgmTest(VendorCase):
    def check(self, sim, m, jm, key_to_gpu):
        sim.dcgm_truth()
        doms = self.gpu_domains(jm)
        self.assertEqual(sorted(m.gpu_energy), sorted(key_to_gpu))
        for key, gpu in key_to_gpu.items():
            d = doms["gpu%d" % gpu]
            self.assertEqual(d.backend, "dcgm")
            want = sim.dcgm_exact(gpu, jm.begin_ns, jm.end_ns)
            with self.subTest(key=key, gpu=gpu, got=m.gpu_energy[key], truth=want):
                self.assertEqual(m.gpu_energy[key], d.energy)
                self.assertLessEqual(abs(m.gpu_energy[key] - want), d.uncertainty)
                self.assertGreater(want, 10)
        self.assertAlmostEqual(m.total_energy, sum(m.gpu_energy.values()), places=9)

    def test_dcgm_without_nvml(self):
        # Was: the GPUs were listed through an NVML-only meter: none found.
        with DcgmSim(gpus=3, trace=TRACE, nvml=False) as sim:
            os.environ.update(sim.env())
            mon = jz.ZeusMonitor()
            self.assertEqual(mon.gpu_indices, [0, 1, 2])
            m, jm = self.window(mon)
            self.check(sim, m, jm, {0: 0, 1: 1, 2: 2})

    def test_dcgm_without_nvml_under_cuda_visible_devices(self):
        with DcgmSim(gpus=3, trace=TRACE, nvml=False) as sim:
            os.environ.update(sim.env())
            os.environ["CUDA_VISIBLE_DEVICES"] = "2,0"
            mon = jz.ZeusMonitor(gpu_indices=[0])  # CUDA device 0 = GPU 2
            self.assertEqual(mon.gpu_indices, [0])
            m, jm = self.window(mon)
            self.check(sim, m, jm, {0: 2})

    def test_dcgm_beside_nvml_measures(self):
        # The meter's best method for each GPU, as joulestat run takes it.
        with DcgmSim(gpus=2, trace=TRACE, nvml=True) as sim:
            os.environ.update(sim.env())
            mon = jz.ZeusMonitor(gpu_indices=[1])
            m, jm = self.window(mon)
            self.check(sim, m, jm, {1: 1})


class AmdTest(VendorCase):
    def amd(self, **kw):
        sim = AmdSim(gpus=3, trace=TRACE, **kw).__enter__()
        self.addCleanup(sim.__exit__, None, None, None)
        os.environ.update(sim.env())
        os.environ["JOULESTAT_NVML_LIBRARY"] = NO_LIB
        os.environ["JOULESTAT_DCGM_LIBRARY"] = NO_LIB
        return sim

    def check(self, sim, m, jm, key_to_gpu):
        sim.truth()
        doms = {d.name: d for d in jm.domains if d.kind == "gpu" and d.primary}
        self.assertEqual(sorted(m.gpu_energy), sorted(key_to_gpu))
        for key, gpu in key_to_gpu.items():
            d = doms["amdgpu%d" % gpu]
            want = sim.window(gpu, jm.begin_ns, jm.end_ns)
            with self.subTest(key=key, gpu=gpu, got=m.gpu_energy[key], truth=want):
                self.assertEqual(m.gpu_energy[key], d.energy)
                self.assertLessEqual(abs(m.gpu_energy[key] - want), d.uncertainty)
                self.assertGreater(want, 10)
        self.assertAlmostEqual(m.total_energy, sum(m.gpu_energy.values()), places=9)

    def test_amd_smi_alone(self):
        # Was: ZeusMonitor() refused (no NVML) although the meter measures them.
        sim = self.amd()
        mon = jz.ZeusMonitor()
        self.assertEqual(mon.gpu_indices, [0, 1, 2])
        m, jm = self.window(mon)
        self.check(sim, m, jm, {0: 0, 1: 1, 2: 2})

    def test_hip_visible_devices_are_hip_indices(self):
        # As Zeus (and HIP): the visible GPUs renumbered from 0, in order;
        # CUDA_VISIBLE_DEVICES stands in where HIP_VISIBLE_DEVICES is unset.
        for var in ("HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
            with self.subTest(var=var):
                self.restore()
                sim = self.amd()
                os.environ[var] = "2,1"
                mon = jz.ZeusMonitor(gpu_indices=[1, 0])
                self.assertEqual(mon.gpu_indices, [1, 0])
                m, jm = self.window(mon)
                self.check(sim, m, jm, {0: 2, 1: 1})
                with self.assertRaisesRegex(ValueError, "gpu_indices: 2 is not a visible"):
                    jz.ZeusMonitor(gpu_indices=[2])

    def test_an_index_no_gpu_has(self):
        self.amd()
        with self.assertRaisesRegex(joulestat.JoulestatError, "amdgpu7"):
            jz.ZeusMonitor(gpu_indices=[7])


if __name__ == "__main__":
    unittest.main(verbosity=2)
