"""The Python package's core (joulestat.Meter, Window, Measurement from the C
extension) against the NVML simulator's truth: windows by name and by handle,
rotation, the lazily decoded Measurement, argument errors."""
import errno
import os
import re
import threading
import time
import unittest

from nvml_sim import NvmlSim
from pyjoulestat import REPO, assert_gpu_truth, joulestat

STEPS = "steps:150,420,80,300@0.2"
PEAK = 420


class SimCase(unittest.TestCase):
    """One simulator for the class, its variables in this process's environment
    (the simulator reads them at nvmlInit); truth once every meter is closed."""
    GPUS = 2
    TRACE = STEPS

    @classmethod
    def setUpClass(cls):
        cls.sim = NvmlSim(gpus=cls.GPUS, trace=cls.TRACE).__enter__()
        cls.saved = dict(os.environ)
        os.environ.update(cls.sim.env())

    @classmethod
    def tearDownClass(cls):
        os.environ.clear()
        os.environ.update(cls.saved)
        cls.sim.__exit__(None, None, None)

    def meter(self, **kw):
        kw.setdefault("backends", ["nvml"])
        return joulestat.Meter(**kw)

    def check_truth(self, ms):
        """Every GPU of a Measurement against the truth (call after closing)."""
        self.sim.truth()
        for idx, e in ms.gpu_energy.items():
            assert_gpu_truth(self, self.sim, idx, e, ms.begin_ns, ms.end_ns,
                             PEAK * (1 - 0.05 * idx))


