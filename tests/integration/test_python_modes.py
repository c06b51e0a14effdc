"""The seed's EnergyBackend protocol and CodeCarbon's five modes (decorator,
context manager, explicit start/stop, background rows to CSV, the command line)
through the Python package, against the NVML simulator's truth."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from common import binary
from nvml_sim import NvmlSim
from pyjoulestat import assert_gpu_truth, joulestat

TRACE = "steps:150,420,80,300@0.2"
PEAK = 420


class ModesCase(unittest.TestCase):
    def setUp(self):
        self.sim = NvmlSim(gpus=2, trace=TRACE).__enter__()
        self.saved = dict(os.environ)
        os.environ.update(self.sim.env())
        self.dir = tempfile.mkdtemp(prefix="jst-py-modes-")

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)
        self.sim.__exit__(None, None, None)
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def meter(self):
        return joulestat.Meter(backends=["nvml"], period_ms=20)

    def check_truth(self, m):
        """Every GPU of a measurement against the truth (after the meters close)."""
        self.assertEqual(sorted(m.gpu_energy), [0, 1])
        for idx, e in m.gpu_energy.items():
            assert_gpu_truth(self, self.sim, idx, e, m.begin_ns, m.end_ns,
                             PEAK * (1 - 0.05 * idx))

    def read_csv(self, path):
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    def assert_row(self, row, m, label):
        self.assertEqual(row["label"], label)
        self.assertEqual(float(row["duration_s"]), m.time)
        self.assertEqual(float(row["energy_j"]), m.total_energy)
        self.assertEqual(float(row["gpu_energy_j"]), sum(m.gpu_energy.values()))
        self.assertEqual((row["cpu_energy_j"], row["dram_energy_j"]), ("", ""))
        self.assertEqual(float(row["accuracy"]), m.accuracy)
        self.assertEqual(row["partial"], "0")
        self.assertTrue(row["timestamp"].endswith("Z"))


class ProtocolTest(ModesCase):
    def test_energy_backend_protocol_and_registry(self):
        from joulestat.backend import (EnergyBackend, EnergyMetrics, JoulestatBackend,
                                       register_energy_backend)
        backend = joulestat.get_energy_backend("joulestat", backends=["nvml"], period_ms=20)
        self.assertIsInstance(backend, EnergyBackend)
        self.assertIsInstance(backend, JoulestatBackend)
        self.assertEqual(backend.name, "joulestat")
        self.assertTrue(backend.is_available())
        outer = backend.start_tracking()
        inner = backend.start_tracking()  # trackers nest: a window each
        time.sleep(0.25)
        mi = backend.stop_tracking(inner)
        time.sleep(0.1)
        mo = backend.stop_tracking(outer)
        with self.assertRaisesRegex(TypeError, "tracker must be what start_tracking"):
            backend.stop_tracking("not a tracker")
        backend.close()
        self.sim.truth()
        for metrics in (mi, mo):
            self.assertIsInstance(metrics, EnergyMetrics)
            self.assertEqual(metrics.backend, "joulestat")
            self.assertEqual(metrics.method, "nvml/energy-counter")
            self.assertEqual(sorted(metrics.per_device), ["gpu0", "gpu1"])
            self.assertAlmostEqual(metrics.total_energy_j, sum(metrics.per_device.values()),
                                   places=6)
            self.assertEqual(metrics.gpu_energy_j, metrics.total_energy_j)
            self.assertIsNone(metrics.cpu_energy_j)
            self.assertGreaterEqual(metrics.accuracy, 0.05)  # the class, and the edges'
            self.assertAlmostEqual(metrics.uncertainty_j,
                                   metrics.accuracy * metrics.total_energy_j, places=6)
            self.assertFalse(metrics.estimated or metrics.partial)
            self.assertEqual(metrics.duration_s, metrics.measurement.time)
            self.check_truth(metrics.measurement)
        self.assertGreater(mo.duration_s, mi.duration_s + 0.09)

        with self.assertRaisesRegex(ValueError, r"name: no energy backend 'codecarbon'; "
                                                r"accepted: joulestat"):
            joulestat.get_energy_backend("codecarbon")
        register_energy_backend("constant", lambda: "a backend")
        self.assertEqual(joulestat.get_energy_backend("constant"), "a backend")

    def test_a_closed_given_meter_is_never_replaced(self):
        # A backend given a meter measures that meter's selection or nothing:
        # once it is closed, every use says so (before: a Meter() of every GPU).
        from joulestat.backend import JoulestatBackend
        meter = joulestat.Meter(backends="nvml", gpus=[0], period_ms=20)
        backend = JoulestatBackend(meter=meter)
        tracker = backend.start_tracking()
        time.sleep(0.1)
        metrics = backend.stop_tracking(tracker)
        self.assertEqual(sorted(metrics.measurement.gpu_energy), [0])
        meter.close()
        closed = "the meter given to JoulestatBackend is closed"
        with self.assertRaisesRegex(RuntimeError, closed):
            backend.start_tracking()
        self.assertFalse(backend.is_available())
        self.assertIn(closed, backend.why_unavailable)
        self.assertIs(backend._meter, meter)
        self.sim.truth()
        assert_gpu_truth(self, self.sim, 0, metrics.measurement.gpu_energy[0],
                         metrics.measurement.begin_ns, metrics.measurement.end_ns, PEAK)

    def test_unavailable_backend_says_why(self):
        os.environ["JSTSIM_NVML_FAIL_INIT"] = "1"  # read at the next nvmlInit
        backend = joulestat.get_energy_backend("joulestat", backends=["nvml"])
        self.assertFalse(backend.is_available())
        self.assertIn("nvml:", backend.why_unavailable)
        backend.close()


class ModesTest(ModesCase):
    def test_decorator_writes_a_row_per_call(self):
        path = os.path.join(self.dir, "calls.csv")
        seen = []
        with self.meter() as meter:
            @joulestat.track_energy(label="step", meter=meter, output_file=path,
                                    callback=seen.append)
            def step(x):
                time.sleep(0.12)
                return x + 1
            self.assertEqual([step(i) for i in range(3)], [1, 2, 3])
        rows = self.read_csv(path)
        self.assertEqual(len(rows), 3)
        self.sim.truth()
        for i, (row, m) in enumerate(zip(rows, seen)):
            self.assert_row(row, m, "step")
            self.assertEqual(row["row"], str(i))
            self.check_truth(m)
        self.assertIs(step.last_measurement, seen[-1])

    def test_async_and_generator_functions_are_measured_whole(self):
        # A decorator on an async def, a generator or an async generator
        # measures what the call spends: from its first step (or item) to its
        # completion, not the creation of the coroutine or generator.
        import asyncio
        whole = []  # (measurement, time before the call's first step, after its last)
        with self.meter() as meter:
            for how in ("track_energy", "measure", "EnergyTracker"):
                deco = {"track_energy": lambda: joulestat.track_energy(meter=meter),
                        "measure": lambda: meter.measure(),
                        "EnergyTracker": lambda: joulestat.EnergyTracker("t", meter=meter)}[how]()

                @deco
                async def coro(x):
                    await asyncio.sleep(0.3)
                    return x * 2

                @deco
                def gen(n):
                    total = 0
                    for i in range(n):
                        time.sleep(0.1)
                        total += (yield i) or 0
                    return total

                @deco
                async def agen(n):
                    for i in range(n):
                        await asyncio.sleep(0.1)
                        try:
                            yield i
                        except KeyError:
                            yield -1

                async def consume():
                    return [v async for v in agen(3)]

                async def thrown():
                    a = agen(2)
                    first = await a.__anext__()
                    second = await a.athrow(KeyError("k"))  # handled inside agen
                    await a.aclose()
                    return first, second

                with self.subTest(how=how):
                    c = coro(21)  # created, not yet run: nothing measured
                    self.assertIsNone(coro.last_measurement)
                    t0 = time.monotonic_ns()
                    self.assertEqual(asyncio.run(c), 42)
                    whole.append((coro.last_measurement, t0, time.monotonic_ns()))

                    g = gen(3)
                    self.assertIsNone(gen.last_measurement)
                    t0 = time.monotonic_ns()
                    self.assertEqual([next(g), g.send(5), g.send(7)], [0, 1, 2])
                    with self.assertRaises(StopIteration) as stop:
                        g.send(0)
                    self.assertEqual(stop.exception.value, 12)  # the return value passes
                    whole.append((gen.last_measurement, t0, time.monotonic_ns()))

                    t0 = time.monotonic_ns()
                    self.assertEqual(asyncio.run(consume()), [0, 1, 2])
                    whole.append((agen.last_measurement, t0, time.monotonic_ns()))

                    self.assertEqual(asyncio.run(thrown()), (0, -1))
                    self.assertIsNot(agen.last_measurement, whole[-1][0])

                    g = gen(10)
                    next(g)
                    g.close()  # abandoned early: measured up to its close
                    self.assertLess(gen.last_measurement.time, 0.25)
        self.sim.truth()
        for m, t0, t1 in whole:
            self.assertGreaterEqual(m.time, 0.3)
            self.assertLessEqual(t0, m.begin_ns)
            self.assertLessEqual(m.end_ns, t1)
            self.check_truth(m)

    def test_context_manager_and_explicit_start_stop(self):
        with self.meter() as meter:
            with joulestat.EnergyTracker("cm", meter=meter) as t:
                time.sleep(0.2)
            explicit = joulestat.EnergyTracker("explicit", meter=meter)
            self.assertIs(explicit.start(), explicit)
            self.assertTrue(explicit.running)
            with self.assertRaisesRegex(RuntimeError, "already started"):
                explicit.start()
            time.sleep(0.15)
            m2 = explicit.stop()
            self.assertFalse(explicit.running)
            with self.assertRaisesRegex(RuntimeError, "not started"):
                explicit.stop()
        self.assertEqual((t.measurement.name, m2.name), ("cm", "explicit"))
        self.assertIs(explicit.measurement, m2)
        self.sim.truth()
        self.check_truth(t.measurement)
        self.check_truth(m2)

    def test_tracker_with_meter_settings_opens_and_closes_its_own_meter(self):
        t = joulestat.EnergyTracker("own", backends=["nvml"], period_ms=20)
        t.start()
        meter = t._meter
        time.sleep(0.1)
        m = t.stop()
        self.assertTrue(meter.closed)
        self.sim.truth()
        self.check_truth(m)

    def test_background_rows_tile_the_run(self):
        path = os.path.join(self.dir, "rows.csv")
        period = 0.1
        with self.meter() as meter:
            t = joulestat.EnergyTracker("bg", meter=meter, period_s=period,
                                        output_file=path)
            t.start()
            deadline = time.monotonic() + 30
            while len(t.rows) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            whole = t.stop()
        rows = self.read_csv(path)
        self.assertGreaterEqual(len(t.rows), 5)  # 4 at the period, the rest at stop
        self.assertEqual(len(rows), len(t.rows))
        self.sim.truth()
        start = t.rows[0].begin_ns
        for k, (row, m) in enumerate(zip(rows, t.rows)):
            self.assert_row(row, m, "bg")
            self.check_truth(m)
            if k + 1 < len(t.rows):  # a row ends at its deadline or after, never before
                self.assertGreaterEqual(m.end_ns - start, (k + 1) * period * 1e9)
        for a, b in zip(t.rows, t.rows[1:]):
            self.assertEqual(a.end_ns, b.begin_ns)  # rotated: rows tile the run exactly
        # The whole span began just before the first row: the rows add up to it,
        # give or take what that instant and the last edge hold.
        self.assertAlmostEqual(sum(m.total_energy for m in t.rows), whole.total_energy,
                               delta=0.02 * whole.total_energy)
        self.check_truth(whole)

    def test_a_failed_csv_write_keeps_the_measurement(self):
        # The log's directory disappears mid-run: warned once, rows stop being
        # written, the window is still ended and the call's result returned.
        import shutil
        import threading
        import warnings
        logdir = os.path.join(self.dir, "logs")
        path = os.path.join(logdir, "e.csv")
        died = []
        saved_hook = threading.excepthook
        threading.excepthook = died.append
        self.addCleanup(setattr, threading, "excepthook", saved_hook)
        with self.meter() as meter, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            os.mkdir(logdir)
            t = joulestat.EnergyTracker("bg", meter=meter, period_s=0.05, output_file=path)
            t.start()
            deadline = time.monotonic() + 30
            while len(t.rows) < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            shutil.rmtree(logdir)
            while len(t.rows) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            whole = t.stop()
            self.assertIs(t.measurement, whole)
            self.assertGreaterEqual(len(t.rows), 5)  # rows went on being measured

            os.mkdir(logdir)

            @joulestat.track_energy(meter=meter, output_file=path)
            def step(x):
                if x == 1:
                    shutil.rmtree(logdir)
                return x * 10
            self.assertEqual([step(i) for i in range(3)], [0, 10, 20])
            last = step.last_measurement
        self.assertEqual(died, [])
        msgs = [str(w.message) for w in caught]
        self.assertEqual(len(msgs), 2, msgs)  # once per log, not once per row
        for msg in msgs:
            self.assertIn(repr(path), msg)
            self.assertIn("No such file or directory", msg)
        self.sim.truth()
        self.check_truth(whole)
        self.check_truth(last)

    def test_tracker_arguments(self):
        for kw, exc, pattern in [
            (dict(label=3), TypeError, "label must be a str"),
            (dict(period_s=0), ValueError, "period_s: 0 is not a positive"),
            (dict(period_s=-1.5), ValueError, "period_s: -1.5 is not a positive"),
            (dict(period_s="1"), TypeError, "period_s must be a number of seconds"),
            (dict(output_file=3.5), TypeError, "output_file must be a path"),
            (dict(meter="m"), TypeError, "meter must be a joulestat.Meter"),
        ]:
            with self.subTest(kw=kw), self.assertRaisesRegex(exc, pattern):
                joulestat.EnergyTracker(**kw)
        with self.assertRaisesRegex(TypeError, "track_energy decorates a callable"):
            joulestat.track_energy(3)

    def test_command_line(self):
        out = os.path.join(self.dir, "run.json")
        env = self.sim.env(JOULESTAT=binary("JOULESTAT"),
                           PYTHONPATH=os.path.dirname(os.path.dirname(joulestat.__file__)))
        proc = subprocess.run([sys.executable, "-m", "joulestat", "run", "--backends", "nvml",
                               "--json", out, "--", "sh", "-c", "sleep 0.5; exit 3"],
                              env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 3, proc.stderr)  # the command's own status
        self.assertIn("gpu0", proc.stderr + proc.stdout)
        with open(out) as f:
            run = json.load(f)["runs"][0]
        self.sim.truth()
        for d in run["domains"]:
            idx = int(d["name"][3:])
            assert_gpu_truth(self, self.sim, idx, d["energy_j"], run["begin_ns"],
                             run["end_ns"], PEAK * (1 - 0.05 * idx))
        env.pop("JOULESTAT")
        env["PATH"] = self.dir  # nowhere to find it
        proc = subprocess.run([sys.executable, "-m", "joulestat", "list"], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 127)
        self.assertIn("the joulestat program is not installed", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
