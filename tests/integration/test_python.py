"""The Python binding, against the NVML simulator: figures, windows, errors."""
import errno
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
os.environ["JSTSIM_NVML_GPUS"] = "2"
os.environ["JSTSIM_NVML_TRACE"] = "const:200"

import joulestat  # noqa: E402


def meter(**kw):
    return joulestat.Meter(backends=["nvml"], nvml_library=os.environ["SIM_NVML"], **kw)


class BindingTest(unittest.TestCase):
    def test_begin_end_window_like_zeus(self):
        with meter(period_ms=20) as m:
            m.begin_window("step")
            time.sleep(0.5)
            ms = m.end_window("step")
        self.assertEqual(ms.name, "step")
        self.assertEqual(sorted(ms.gpu_energy), [0, 1])
        # GPU k draws 200 W x (1 - 0.05 k); the counter refreshes every 10 ms.
        for k, e in ms.gpu_energy.items():
            want = 200 * (1 - 0.05 * k) * ms.time
            self.assertAlmostEqual(e, want, delta=want * 0.005 + 200 * 0.02)
        self.assertAlmostEqual(ms.total_energy, sum(ms.gpu_energy.values()), places=9)
        self.assertAlmostEqual(ms.accuracy, 0.05)
        self.assertFalse(ms.partial)
        self.assertEqual(ms.domains[0].method, "counter")
        # Telemetry, as the simulator derives it from 200 W (sim/nvml/README.md):
        # this also proves the ctypes mirror of jst_domain_energy is in step.
        g0 = ms.domains[0]
        self.assertEqual((g0.kind, g0.backend, g0.source), ("gpu", "nvml", "energy-counter"))
        self.assertTrue(g0.device.startswith("gpu:GPU-"))
        self.assertTrue(g0.primary)
        self.assertGreater(g0.samples, 0)
        self.assertAlmostEqual(g0.temperature_max, 35 + 200 / 10, delta=1)
        self.assertAlmostEqual(g0.utilization_mean, 100 * 200 / 700, delta=1)
        self.assertAlmostEqual(g0.power_limit, 700)

    def test_context_manager_and_decorator(self):
        with meter() as m:
            with m.window("prefill") as w:
                time.sleep(0.1)
            self.assertGreater(w.measurement.total_energy, 0)

            @m.measure("decode")
            def decode(n):
                time.sleep(0.05)
                return n * 2

            self.assertEqual(decode(21), 42)
            self.assertEqual(decode.last_measurement.name, "decode")
            self.assertGreater(decode.last_measurement.time, 0.04)

    def test_errors_carry_codes_and_text(self):
        with meter() as m:
            with self.assertRaises(joulestat.JoulestatError) as cm:
                m.end_window("never-begun")
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            m.begin_window("w")
            with self.assertRaises(joulestat.JoulestatError) as cm:
                m.begin_window("w")
            self.assertEqual(cm.exception.errno, errno.EEXIST)
            m.cancel_window("w")
        with self.assertRaises(joulestat.JoulestatError) as cm:
            joulestat.Meter(backends=["no-such-backend"])
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        # A closed meter says so; it never hands a NULL handle to the library.
        m = meter()
        m.close()
        m.close()  # twice is harmless
        with self.assertRaises(joulestat.JoulestatError) as cm:
            m.begin_window("after-close")
        self.assertEqual(cm.exception.errno, errno.EBADF)
        self.assertIn("closed", str(cm.exception))

    def test_a_gpu_that_does_not_exist_is_refused(self):
        # The simulator has GPUs 0 and 1: 99 must raise, never measure fewer.
        for gpus in ([99], [1, 99], "2"):
            with self.subTest(gpus=gpus):
                with self.assertRaises(joulestat.JoulestatError) as cm:
                    meter(gpus=gpus)
                self.assertEqual(cm.exception.errno, errno.ENXIO)
                self.assertIn("not found: NVML sees 2 GPUs, indices 0-1", str(cm.exception))
        with meter(gpus=[1]) as m:
            self.assertEqual([d["name"] for d in m.domains()], ["gpu1"])

    def test_backends_and_domains_are_listed(self):
        with meter() as m:
            names = {b["name"]: b for b in m.backends()}
            self.assertTrue(names["nvml"]["available"])
            self.assertIn("not selected", names["rapl"]["reason"])
            doms = m.domains()
            self.assertEqual([d["name"] for d in doms], ["gpu0", "gpu1"])
            # Every field, so that a ctypes mirror out of step with the header shows.
            for d in doms:
                self.assertTrue(d["device"].startswith("gpu:GPU-"), d)
                self.assertEqual((d["kind"], d["backend"], d["method"], d["source"]),
                                 ("gpu", "nvml", "counter", "energy-counter"))
                self.assertAlmostEqual(d["accuracy"], 0.05)
                self.assertTrue(d["primary"])
                self.assertEqual(d["note"], "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