class WindowTest(SimCase):
    def test_named_windows_like_zeus_match_truth(self):
        kept = []
        with self.meter(period_ms=20) as m:
            m.begin_window("outer")
            for i in range(3):
                m.begin_window("step")
                time.sleep(0.13)
                kept.append(m.end_window("step"))
            kept.append(m.end_window("outer"))
            self.assertEqual(m.open_windows(), [])
        for ms in kept:
            self.assertEqual(sorted(ms.gpu_energy), [0, 1])
            self.assertFalse(ms.partial)
            self.assertAlmostEqual(ms.total_energy, sum(ms.gpu_energy.values()), places=6)
            # The class, widened by the edges (much on 130 ms windows of a 100 ms
            # counter and a stepping power); check_truth holds the figure to it.
            self.assertGreaterEqual(ms.accuracy, 0.05)
            self.check_truth(ms)
        outer = kept[-1]
        self.assertEqual(outer.name, "outer")
        self.assertGreater(outer.time, sum(k.time for k in kept[:-1]))

    def test_end_window_settled(self):
        # settle=True (jst_window_end_settled): the figure waits for each GPU
        # counter's next latch after the end (the simulator's refreshes every
        # 100 ms); the window's instants stay those of the call.
        with self.meter(period_ms=20) as m:
            m.begin_window("settled")
            time.sleep(0.5)
            before = time.monotonic_ns()
            ms = m.end_window("settled", settle=True)
            after = time.monotonic_ns()
            self.assertEqual(m.open_windows(), [])
            with self.assertRaises(TypeError):
                m.end_window("settled", True)  # settle is keyword-only
        self.assertGreaterEqual(ms.end_ns, before)
        self.assertLess(ms.end_ns, after)
        self.assertFalse(ms.partial)
        self.assertEqual(sorted(ms.gpu_energy), [0, 1])
        self.check_truth(ms)

    def test_handles_share_a_label_and_rotation_tiles_time(self):
        with self.meter(period_ms=20) as m:
            a = m.window("same")
            b = m.window("same")  # the same label twice at once: two windows
            whole = m.window("whole")
            spans = []
            for _ in range(4):
                time.sleep(0.07)
                spans.append(whole.rotate())
            self.assertTrue(whole.open)
            last = whole.end()
            spans.append(last)
            self.assertFalse(whole.open)
            mb = b.end()
            ma = a.end()
            with self.assertRaises(joulestat.JoulestatError):
                a.end()  # ended already
        # Consecutive spans share their edges: they tile time exactly.
        for s, t in zip(spans, spans[1:]):
            self.assertEqual(s.end_ns, t.begin_ns)
        total = sum(s.gpu_energy[0] for s in spans)
        self.assertGreater(total, 0)
        self.assertEqual((ma.name, mb.name), ("same", "same"))
        self.assertLessEqual(ma.begin_ns, mb.begin_ns)
        self.assertGreaterEqual(ma.end_ns, mb.end_ns)
        for s in spans + [ma, mb]:
            self.check_truth(s)

    def test_window_context_manager_keeps_the_measurement_on_error(self):
        with self.meter() as m:
            with self.assertRaises(KeyError):
                with m.window("fails") as w:
                    time.sleep(0.05)
                    raise KeyError("inside")
            self.assertIsInstance(w.measurement, joulestat.Measurement)
            self.assertGreater(w.measurement.time, 0.04)
            self.assertFalse(w.open)

    def test_measurement_fields_and_the_struct_mirror(self):
        with self.meter(period_ms=20) as m:
            # Well past three refreshes of the 100 ms counter: a window of 0.3 s
            # sat on the short_window threshold, flagged when the measured
            # refresh came out a hair over 100 ms.
            with m.window("fields") as w:
                time.sleep(0.45)
        ms = w.measurement
        self.assertEqual(repr(ms)[:22], "Measurement('fields', ")
        self.assertIsNone(ms.cpu_energy)
        self.assertIsNone(ms.dram_energy)
        self.assertIs(ms.domains, ms.domains)  # decoded once, then kept
        self.assertEqual(set(ms.totals), {"gpu", "total"})
        t = ms.totals["total"]
        self.assertEqual(t["parts"], 2)
        self.assertAlmostEqual(t["energy_j"], ms.total_energy)
        # The figure's uncertainty: its class, and the edges' and sampling's part.
        self.assertGreaterEqual(t["uncertainty_j"], t["accuracy"] * t["energy_j"] - 1e-9)
        self.assertAlmostEqual(ms.accuracy, t["uncertainty_j"] / t["energy_j"], places=9)
        self.assertFalse(t["estimated"])
        # Every field, so that a mirror out of step with the header shows.
        g0 = ms.domains[0]
        self.assertEqual((g0.name, g0.kind, g0.backend, g0.method, g0.source),
                         ("gpu0", "gpu", "nvml", "counter", "energy-counter"))
        self.assertEqual(g0.device, "gpu:GPU-5a1c0000-0000-4000-8000-000000000000")
        self.assertEqual(g0.energy, ms.gpu_energy[0])
        self.assertGreaterEqual(g0.uncertainty, g0.accuracy * g0.energy - 1e-9)
        self.assertAlmostEqual(g0.accuracy, 0.05)
        self.assertAlmostEqual(g0.avg_power, g0.energy / ms.time, delta=1e-6 * g0.energy)
        self.assertGreater(g0.samples, 5)
        self.assertTrue(g0.primary)
        self.assertFalse(g0.partial or g0.short_window or g0.bridged)
        self.assertEqual(g0.note, "")
        self.assertIsNone(g0.parent)
        # The simulator's telemetry follows its power (sim/nvml/README.md).
        self.assertLessEqual(g0.peak_power, PEAK + 1)
        self.assertAlmostEqual(g0.temperature_max, 35 + g0.peak_power / 10, delta=1)
        self.assertGreater(g0.utilization_mean, 0)
        self.assertGreater(g0.clock_mean, 345)
        self.assertEqual(g0.power_limit, 700)
        self.assertTrue(g0.counted)
        self.assertEqual(g0[-1], g0.counted)  # appended: positions before it unchanged
        self.assertEqual(len(g0), 23)  # a struct sequence: every field above, no more

    def test_short_window_is_flagged(self):
        with self.meter() as m:
            m.settle(3000)
            ms = m.window("tiny").end()
        d = ms.domains[0]
        self.assertTrue(d.short_window)
        self.assertIn("shorter than", d.note)

    def test_closed_meter_and_listing(self):
        m = self.meter()
        names = {b["name"]: b for b in m.backends()}
        self.assertTrue(names["nvml"]["available"])
        self.assertIn("not selected", names["rapl"]["reason"])
        doms = m.domains()
        self.assertEqual([d["name"] for d in doms], ["gpu0", "gpu1"])
        for d in doms:
            self.assertEqual((d["kind"], d["backend"], d["method"], d["source"]),
                             ("gpu", "nvml", "counter", "energy-counter"))
            self.assertTrue(d["primary"])
        w = m.window("open at close")
        m.begin_window("named at close")
        self.assertIn("gpu0, gpu1", repr(m))
        m.close()
        m.close()  # twice is harmless
        self.assertTrue(m.closed)
        self.assertEqual(repr(m), "<joulestat.Meter closed>")
        for call in (lambda: m.begin_window("x"), lambda: m.window("x"), w.end,
                     lambda: m.end_window("named at close"), m.domains):
            with self.assertRaises(joulestat.JoulestatError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EBADF)
            self.assertIn("closed", str(cm.exception))
        self.assertFalse(w.open)
        del w  # a window of a closed meter is dropped without touching it

    def test_close_waits_for_windows_in_flight(self):
        # Windows begun and ended on other threads while the meter closes: each
        # call either completes or says the meter is closed; nothing crashes.
        m = self.meter()
        errors, done = [], []

        def worker():
            try:
                while True:
                    m.window("t").end()
                    done.append(1)
            except joulestat.JoulestatError as e:
                errors.append(e.errno)
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        while len(done) < 200:
            time.sleep(0.001)
        m.close()
        for t in threads:
            t.join()
        self.assertEqual(errors, [errno.EBADF] * 4)


