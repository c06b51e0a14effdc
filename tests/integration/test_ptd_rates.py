"""The ptd backend at the sample rates real analysers keep behind PTDaemon (a
Yokogawa WT210/WT310: 1 s by default, some setups 0.5 s), against sim/ptd's
truth: a 3 s stall of the server is bridged, never the end of the domain (it
was declared lost, the figure ending at the stall, -92%); with the analyser's
integrator (Wh) the stall costs nothing; the default interval (100 ms) against
an analyser that keeps 1 s measures at 1 s (it was "unavailable"); and an
analyser slower than asked is declared at the interval it keeps from the
start: its note says so, and its uncertainty is the one it has when configured
so (it was 11x wider, the note contradicting itself).

Each case starts its own simulator and joulestat; the commands only sleep, so
three run at a time."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402


def run_case(trace, knobs, extra, cmd):
    """One simulator and one `joulestat run`: (proc, first measurement, its
    domain, its truth J, sim's final counts, [(domain, truth J) of every run])."""
    env = {k: v for k, v in os.environ.items() if k != "JOULESTAT_OPTIONS"}
    with PtdSim(trace, **knobs) as sim:
        proc, doc = measure(list(cmd), env, backends="ptd",
                            extra=sim.option() + list(extra), timeout=60)
        final = sim.stop()
        if proc.returncode != 0 or not doc:
            return proc, None, None, None, final, []
        runs = [(m["domains"][0], sim.truth(m["begin_ns"], m["end_ns"])) for m in doc["runs"]]
        m = doc["runs"][0]
        return proc, m, runs[0][0], runs[0][1], final, runs


# A 3 s stall from 2 s into the trace: the window (after the probe's first
# sample, about 1 s) runs across it and 1.5 s beyond.
STALL = "2+3"
CASES = {
    # Watts alone on a level load: the stall's span is bridged at the power
    # around it, which is the truth.
    "1 s samples, stall, watts": (
        "const:1500", dict(refresh=1000, stall=STALL), ["--option", "ptd.interval=1000"],
        ["sleep", "5.5"]),
    "0.5 s samples, stall, watts": (
        "const:1500", dict(refresh=500, stall=STALL), ["--option", "ptd.interval=500"],
        ["sleep", "5.5"]),
    # The power steps from 300 W to 1500 W inside the stall (at 4 s): only the
    # analyser's integrator knows when, and it is taken.
    "1 s samples, stall across a step, Wh": (
        "steps:300,1500@4", dict(refresh=1000, stall=STALL, energy=True),
        ["--option", "ptd.interval=1000"], ["sleep", "5.5"]),
    # The default interval (100 ms) asked of an analyser that keeps 1 s.
    "default interval, 1 s analyser": (
        "const:1500", dict(refresh=1000), [], ["sleep", "0.3"]),
    # An analyser that keeps 0.5 s, asked for 100 ms and asked for 500 ms.
    "0.5 s analyser, asked 100 ms": (
        "bursty:7", dict(refresh=500), [], ["sleep", "2.5"]),
    "0.5 s analyser, asked 500 ms": (
        "bursty:7", dict(refresh=500), ["--option", "ptd.interval=500"], ["sleep", "2.5"]),
    # One that samples on its own grid, its first update 50 ms after Go: the
    # probe cannot tell it from one that keeps 100 ms, the poller finds it out
    # at its second sample. Three windows one after the other.
    "0.5 s analyser, first sample soon after Go": (
        "bursty:7", dict(refresh=500, first=50), ["-r", "3"], ["sleep", "1.5"]),
}


class RatesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.got = {}
        keys = list(CASES)
        gate = threading.Semaphore(3)

        def one(key):
            with gate:
                try:
                    cls.got[key] = run_case(*CASES[key])
                except BaseException as e:  # re-raised in the test that reads it
                    cls.got[key] = e

        threads = [threading.Thread(target=one, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def case(self, key):
        got = self.got[key]
        if isinstance(got, BaseException):
            raise got
        proc, m, dom, want, final, _ = got
        self.assertEqual(proc.returncode, 0, "%s: %s" % (key, proc.stderr))
        self.assertIsNotNone(m, proc.stderr)
        err = dom["energy_j"] - want
        msg = "%s: %.2f J, truth %.2f J (%+.3f%%), stated +- %.2f J; %s" % (
            key, dom["energy_j"], want, 100 * err / want, dom["uncertainty_j"], dom["note"])
        self.assertLessEqual(abs(err), dom["uncertainty_j"], msg)
        return proc, m, dom, want, final, err, msg

    def check_stall(self, key):
        proc, m, dom, want, final, err, msg = self.case(key)
        self.assertNotIn("PTDaemon lost", proc.stderr, msg)
        self.assertFalse(dom["partial"], msg)
        self.assertGreaterEqual(m["duration_s"], 5.5, msg)
        self.assertGreaterEqual(final["missed"], 1, "the stall hid samples: " + msg)
        return dom, want, err, msg

    def test_stall_at_1s_samples(self):
        dom, want, err, msg = self.check_stall("1 s samples, stall, watts")
        self.assertLessEqual(abs(err), 0.002 * want, msg)

    def test_stall_at_half_second_samples(self):
        dom, want, err, msg = self.check_stall("0.5 s samples, stall, watts")
        self.assertLessEqual(abs(err), 0.002 * want, msg)

    def test_stall_across_a_step_with_the_integrator(self):
        """Within the class (the edges' cut samples apportioned by their means:
        0.2% off on a loaded machine, where an edge fell in a step's sample),
        and stated as the class and, at each edge, a sample's worth of the
        steps' range (1200 W x 1 s): no share of the stall is stated up to the
        power bound (50 kW a second), as with watts alone. Held to two
        samples' worth at each edge: one CI run beside a concurrent build
        stated 3146 J (its figure 0.8% off, inside it; the cause not found,
        the run's timing not kept), 1350-1360 J otherwise, loaded or not;
        the bound would state tens of kJ."""
        dom, want, err, msg = self.check_stall("1 s samples, stall across a step, Wh")
        self.assertLessEqual(abs(err), 0.01 * want, msg)
        self.assertLess(dom["uncertainty_j"], 0.01 * want + 2 * 2 * 1200 * 1.0, msg)

    def test_default_interval_against_a_1s_analyser(self):
        proc, m, dom, want, final, err, msg = self.case("default interval, 1 s analyser")
        self.assertIn("1000 ms samples", dom["note"], msg)
        self.assertIn("asked for 100 ms", dom["note"], msg)
        self.assertLessEqual(abs(err), 0.002 * want, msg)

    def test_slower_analyser_is_modelled_as_configured(self):
        _, _, slow, want, _, err, msg = self.case("0.5 s analyser, asked 100 ms")
        _, _, conf, want_c, _, _, msg_c = self.case("0.5 s analyser, asked 500 ms")
        self.assertIn("500 ms samples", slow["note"], msg)
        self.assertNotIn("slower than", slow["note"], msg)
        self.assertNotIn("100 ms samples", slow["note"], msg)
        self.assertNotIn("asked for", conf["note"], msg_c)
        # The same trace over nearly the same span: stated alike (it was 11x
        # wider), each no wider than the class and half the bursts' swing
        # (340 W) over the sample each edge cuts.
        self.assertLess(slow["uncertainty_j"], 2 * conf["uncertainty_j"] + 0.01 * want,
                        msg + " | " + msg_c)
        self.assertLess(slow["uncertainty_j"], 0.01 * want + 340 * 0.5, msg)

    def test_slower_analyser_found_once_running(self):
        """Found slower only by the poller: the first window, begun on a mean
        placed as a 100 ms one, is stated wider (the steps of the means may
        stand up to 0.4 s off); the next ones are modelled at 500 ms, their
        +- no wider than the class and the bursts' swing over the sample each
        edge cuts (stated from none of its energy to all of it: power_edge.c),
        as the configured analyser's in the test above (they were the first
        one's again at each clock estimate, the measured interval moving by
        microseconds)."""
        key = "0.5 s analyser, first sample soon after Go"
        proc, m, dom, want, final, err, msg = self.case(key)
        runs = self.got[key][5]
        self.assertEqual(len(runs), 3, proc.stderr)
        self.assertIn("slower than the 0.1 s declared", dom["note"], msg)
        for i, (d, t) in enumerate(runs):
            what = "%s, run %d: %.2f J, truth %.2f J, stated +- %.2f J; %s" % (
                key, i, d["energy_j"], t, d["uncertainty_j"], d["note"])
            self.assertLessEqual(abs(d["energy_j"] - t), d["uncertainty_j"], what)
            if i:
                self.assertLess(d["uncertainty_j"], 0.01 * t + 340 * 0.5, what)


if __name__ == "__main__":
    unittest.main()
