"""A PTD analyser served by joulestatd (protocol 2) to `joulestat run` as nobody:
the figure within its ± of sim/ptd's truth, the ± and notes as the ptd backend
gives root directly (steady, slower than declared), and two users' runs at
other periods at once. test_daemon_ptd_stall.py: a stall, the versions. The
bar: daemon_model.py."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_model import ModelCase, NoSysfs  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402


class PtdTest(ModelCase):
    def test_ptd_steady_means_as_direct(self):
        """An analyser that integrates, at steady power: the means model and
        the analyser's integrator (the gaps' energy) cross the daemon, so the
        ± is its class and the edges' share, as direct; under protocol 1 the
        means were taken for instantaneous power."""
        d, v = self.ptd_pair("const:220", 2, energy=True)
        self.assert_same_model(d, v)

    def test_ptd_slower_than_declared(self):
        """An analyser that samples every 0.25 s, asked for 0.1 s, watts
        alone: the interval it keeps (found at the probe, or once running)
        crosses the daemon (the note says so) and the ± is stated for it, as
        direct."""
        d, v = self.ptd_pair("const:300", 2, refresh=250)
        note = " ".join(self.clauses(v["note"]))
        self.assertTrue("the analyser's own" in note or "slower than the N s declared" in note,
                        note)
        self.assert_same_model(d, v)

    def test_ptd_steps_within_the_stated(self):
        """Steps of the power every second, watts alone: through the daemon
        the figure is within its ±, and the ± no wider than it should be."""
        with PtdSim("steps:100,500@1") as sim, NoSysfs() as root, \
                Daemon(root, "--backends", "ptd", "--allow-user", "nobody",
                       *sim.option()) as daemon:
            m = self.via_daemon(daemon, 2.5)
            v = self.one(m, "daemon")
            want = self.assert_within_its_uncertainty(sim, m, v, "ptd steps via joulestatd")
        self.assertFalse(v["partial"])
        # The class and the edges' share of a 400 W swing over a sample each.
        self.assertLess(v["uncertainty_j"], 0.01 * want + 2 * 400 * 0.1)

    def test_two_clients_at_other_periods(self):
        """Two users' runs at once through one daemon, sampling every 100 ms
        and every 370 ms: each is handed each mean once and the energy of the
        ones it did not see (the analyser's integrator, differenced from the
        daemon's running total), so each figure is within its ± of the truth,
        the ± no wider than the class and the edges."""
        with PtdSim("steps:100,500@0.7", energy=True) as sim, NoSysfs() as root, \
                Daemon(root, "--backends", "ptd", "--allow-user", "nobody",
                       *sim.option()) as daemon:
            runs = self.side_by_side(lambda: self.via_daemon(daemon, 2.5, ["--period", "100"]),
                                     lambda: self.via_daemon(daemon, 2.5, ["--period", "370"]))
            for m, period in zip(runs, (100, 370)):
                v = self.one(m, "daemon")
                want = self.assert_within_its_uncertainty(sim, m, v, "period %d ms" % period)
                self.assertLess(v["uncertainty_j"], 0.01 * want + 2 * 400 * 0.1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