class ErrorTest(SimCase):
    GPUS = 1

    def test_wrong_types_and_values_name_the_argument(self):
        cases = [
            (dict(backends="foo"), ValueError, r"backends: unknown backend 'foo' "
                                               r"\(known: ptd, dcgm, nvml, amdsmi, rapl"),
            (dict(backends=["nvml", 3]), TypeError, r"backends: an entry is int"),
            (dict(backends=[]), ValueError, r"backends: \[\] has an empty entry"),
            (dict(period_ms=-1), ValueError, r"period_ms: -1 is out of range; accepted: 0"),
            (dict(period_ms=3600001), ValueError, r"period_ms: 3600001 is out of range"),
            (dict(period_ms=2**32), ValueError, r"period_ms: 4294967296 is out of range"),
            (dict(period_ms=1.5), TypeError, r"period_ms must be an int"),
            (dict(period_ms=True), TypeError, r"period_ms must be an int"),
            (dict(gpus=[-1]), ValueError, r"gpus: GPU index -1 is negative"),
            (dict(gpus=1.0), TypeError, r"gpus must be GPU indices"),
            (dict(gpus="0,,1"), ValueError, r"gpus: '0,,1' has an empty entry"),
            (dict(cross_validate="yes"), TypeError, r"cross_validate must be a bool"),
            (dict(sysfs_root=3), TypeError, r"sysfs_root must be a str or os.PathLike"),
            (dict(options=[("a", "b")]), TypeError, r"options must be a dict"),
            (dict(backends="nv\0ml"), ValueError, r"backends: the value must not contain NUL"),
            (dict(options={"no.such": "1"}), ValueError, r"unknown option 'no.such' "
                                                         r"\(known: backends"),
        ]
        for kw, exc, pattern in cases:
            with self.subTest(kw=kw):
                with self.assertRaisesRegex(exc, pattern):
                    joulestat.Meter(**kw)

    def test_method_arguments_are_never_narrowed(self):
        # A value the C call cannot take as given is refused, naming the
        # argument and what it accepts: never wrapped (2**32 + 5 is not 5 ms),
        # never taken for its truth value ('no' does not mean settle).
        with self.meter(settle=False) as m:
            for bad, exc, pattern in (
                    (2**32 + 5, ValueError, r"timeout_ms: 4294967301 is out of range; "
                                            r"accepted: milliseconds from 0 to 4294967295"),
                    (-1, ValueError, r"timeout_ms: -1 is out of range"),
                    (2**70, ValueError, r"timeout_ms: \d+ is out of range"),
                    (1.5, TypeError, r"timeout_ms must be an int \(milliseconds from 0 to "
                                     r"4294967295\), not float"),
                    (True, TypeError, r"timeout_ms must be an int .*not bool"),
                    ("10", TypeError, r"timeout_ms must be an int .*not str")):
                with self.subTest(settle=bad):
                    with self.assertRaisesRegex(exc, pattern):
                        m.settle(bad)
            m.settle(3000)  # in range: waits, returns
            m.begin_window("a")
            for bad in ("no", 1, 0, None, [True]):
                with self.subTest(end_window_settle=bad):
                    with self.assertRaisesRegex(TypeError, r"settle must be a bool, not"):
                        m.end_window("a", settle=bad)
            self.assertEqual(m.open_windows(), ["a"])  # still open: nothing was ended
            self.assertGreater(m.end_window("a", settle=False).time, 0)
            for bad, exc in ((-1, ValueError), (0.5, TypeError)):
                with self.assertRaisesRegex(exc, r"^n"):
                    m._c_pairs(bad)
        with self.assertRaisesRegex(TypeError, r"settle must be a bool, not str"):
            self.meter(settle="no")
        with self.assertRaisesRegex(ValueError, r"code: \d+ is out of range; accepted: a return "
                                                r"code from -2147483648 to 2147483647"):
            joulestat._ext.strerror(2**40)
        with self.assertRaisesRegex(TypeError, r"code must be an int"):
            joulestat._ext.strerror("2")

    def test_window_names(self):
        with self.meter() as m:
            for bad in (3, None, b"bytes"):
                with self.assertRaisesRegex(TypeError, r"name must be a str, not"):
                    m.window(bad)
                with self.assertRaisesRegex(TypeError, r"name must be a str|unhashable"):
                    m.begin_window(bad)
            with self.assertRaisesRegex(ValueError, "NUL"):
                m.window("a\0b")
            with self.assertRaises(joulestat.JoulestatError) as cm:
                m.end_window("never-begun")
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            m.begin_window("w")
            with self.assertRaises(joulestat.JoulestatError) as cm:
                m.begin_window("w")
            self.assertEqual(cm.exception.errno, errno.EEXIST)
            self.assertIsNone(m.cancel_window("w"))
            with self.assertRaisesRegex(TypeError, "name must be a str or None"):
                m.measure(3)


class PackageTest(unittest.TestCase):
    def test_version_is_the_library_and_the_package_metadata(self):
        self.assertEqual(joulestat.__version__, joulestat._ext.version())
        with open(os.path.join(REPO, "bindings", "python", "meson.build")) as f:
            pkg = re.search(r"version : '([^']+)'", f.read()).group(1)
        with open(os.path.join(REPO, "meson.build")) as f:
            lib = re.search(r"version : '([^']+)'", f.read()).group(1)
        self.assertEqual((joulestat.__version__, pkg), (lib, lib))

    def test_import_loads_nothing_it_does_not_need(self):
        import subprocess
        import sys
        code = ("import sys; before = set(sys.modules); import joulestat; "
                "print(sorted(set(sys.modules) - before))")
        out = subprocess.run([sys.executable, "-S", "-c", code], check=True, text=True,
                             capture_output=True,
                             env=dict(os.environ, PYTHONPATH=os.path.dirname(
                                 os.path.dirname(joulestat.__file__)))).stdout
        self.assertEqual(out.strip(), "['joulestat', 'joulestat._ext']")


if __name__ == "__main__":
    unittest.main(verbosity=2)
