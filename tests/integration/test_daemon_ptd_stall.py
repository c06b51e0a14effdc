"""A PTD analyser served by joulestatd (protocol 2): a 2 s stall's unseen
seconds stated to `joulestat run` as nobody as the ptd backend states them to
root directly, and the versions negotiated (a protocol 1 client told why it
cannot be served means). The bar: daemon_model.py."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_model import ModelCase, NoSysfs  # noqa: E402
from test_daemon import Daemon, client  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402


class PtdStallTest(ModelCase):
    def test_ptd_stall_states_its_unseen_seconds(self):
        """A 2 s stall across a step, watts alone: bridged, and its unseen
        seconds stated up to the power bound (tens of kJ: the analyser could
        have drawn anything), through the daemon as directly. Those seconds
        are timed by failed polls (every interval, and the daemon's resolution
        on top): within 0.15 s at the bound (50 kW) of the direct ones."""
        d, v = self.ptd_pair("steps:100,500@1", 3.5, stall="0.8+2")
        self.assertTrue(v["bridged"], v["note"])
        self.assertGreater(v["uncertainty_j"], 10 * v["energy_j"])
        self.assert_same_model(d, v, joules=True, slack_j=50000 * 0.15)

    def test_versions_negotiated(self):
        """A daemon serving means answers protocol 2 to a client that speaks
        it, and tells a protocol 1 client why it cannot serve it."""
        with PtdSim("const:100") as sim, NoSysfs() as root, \
                Daemon(root, "--backends", "ptd", "--allow-user", "nobody",
                       *sim.option()) as daemon:
            h = client("hello", daemon.socket, 1, 2)
            self.assertEqual(h.get("version"), 2, h)
            self.assertEqual(h["ndomains"], 1)
            old = client("hello", daemon.socket, 1, 1)
            self.assertEqual(old.get("error"), -93, old)  # EPROTONOSUPPORT
            self.assertIn("needs protocol 2", old["text"])
            future = client("hello", daemon.socket, 3, 9)
            self.assertEqual(future.get("error"), -93, future)
            self.assertIn("versions 1 to 2", future["text"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
