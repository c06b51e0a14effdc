"""A Redfish BMC and an IPMI (DCMI) one served by joulestatd (protocol 2) to
`joulestat run` as nobody: their means over a 1 s refresh give the figure, ±
and notes the backend gives root directly. The bar: daemon_model.py."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_model import ModelCase, NoSysfs  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from test_ipmi import IpmiSim  # noqa: E402
from test_redfish import RedfishSim  # noqa: E402


class BmcTest(ModelCase):
    def test_redfish_means_as_direct(self):
        """A Redfish BMC's means over its 1 s refresh, through the daemon."""
        RedfishSim.certificate()
        # The daemon reads the CA file after it drops to nobody.
        os.chmod(RedfishSim.cert_dir, 0o755)

        def direct():
            with RedfishSim("const:350") as sim:
                m = self.direct("redfish", sim.options(), 2.5)
                d = self.one(m, "redfish")
                self.assert_within_its_uncertainty(sim, m, d, "redfish direct")
                return d

        def via():
            with RedfishSim("const:350") as sim, NoSysfs() as root, \
                    Daemon(root, "--backends", "redfish", "--allow-user", "nobody",
                           *sim.options()) as daemon:
                mv = self.via_daemon(daemon, 2.5)
                v = self.one(mv, "daemon")
                self.assert_within_its_uncertainty(sim, mv, v, "redfish through joulestatd")
                return v

        d, v = self.side_by_side(direct, via)
        self.assert_same_model(d, v)



    def test_ipmi_means_as_direct(self):
        """A DCMI power reading's means, through the daemon (which reads the
        credentials as root, before it drops to nobody)."""

        def direct():
            with IpmiSim("const:420") as sim:
                m = self.direct("ipmi", sim.options(), 2.5)
                d = self.one(m, "ipmi")
                self.assert_within_its_uncertainty(sim, m, d, "ipmi direct")
                return d

        def via():
            with IpmiSim("const:420") as sim, NoSysfs() as root, \
                    Daemon(root, "--backends", "ipmi", "--allow-user", "nobody",
                           *sim.options()) as daemon:
                mv = self.via_daemon(daemon, 2.5)
                v = self.one(mv, "daemon")
                self.assert_within_its_uncertainty(sim, mv, v, "ipmi through joulestatd")
                return v

        d, v = self.side_by_side(direct, via)
        self.assert_same_model(d, v)


if __name__ == "__main__":
    unittest.main(verbosity=2)
