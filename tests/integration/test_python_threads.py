"""The re-entrant decorator: a recursive function decorated with Meter.measure
(and joulestat.track_energy) called from 8 threads at once. Every call gets a
window of its own; each figure matches the NVML simulator's truth, and a
thread's windows nest as its calls do."""
import os
import sys
import threading
import time
import unittest

from nvml_sim import NvmlSim
from pyjoulestat import assert_gpu_truth, joulestat

TRACE = "steps:120,380,60,250@0.05"
PEAK = 380
THREADS = 8
DEPTH = 3


class ReentrantTest(unittest.TestCase):
    def setUp(self):
        self.sim = NvmlSim(gpus=2, trace=TRACE).__enter__()
        self.saved = dict(os.environ)
        os.environ.update(self.sim.env())

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)
        self.sim.__exit__(None, None, None)

    def run_threads(self, decorate):
        """Decorate a recursive function, call it from 8 threads at once; return
        [(thread, depth, measurement)] for every call."""
        got, lock = [], threading.Lock()
        local = threading.local()

        def collect(m):
            with lock:
                got.append((threading.get_ident(), local.depth, m))

        @decorate(collect)
        def walk(depth):
            local.depth = depth
            time.sleep(0.02)
            if depth < DEPTH:
                walk(depth + 1)
                local.depth = depth  # the inner call's collect saw its own
            time.sleep(0.02)
            return depth

        barrier = threading.Barrier(THREADS)
        results = []

        def thread():
            barrier.wait()
            results.append(walk(1))
        ts = [threading.Thread(target=thread) for _ in range(THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(results, [1] * THREADS)  # the function's own result
        return got

    def check(self, got):
        self.assertEqual(len(got), THREADS * DEPTH)
        self.sim.truth()
        by_thread = {}
        for tid, depth, m in got:
            by_thread.setdefault(tid, {})[depth] = m
            self.assertEqual(m.name, "ReentrantTest.run_threads.<locals>.walk")  # __qualname__
            self.assertEqual(sorted(m.gpu_energy), [0, 1])
            for idx, e in m.gpu_energy.items():
                assert_gpu_truth(self, self.sim, idx, e, m.begin_ns, m.end_ns,
                                 PEAK * (1 - 0.05 * idx))
        self.assertEqual(len(by_thread), THREADS)
        for calls in by_thread.values():
            self.assertEqual(sorted(calls), list(range(1, DEPTH + 1)))
            for d in range(1, DEPTH):  # each call's window holds its inner call's
                outer, inner = calls[d], calls[d + 1]
                self.assertLess(outer.begin_ns, inner.begin_ns)
                self.assertGreater(outer.end_ns, inner.end_ns)
                # Each figure is final when its window ends: the outer holds
                # the inner to within their stated uncertainties.
                slack = (outer.accuracy * outer.total_energy +
                         inner.accuracy * inner.total_energy)
                self.assertGreater(outer.gpu_energy[0] + slack, inner.gpu_energy[0])

    def test_meter_measure(self):
        with joulestat.Meter(backends=["nvml"], period_ms=20) as meter:
            got = self.run_threads(lambda cb: meter.measure(callback=cb))
        self.check(got)

    def test_track_energy(self):
        with joulestat.Meter(backends=["nvml"], period_ms=20) as meter:
            got = self.run_threads(
                lambda cb: joulestat.track_energy(meter=meter, callback=cb))
        self.check(got)

    def test_exception_in_a_call_still_ends_its_window(self):
        seen = []
        with joulestat.Meter(backends=["nvml"]) as meter:
            @meter.measure("boom", callback=seen.append)
            def boom():
                raise RuntimeError("inside")
            with self.assertRaisesRegex(RuntimeError, "inside"):
                boom()
            self.assertEqual(len(seen), 1)
            self.assertIs(boom.last_measurement, seen[0])
            self.assertEqual(boom.__name__, "boom")


class SlowReadGilTest(unittest.TestCase):
    """On a slow driver (each NVML call 2 ms, JSTSIM_NVML_READ_US), window edges
    that read the device release the GIL while they read: another Python thread
    makes progress during a loop of window begin/end. With a switch interval of
    a second, a loop that kept the GIL through its reads would let it run at
    most once or twice; progress is counted, not timed."""

    LOOPS = 60

    def test_other_thread_runs_during_slow_reads(self):
        sim = NvmlSim(trace="const:300", counter_tick_ms=20, read_us=2000).__enter__()
        saved = dict(os.environ)
        os.environ.update(sim.env())
        old_interval = sys.getswitchinterval()
        try:
            with joulestat.Meter(backends=["nvml"], allow_estimate=False,
                                 options={"edge_read": "always"}) as meter:
                count = [0]
                stop = threading.Event()

                def spin():
                    while not stop.is_set():
                        count[0] += 1
                        # Gives the GIL back at once, so that the loop's own
                        # return from a read never waits for this thread.
                        time.sleep(0.0001)

                sys.setswitchinterval(1.0)
                t = threading.Thread(target=spin)
                t.start()
                progressed, last = 0, count[0]
                for _ in range(self.LOOPS):
                    w = meter.window("slow")
                    with w:
                        pass
                    self.assertIsNotNone(w.measurement)
                    progressed += count[0] != last
                    last = count[0]
                stop.set()
                t.join()
        finally:
            sys.setswitchinterval(old_interval)
            os.environ.clear()
            os.environ.update(saved)
            sim.__exit__(None, None, None)
        self.assertGreaterEqual(progressed, self.LOOPS // 2,
                                f"the other thread ran during {progressed} of "
                                f"{self.LOOPS} window loops")


if __name__ == "__main__":
    unittest.main(verbosity=2)
