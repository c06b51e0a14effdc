"""joulestat validate with a PTDaemon (sim/ptd) beside RAPL's components
(sim/powercap): the node's energy against the sum of the components it
contains, the rest of the system and its share, the analyser as the node's
reference, and an analyser's channels adding up to the node."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, run_joulestat  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402


class ValidateTest(unittest.TestCase):
    """joulestat validate with a PTDaemon beside the components: the node's
    energy against their sum, the rest of the system and its share, the
    analyser as the node's reference."""

    def validate(self, sims, rapl, cmd=("sleep", "1.5")):
        env = rapl.env()
        env.pop("JOULESTAT_OPTIONS", None)
        addrs = ",".join(s.address() for s in sims)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "v.json")
            proc = run_joulestat(["validate", "--json", out, "--backends", "ptd,rapl",
                                  "--option", "ptd.address=" + addrs, "--"] + list(cmd),
                                 env=env)
            with open(out) as f:
                return proc, json.load(f)

    def test_node_against_components(self):
        with PtdSim("steps:380,420@0.3") as sim, \
                PowercapSim(packages=2, trace="const:40") as rapl:
            proc, doc = self.validate([sim], rapl)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        r = doc["runs"][0]
        node = [g for g in doc["groups"] if g["kind"] == "node"]
        self.assertEqual(len(node), 1)
        self.assertEqual(node[0]["device"], "node")
        system = doc["systems"][0]
        self.assertEqual(system["backend"], "ptd")
        self.assertEqual(system["name"], "ptd0")
        self.assertTrue(system["reference"])
        self.assertFalse(system["inconsistent"])
        self.assertEqual(system["components"], "total")
        ptd = [d for d in r["domains"] if d["backend"] == "ptd"][0]
        self.assertAlmostEqual(system["energy_j"]["mean"], ptd["energy_j"], places=6)
        # The node's figure is its truth over its own span.
        want = sim.truth(r["begin_ns"], r["end_ns"])
        self.assertLess(abs(ptd["energy_j"] - want), 0.005 * want + ptd["uncertainty_j"])
        # The components: every package and DRAM, never the node itself.
        parts = r["totals"]["total"]["energy_j"]
        self.assertAlmostEqual(system["components_j"]["mean"], parts, places=6)
        self.assertNotIn("system", [k for k in r["totals"] if k == "total" and
                                    r["totals"]["total"]["parts"] == 0])
        rest = system["rest_of_system_j"]["mean"]
        self.assertAlmostEqual(rest, ptd["energy_j"] - parts, places=6)
        self.assertGreater(rest, 0)
        self.assertAlmostEqual(system["rest_of_system_fraction"]["mean"],
                               rest / ptd["energy_j"], places=9)
        self.assertIn("rest of system", proc.stdout)
        self.assertIn("the reference for the node", proc.stdout)

    def test_two_channels_are_one_node(self):
        """An analyser's two channels (two power supplies) add up to the node."""
        with PtdSim("const:150") as a, PtdSim("const:170") as b, \
                PowercapSim(packages=1, trace="const:30") as rapl:
            proc, doc = self.validate([a, b], rapl, cmd=("sleep", "1"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        system = doc["systems"][0]
        self.assertEqual(len(doc["systems"]), 1)
        self.assertEqual(system["name"], "ptd0+ptd1")
        r = doc["runs"][0]
        both = sum(d["energy_j"] for d in r["domains"] if d["backend"] == "ptd")
        self.assertAlmostEqual(system["energy_j"]["mean"], both, places=6)
        # Each channel's figure spans its own whole samples: it is off the
        # window's instants by less than a sample at each end, and says so.
        u = sum(d["uncertainty_j"] for d in r["domains"] if d["backend"] == "ptd")
        self.assertLess(abs(both - 320 * r["duration_s"]), u)


if __name__ == "__main__":
    unittest.main()
