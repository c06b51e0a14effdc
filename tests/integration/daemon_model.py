"""For test_daemon_ptd.py and test_daemon_bmc.py: joulestatd serving power
means (protocol 2, docs/daemon.md) to `joulestat run` as nobody, beside the
same backend used directly by root.

The bar for "the same": the stated uncertainty within 10% (relative) of the
direct run's on the same trace (as a share of the energy, or in joules where a
stall's unseen seconds make it), and the same notes clause by clause but for
numbers, addresses and an error's quoted text. Each direct run and its daemon
run use a simulator of their own, started the same way; traces whose ±
depends on where the edges fall against the steps are held to the truth only.
One difference is allowed: a mean reaches a client of the daemon up to a
resolution (10 ms) later, so a window's end may miss the mean after it and
say "end not settled" where the direct run settled it (stated, not hidden).
"""
import concurrent.futures
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure, run_joulestat, unprivileged_prefix  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402
from test_daemon import Daemon  # noqa: E402

# How far the daemon's statement may be from the direct one's, as a factor. Each
# window edge cuts a sample that is stated anywhere from none of its energy to
# all of it (src/core/power_edge.c): that term is between half a sample's energy
# and a whole one as the edge falls in the sample, so two runs with edges at
# other phases state up to twice each other's. The model itself is told by the
# notes, which must be the same clause by clause (protocol 1 says it has none).
SAME_U = 2.2


class NoSysfs:
    """What test_daemon.Daemon wants of a simulator: a sysfs root (here an
    empty one: the daemon serves a PTD or a BMC, not RAPL)."""

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="jst-nosysfs-")
        os.chmod(self.root, 0o755)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)


def env():
    return {k: v for k, v in os.environ.items() if k != "JOULESTAT_OPTIONS"}


class ModelCase(unittest.TestCase):
    """What the tests of test_daemon_ptd.py and test_daemon_bmc.py share."""

    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: the client runs as nobody beside the daemon")
        unprivileged_prefix()  # skips without setpriv

    def direct(self, backend, options, seconds):
        proc, doc = measure(["sleep", str(seconds)], env(), backends=backend, extra=options)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return doc["runs"][0]

    def via_daemon(self, daemon, seconds, extra=()):
        """`joulestat run` as nobody, through the daemon only."""
        out = tempfile.mkdtemp(prefix="jst-dmodel-out-")
        os.chmod(out, 0o777)
        try:
            path = os.path.join(out, "m.json")
            proc = run_joulestat(
                ["run", "--json", path, "--backends", "daemon", "--option", "daemon.mode=always",
                 "--option", "daemon.socket=" + daemon.socket] + list(extra) +
                ["--", "sleep", str(seconds)],
                env=env(), prefix=unprivileged_prefix())
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(path) as f:
                return json.load(f)["runs"][0]
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def one(self, m, backend):
        self.assertEqual(len(m["domains"]), 1, m)
        d = m["domains"][0]
        self.assertEqual(d["backend"], backend)
        return d

    def assert_within_its_uncertainty(self, sim, m, d, what):
        want = sim.truth(m["begin_ns"], m["end_ns"])
        err = abs(d["energy_j"] - want)
        print("%-22s %9.2f J  truth %9.2f J  error %+6.3f%%  stated +-%6.3f%%  note: %s" % (
            what, d["energy_j"], want, 100 * (d["energy_j"] - want) / want,
            100 * d["uncertainty_j"] / want, d["note"]), file=sys.stderr)
        self.assertLessEqual(err, d["uncertainty_j"], "%s: truth outside the stated ±" % what)
        return want

    @staticmethod
    def clauses(note):
        """A note's clauses, numbers and addresses masked, an error's quoted
        text (the backend's own, which stays in the daemon) dropped."""
        note = re.sub(r"\(last: [^)]*\)", "", note)
        note = re.sub(r"127\.0\.0\.1:\d+", "ADDR", note)
        note = re.sub(r"\d+(\.\d+)?", "N", note)
        return sorted(c.strip() for c in note.split(";")
                      if c.strip() and not c.strip().startswith("end not settled"))

    def assert_same_model(self, direct, via, joules=False, slack_j=0.0):
        """The daemon's figure states what the direct one does: the ± within a
        factor SAME_U (of the energy, or in joules, give or take slack_j), the
        same notes."""
        for key in ("kind", "method", "source", "accuracy", "partial", "bridged"):
            self.assertEqual(direct.get(key), via.get(key), key)
        self.assertEqual(re.sub(r":\d+$", "", direct["device"]),
                         re.sub(r":\d+$", "", via["device"]))
        if joules:
            u_d, u_v = direct["uncertainty_j"], via["uncertainty_j"]
        else:
            u_d = direct["uncertainty_j"] / direct["energy_j"]
            u_v = via["uncertainty_j"] / via["energy_j"]
        what = "± %.4g through the daemon, %.4g direct" % (u_v, u_d)
        self.assertLessEqual(u_v, SAME_U * u_d + slack_j, what)
        self.assertGreaterEqual(u_v, u_d / SAME_U - slack_j, what)
        self.assertEqual(self.clauses(direct["note"]), self.clauses(via["note"]))

    @staticmethod
    def side_by_side(direct, via):
        """The direct run and the daemon's at once (each on its own simulator):
        the test takes as long as the longer."""
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a, b = pool.submit(direct), pool.submit(via)
            return a.result(), b.result()

    def ptd_pair(self, trace, seconds, **knobs):
        def direct():
            with PtdSim(trace, **knobs) as sim:
                m = self.direct("ptd", sim.option(), seconds)
                d = self.one(m, "ptd")
                self.assert_within_its_uncertainty(sim, m, d, "ptd direct")
                return d

        def via():
            with PtdSim(trace, **knobs) as sim, NoSysfs() as root, \
                    Daemon(root, "--backends", "ptd", "--allow-user", "nobody",
                           *sim.option()) as daemon:
                mv = self.via_daemon(daemon, seconds)
                v = self.one(mv, "daemon")
                self.assert_within_its_uncertainty(sim, mv, v, "ptd through joulestatd")
                return v

        return self.side_by_side(direct, via)
