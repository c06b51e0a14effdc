"""joulestat run ends each run's window settled (jst_window_end_settled): on a GPU
whose energy counter refreshes every 100 ms, drawing a bursty load, the figure of a
run states less than with --no-settle (the end edge extrapolated from the last
latch) and the truth stays inside it; a RAPL-only run does not wait."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, domains_by_name, measure  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402

RUNS = 5


class SettledRunTest(unittest.TestCase):
    def runs(self, extra):
        """RUNS runs of 2 to 2.9 s on a bursty GPU: the stated ± relative to the truth
        of each settled run after the first, and the notes of those not settled."""
        with NvmlSim(trace="bursty:5", counter_tick_ms=100) as sim:
            # Each run 30 ms longer than the one before, modulo 100: their ends
            # fall at other phases of the counter's refresh (runs of one length
            # all end at one phase, and where that is just after a latch an
            # immediate end states as little as a settled one).
            count = os.path.join(sim.dir, "runs")
            cmd = ["sh", "-c", 'n=$(cat "$0" 2>/dev/null || echo 0); echo $((n + 1)) > "$0"; '
                   'sleep 2.$(printf %02d $((n * 30 % 100)))', count]
            proc, doc = measure(cmd, sim.env(), backends="nvml",
                                extra=["-r", str(RUNS)] + list(extra))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIsNotNone(doc, proc.stderr)
            sim.truth()
        out, unsettled = [], []
        for k, m in enumerate(doc["runs"]):
            g = domains_by_name(m)["gpu0"]
            truth = sim.exact_truth(0, m["begin_ns"], m["end_ns"])
            self.assertGreater(truth, 50)
            self.assertLessEqual(abs(g["energy_j"] - truth), g["uncertainty_j"],
                                 f"{extra}: {g['energy_j']} ± {g['uncertainty_j']} J, "
                                 f"truth {truth} J")
            note = g["note"] or ""
            # A counter that moves is never said to have stood still, however
            # late the wait's reads return: only a read begun after its one and
            # a half refreshes says so.
            self.assertNotIn("did not move", note)
            # A wait's read held past the latch after next (a loaded machine)
            # leaves the end bounded by that latch, and says so: that run is
            # left out of the comparison.
            if "not settled" in note:
                unsettled.append(note)
                continue
            # The first run begins while the counter's latch grid is still wide
            # (two latches may fit its begin edge), which both ends state alike:
            # the ends are compared on the runs after it.
            if k:
                out.append(g["uncertainty_j"] / truth)
        return out, unsettled

    def test_settled_states_less_on_a_slow_counter(self):
        # Both at once (each its own simulator): the commands only sleep.
        got = {}

        def one(key, extra):
            try:
                got[key] = self.runs(extra)
            except BaseException as e:  # re-raised below, in the test's thread
                got[key] = e

        t = threading.Thread(target=one, args=("immediate", ["--no-settle"]))
        t.start()
        one("settled", [])
        t.join()
        for v in got.values():
            if isinstance(v, BaseException):
                raise v
        (settled, missed), (immediate, _) = got["settled"], got["immediate"]
        # Runs whose wait was held too long, again, up to two more sets: four
        # settled runs compared.
        for _ in range(2):
            if len(settled) >= RUNS - 1:
                break
            more, late = self.runs([])
            settled += more
            missed += late
        print(f"not settled: {missed}")
        self.assertGreaterEqual(len(settled), 2, f"{len(settled)} runs settled: {missed}")
        settled = settled[:RUNS - 1]
        # The mean of the three least of each: a read preempted on a loaded
        # machine states its own timing (power x half the call), which can make
        # any run of four state twice as much (13% once in CI; two of four at
        # 11-13% under a load of 6 tests at once, the others 5.2-5.4%). An
        # immediate end states less where it fell just after a latch (5.06% at
        # the least): the mean of three shows what ending settled states; the
        # unit test holds the same bar in virtual time, for every window.
        least_s, least_i = sorted(settled)[:3], sorted(immediate)[:3]
        low_s = sum(least_s) / len(least_s)
        low_i = sum(least_i) / len(least_i)
        print(f"stated ± settled {[round(100 * x, 2) for x in settled]} % "
              f"(mean of the three least {100 * low_s:.2f} %), --no-settle "
              f"{[round(100 * x, 2) for x in immediate]} % (mean of the three least "
              f"{100 * low_i:.2f} %)")
        self.assertLess(low_s, low_i)
        # The counter's 5% class, and what its two edges add (at most spread x r/4
        # each, a few % of a 2 s run's energy, added in quadrature), plus the
        # reads' own timing, which a loaded machine stretches (the unit test
        # holds the 6% bar in virtual time).
        self.assertLessEqual(low_s, 0.065)

    def test_rapl_only_does_not_wait(self):
        with PowercapSim() as sim:
            t0 = time.monotonic()
            proc, doc = measure(["true"], sim.env(), backends="rapl", extra=["-r", "5"])
            took = time.monotonic() - t0
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for m in doc["runs"]:
            for d in m["domains"]:
                self.assertNotIn("not settled", d["note"] or "")
        print(f"rapl only, 5 runs of true: {took:.3f} s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
