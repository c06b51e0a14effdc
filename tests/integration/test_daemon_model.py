"""joulestatd serving power means (protocol 2, docs/daemon.md): a PTD analyser
and a Redfish BMC read through the daemon by a user without privileges give
the figure, the uncertainty and the notes the same backend gives root
directly, against the simulators' truth; a stalled PTD's unseen seconds are
stated through it; and the versions are negotiated (a protocol 1 client is
told why it cannot be served means).

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
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure, run_joulestat, unprivileged_prefix  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402
from test_daemon import Daemon, client  # noqa: E402
from test_redfish import RedfishSim  # noqa: E402

# The share of the energy the daemon's statement may differ by from the direct one's.
SAME_U = 0.10


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


class ModelTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: the client runs as nobody beside the daemon")
        unprivileged_prefix()  # skips without setpriv

    def direct(self, backend, options, seconds):
        proc, doc = measure(["sleep", str(seconds)], env(), backends=backend, extra=options)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return doc["runs"][0]

    def via_daemon(self, daemon, seconds):
        """`joulestat run` as nobody, through the daemon only."""
        out = tempfile.mkdtemp(prefix="jst-dmodel-out-")
        os.chmod(out, 0o777)
        try:
            path = os.path.join(out, "m.json")
            proc = run_joulestat(
                ["run", "--json", path, "--backends", "daemon", "--option", "daemon.mode=always",
                 "--option", "daemon.socket=" + daemon.socket, "--", "sleep", str(seconds)],
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
        """The daemon's figure states what the direct one does: the ± within
        SAME_U (of the energy, or in joules, give or take slack_j), the same
        notes."""
        for key in ("kind", "method", "source", "accuracy", "partial", "bridged"):
            self.assertEqual(direct.get(key), via.get(key), key)
        self.assertEqual(re.sub(r":\d+$", "", direct["device"]),
                         re.sub(r":\d+$", "", via["device"]))
        if joules:
            u_d, u_v = direct["uncertainty_j"], via["uncertainty_j"]
        else:
            u_d = direct["uncertainty_j"] / direct["energy_j"]
            u_v = via["uncertainty_j"] / via["energy_j"]
        self.assertLessEqual(abs(u_v - u_d), SAME_U * u_d + slack_j,
                             "± %.4g through the daemon, %.4g direct" % (u_v, u_d))
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

    def test_ptd_steady_means_as_direct(self):
        """An analyser that integrates, at steady power: the means model and
        the analyser's integrator (the gaps' energy) cross the daemon, so the
        ± is its class and the edges' share, as direct; under protocol 1 the
        means were taken for instantaneous power."""
        d, v = self.ptd_pair("const:220", 2.5, energy=True)
        self.assert_same_model(d, v)

    def test_ptd_slower_than_declared(self):
        """An analyser that samples every 0.25 s, declared at 0.1 s, watts
        alone: the refresh it keeps crosses the daemon (the note says so) and
        the ± is stated for it, as direct."""
        d, v = self.ptd_pair("const:300", 2.5, refresh=250)
        self.assertIn("slower than the N s declared", " ".join(self.clauses(v["note"])))
        self.assert_same_model(d, v)

    def test_ptd_steps_within_the_stated(self):
        """Steps of the power every second, watts alone: through the daemon
        the figure is within its ±, and the ± no wider than it should be."""
        with PtdSim("steps:100,500@1") as sim, NoSysfs() as root, \
                Daemon(root, "--backends", "ptd", "--allow-user", "nobody",
                       *sim.option()) as daemon:
            m = self.via_daemon(daemon, 3)
            v = self.one(m, "daemon")
            want = self.assert_within_its_uncertainty(sim, m, v, "ptd steps via joulestatd")
        self.assertFalse(v["partial"])
        # The class and the edges' share of a 400 W swing over a sample each.
        self.assertLess(v["uncertainty_j"], 0.01 * want + 2 * 400 * 0.1)

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
