"""A `joulestat run` stopped (SIGSTOP, as `scontrol suspend` or a debugger
does) across several wraps of RAPL's counter while the power steps from 100 W
to 400 W: the figure is bridged, says the wraps were ambiguous, and its ± holds
the simulator's truth (the count from the power before the stall alone was
three wraps short, inside a 5% ±)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, binary, domains_by_name  # noqa: E402

# 100 W until 3 s into the simulator's run, 400 W for the rest of it.
TRACE = "steps:100,400,400,400,400,400,400,400@3.0"


class StallAcrossWrapsTest(unittest.TestCase):
    def test_stopped_run_states_the_wraps_it_could_not_count(self):
        fd, path = tempfile.mkstemp(prefix="jst-run-", suffix=".json")
        os.close(fd)
        try:
            with PowercapSim(packages=1, trace=TRACE, modulus_j=262.143328) as sim:
                proc = subprocess.Popen(
                    [binary("JOULESTAT"), "run", "--no-history", "--backends", "rapl",
                     "--json", path, "--", "sleep", "4"],
                    env=sim.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                # Stopped from 2.5 s to 4.6 s of the simulator's trace: across
                # the step, 1.2 to 4.8 moduli at the package's powers.
                time.sleep(max(0.0, sim.start_ns * 1e-9 + 2.5 - time.monotonic()))
                proc.send_signal(signal.SIGSTOP)
                time.sleep(2.1)
                proc.send_signal(signal.SIGCONT)
                out, err = proc.communicate(timeout=30)
                sim.stop()
            self.assertEqual(proc.returncode, 0, err)
            with open(path) as f:
                m = json.load(f)["runs"][0]
        finally:
            os.unlink(path)
        doms = domains_by_name(m)
        for name in ("package-0", "core-0"):
            d = doms[name]
            zone = sim.zone(name)
            truth = sim.window_truth(zone, m["begin_ns"], m["end_ns"])
            slack = sim.lag_slack(zone, m["begin_ns"], m["end_ns"])
            with self.subTest(domain=name, measured=d["energy_j"], u=d["uncertainty_j"],
                              truth=truth, note=d["note"]):
                self.assertGreaterEqual(sim.wraps_between(zone, m["begin_ns"], m["end_ns"]), 2)
                self.assertLessEqual(abs(d["energy_j"] - truth),
                                     d["uncertainty_j"] + slack + 1e-6)
                self.assertTrue(d["bridged"])
                self.assertIn("wraps ambiguous", d["note"])


if __name__ == "__main__":
    unittest.main()
