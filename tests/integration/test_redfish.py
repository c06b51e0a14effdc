"""The redfish backend through the CLI against sim/redfish (HTTPS on loopback,
a certificate made here) and its ground truth: node energy within the
uncertainty the sensor model states, certificates checked by default,
credentials only from a private file, and a BMC that stalls, errs or dies."""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, domains_by_name, measure, run_joulestat, truth_energy,  # noqa: E402
                    wait_for_file)

SIM = os.path.join(REPO, "sim", "redfish", "redfish_sim.py")
STEPS = "steps:180,420,260,600@1.3"
# A job's phases, from the BMC's first request (joulestat's probe): a run of 6 s
# begins within half a second of it, so its edges fall on steady power.
PHASES = "0 350\n1.8 600\n3.0 200\n4.2 450\n"


def make_cert(d):
    if not shutil.which("openssl"):
        raise unittest.SkipTest("no openssl to make the simulator's certificate")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class RedfishSim:
    """sim/redfish/redfish_sim.py in a temporary directory, as a context manager."""
    cert_dir = None

    @classmethod
    def certificate(cls):
        if cls.cert_dir is None:
            cls.cert_dir = tempfile.mkdtemp(prefix="jst-rf-cert-")
            cls.cert, cls.key = make_cert(cls.cert_dir)
        return cls.cert, cls.key

    def __init__(self, trace="const:300", **knobs):
        self.trace = trace
        self.knobs = knobs

    def __enter__(self):
        cert, key = self.certificate()
        self.dir = tempfile.mkdtemp(prefix="jst-rf-")
        ready = self.ready = os.path.join(self.dir, "ready.json")
        if self.trace.startswith("phases"):
            # Beside the certificate: the truth is computed after the BMC is gone.
            path = os.path.join(self.cert_dir, "phases")
            with open(path, "w") as f:
                f.write(PHASES)
            self.trace = "file:" + path
            self.knobs["trace_from_first_request"] = True
        args = ["/usr/bin/python3", SIM, "--cert", cert, "--key", key, "--ready", ready,
                "--trace", self.trace]
        for k, v in self.knobs.items():
            flag = "--" + k.replace("_", "-")
            args += [flag] if v is True else [flag, str(v)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_file(ready, 30, self.proc)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        with open(ready) as f:
            info = json.load(f)
        self.port, self.t0_ns = info["port"], info["t0_ns"]
        self.url = "https://127.0.0.1:%d" % self.port
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def options(self, cafile=True, **more):
        opts = {"redfish.url": self.url}
        if cafile:
            opts["redfish.cafile"] = self.cert
        opts.update(more)
        out = []
        for k, v in opts.items():
            out += ["--option", "%s=%s" % (k, v)]
        return out

    def truth(self, begin_ns, end_ns):
        return truth_energy(self.trace, (begin_ns - self.t0_ns) / 1e9,
                            (end_ns - self.t0_ns) / 1e9)

    def origin(self):
        """After a run: where a trace from the first request starts."""
        if self.knobs.get("trace_from_first_request"):
            with open(self.ready + ".origin") as f:
                self.t0_ns = json.load(f)["t0_ns"]


def run(sim, seconds, extra=(), **opts):
    proc, doc = measure(["sleep", str(seconds)], dict(os.environ), backends="redfish",
                        extra=sim.options(**opts) + list(extra))
    if proc.returncode != 0 or doc is None:
        raise AssertionError("joulestat failed (%d): %s" % (proc.returncode, proc.stderr))
    return proc, doc["runs"][0]


# name: (sim's trace and knobs, run seconds, joulestat's options, extra arguments).
# The runs mostly wait: they run side by side, so that the file takes as long as
# its longest run.
SCENARIOS = {
    # Chassis 2 and 3 are enclosures inside chassis 1, with no meter of their own.
    "const": (("const:350", {"chassis": 3}), 2.5, {}, ()),
    "phases": (("phases", {"refresh": 1}), 6, {}, ()),
    # Steps anywhere, an edge within a refresh of one at times.
    "steps_1s": (("steps:180,420,260,600@2.5", {"refresh": 1}), 5, {}, ()),
    # Steps barely longer than the refresh: much is unseen, and said. The
    # end's bridge is stated from the range of the means the run has seen
    # (widened for how few they are): this run is a cycle of the trace (5.2 s)
    # or more, so that it has seen every level. Runs of every length are
    # covered in 96-100% of windows, not all (BENCHMARKS.md 3c measures them
    # over many windows in virtual time, tests/unit/test_bmc_model.c asserts).
    "fast_steps": ((STEPS, {"refresh": 1}), 6, {}, ()),
    "steps_2s": ((STEPS, {"refresh": 2}), 5, {"redfish.refresh": 2}, ()),
    # The same BMC left at the default 1 s: the poller sees its updates 2 s
    # apart and the model takes that (bmc_poll.c), inside the run.
    "steps_2s_undeclared": ((STEPS, {"refresh": 2}), 7, {}, ()),
    "env_6kw": (("steps:4000,6500@2.5", {"schema": "env", "energy": True}), 4, {}, ()),
    "energy": (("const:3000", {"schema": "both", "energy": True}), 2.5, {},
               ("--cross-validate",)),
    # Each fault lasts 0.8 s: longer than one poll interval (the BMC is polled
    # every half refresh, 0.5 s), so that one falls inside it however the polls
    # are phased; shorter than three, which would make the meter stopped.
    "faults": (("const:400", {"schema": "both", "errors": "1.2+0.8", "garbage": "2.5+0.8"}),
               4, {}, ()),
    "dead": (("const:400", {"die": 2}), 5, {}, ()),
    # A busy BMC's first answers take seconds (longer than a poll's 2 s
    # timeout): the discovery at open waits for them.
    "slow_open": (("const:350", {"slow": "0+3.5"}), 2.5, {}, ()),
    "stalled": (("const:400", {"stall": "2+30"}), 6, {"redfish.timeout": 1}, ()),
    # A stall over a short run's last seconds, fewer failed polls than make
    # the BMC gone (each takes the 2 s timeout), hiding a step of the power.
    "stalled_short": (("steps:200,800@2", {"stall": "1.5+30"}), 5, {}, ()),
}


def scenario(name):
    (trace, knobs), seconds, opts, extra = SCENARIOS[name]
    with RedfishSim(trace, **knobs) as sim:
        t = time.monotonic()
        _, m = run(sim, seconds, extra=extra, **opts)
        took = time.monotonic() - t
        sim.origin()
        return sim, m, took


class RedfishRunsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        RedfishSim.certificate()
        with concurrent.futures.ThreadPoolExecutor(len(SCENARIOS)) as pool:
            futures = {n: pool.submit(scenario, n) for n in SCENARIOS}
            cls.results = {n: f.result() for n, f in futures.items()}

    def check_truth(self, name, share, dom="redfish-1", k=1.0):
        """Truth within k times the stated uncertainty, and the statement below
        share of the energy (so that it cannot pass by being huge). The shares
        leave room for a loaded machine: a poll late past two refreshes widens
        the statement by the unseen time up to the power bound. A steady load
        on a window of a few refreshes states 11-17% (2.5 s at 1 s): the
        class, and the share of each cut refresh anywhere from none of its
        energy to all of it (src/core/power_edge.c)."""
        sim, m, _ = self.results[name]
        d = domains_by_name(m)[dom]
        want = sim.truth(m["begin_ns"], m["end_ns"])
        got, u = d["energy_j"], d["uncertainty_j"]
        print("%-10s %-18s got %9.1f J  truth %9.1f J  error %+5.1f%%  stated +-%5.1f%%" % (
            name, dom, got, want, 100 * (got - want) / want, 100 * u / want), file=sys.stderr)
        with self.subTest(scenario=name, got=got, truth=want, stated=u):
            self.assertLessEqual(abs(got - want), k * u, "truth outside the stated uncertainty")
            if share:
                self.assertLess(u, share * want, "a statement too wide to use")
        return d, want, m

    def test_constant_node_power(self):
        d, want, m = self.check_truth("const", 0.3)
        self.assertEqual(sorted(domains_by_name(m)), ["redfish-1"],
                         "enclosures inside the node are no domains of their own")
        self.assertEqual((d["kind"], d["method"], d["source"]), ("node", "power", "redfish-power"))
        self.assertEqual(d["device"], "node:bmc:127.0.0.1:1")
        self.assertAlmostEqual(d["energy_j"], want, delta=0.02 * want)
        t = m["totals"]
        self.assertAlmostEqual(t["system"]["energy_j"], d["energy_j"], delta=1e-6)
        self.assertNotIn("total", t, "a node meter is never added to the components")

    def test_phases_at_the_usual_1s_refresh(self):
        self.check_truth("phases", 0.4)

    # Where a step falls within a refresh and a half of the end, the BMC has
    # not yet shown it when the window ends: the end is bridged with the last
    # power, and stated as the power's recent spread over that gap (the
    # begin is settled on the readings after it once they are in).
    # The statement is a 95% one (coverage 96-100% for these traces in
    # virtual time: tests/unit/test_bmc_model.c asserts it over 200 windows,
    # BENCHMARKS.md 3c measures it): one real-time window where a step lands
    # at the end may fall outside it, 1 run in 50 or so. These single runs
    # hold the error to 1.5 times the statement, so that CI does not fail by
    # the statement's own odds, yet a gross error (the old bridged begin, or a
    # misplaced poll grid) still shows.
    def test_steps_anywhere_at_the_usual_1s_refresh(self):
        self.check_truth("steps_1s", 0.45, k=1.5)

    def test_steps_barely_longer_than_the_refresh(self):
        self.check_truth("fast_steps", 0.7, k=1.5)

    def test_slow_refresh_declared(self):
        # A BMC that updates every 2 s, declared: the figure widens, truth inside.
        self.check_truth("steps_2s", 0.6, k=1.5)

    def test_slow_refresh_undeclared(self):
        # A BMC that updates every 2 s, the option left at 1 s: the refresh
        # its updates show is taken during the run, the figure says so, and
        # what the readings before were off is stated: truth inside.
        d, _, _ = self.check_truth("steps_2s_undeclared", 0.6, k=1.5)
        self.assertIn("updates seen every 2 s, slower than the 1 s declared", d["note"])

    def test_high_power_environment_metrics_only(self):
        # The newer schema only (EnvironmentMetrics.PowerWatts), a 6.5 kW node:
        # 4 s on 2.5 s steps of 4 and 6.5 kW states 24-28% (the cut refreshes
        # at 6.5 kW); one poll late past two refreshes (a sanitizer's build on
        # a loaded machine: 94%) states that time up to the bound. Below the
        # energy itself, then.
        d, _, m = self.check_truth("env_6kw", 1.0)
        self.assertEqual(d["source"], "redfish-envmetrics")
        self.assertNotIn("redfish-1-energy", domains_by_name(m),
                         "the kWh counter only with --cross-validate")

    def test_energy_counter_cross_validated(self):
        power, _, m = self.check_truth("energy", 0.3)
        # The kWh counter is coarse (1 Wh), and stated so: truth within it.
        energy, _, _ = self.check_truth("energy", None, dom="redfish-1-energy")
        self.assertTrue(power["primary"])
        self.assertFalse(energy["primary"])
        self.assertEqual(energy["method"], "counter")
        self.assertAlmostEqual(m["totals"]["system"]["energy_j"], power["energy_j"], delta=1e-6)

    def test_transient_errors_and_garbled_replies_are_skipped_and_said(self):
        # HTTP 503 from 1.2 s for 0.8 s, then truncated JSON from 2.5 s for
        # 0.8 s: the note counts
        # the skipped readings and quotes the last error.
        d, _, _ = self.check_truth("faults", 0.15)
        self.assertFalse(d["partial"])
        self.assertIn("not JSON", d["note"])

    def test_dead_bmc_is_partial_with_a_reason(self):
        _, m, took = self.results["dead"]
        d = domains_by_name(m)["redfish-1"]
        self.assertTrue(d["partial"])
        self.assertIn("stopped answering", json.dumps(d))
        # Beyond the command itself: starting, settling and closing only.
        self.assertLess(took - (m["end_ns"] - m["begin_ns"]) / 1e9, 5,
                        "a dead BMC never holds the run up")

    def test_gone_bmc_keeps_what_its_rows_counted(self):
        # 503 from 1 s for 4 s at 400 W, a 0.5 s refresh: the poller calls
        # the BMC gone after three failed polls. The 250 ms rows had bridged
        # its power through the failing polls. The run, begun after its last
        # good mean (which stands a refresh back), ended at that mean: before
        # its own begin, at 0 J ("figure ends -1.000 s into the window"). It
        # now ends at the last edge the rows bridged, and the rows add up to it.
        # (some 2.5 s in: a run begun later, as a slow build's might, would
        # find it gone before its begin and test nothing here).
        with RedfishSim("const:400", refresh=0.5, errors="1.0+4.0") as sim:
            proc, doc = measure(["sleep", "4.5"], dict(os.environ), backends="redfish",
                                extra=sim.options() + ["-I", "250"])
            sim.origin()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        d = domains_by_name(m)["redfish-1"]
        self.assertTrue(d["partial"], d["note"])
        self.assertIn("stopped answering", d["note"])
        ends = re.search(r"figure ends (\d+\.\d+) s into the window", d["note"])
        self.assertIsNotNone(ends, d["note"])
        end_ns = m["begin_ns"] + int(float(ends.group(1)) * 1e9)
        want = sim.truth(m["begin_ns"], end_ns)
        self.assertGreater(want, 0)
        self.assertLessEqual(abs(d["energy_j"] - want), d["uncertainty_j"] + 400 * 0.0005,
                             (d, want))
        rows = [(r, domains_by_name(r)["redfish-1"]) for r in doc["intervals"]]
        counted = sum(x["energy_j"] for _, x in rows)
        # The first row begins on a reading of its own, after the run's.
        late_s = (rows[0][0]["begin_ns"] - m["begin_ns"]) * 1e-9
        self.assertAlmostEqual(d["energy_j"], counted, delta=400 * abs(late_s) + 1e-6)

    def test_slow_first_answers_are_waited_for(self):
        d, _, _ = self.check_truth("slow_open", 0.3)
        self.assertFalse(d["partial"], d["note"])
        self.assertGreaterEqual(self.results["slow_open"][2], 3.5 + 2.5)

    def test_stalled_bmc_is_bounded_by_the_timeout(self):
        # The BMC hangs every request from 2 s on: the run still ends on time.
        _, m, took = self.results["stalled"]
        d = domains_by_name(m)["redfish-1"]
        self.assertTrue(d["partial"])
        self.assertIn("timed out", json.dumps(d).lower())
        # The reason whole, not cut off mid-word ("Operati"): libcurl's
        # "Operation timed out after N milliseconds with 0 bytes received".
        self.assertIn("milliseconds", d["note"])
        self.assertLess(took - (m["end_ns"] - m["begin_ns"]) / 1e9, 5)


    def test_stall_over_the_end_is_stated(self):
        # Was 54% low, stated 5% and not bridged: the end is bridged from the
        # last mean, and beyond two refreshes anything up to the supplies'
        # capacity is stated.
        d, _, _ = self.check_truth("stalled_short", 0)
        self.assertTrue(d["bridged"], d["note"])


class RedfishRefusalTest(unittest.TestCase):
    def line(self, args, sim=None):
        proc = run_joulestat(["list"] + args)
        from common import unwrap_list
        lines = [ln for ln in unwrap_list(proc.stdout).splitlines()
                 if ln.strip().startswith("redfish ")]
        self.assertEqual(len(lines), 1, proc.stdout)
        return lines[0]

    def test_unconfigured(self):
        self.assertIn("not configured", self.line([]))

    def test_self_signed_certificate_refused_by_default(self):
        with RedfishSim() as sim:
            out = self.line(sim.options(cafile=False))
        self.assertIn("unavailable", out)
        self.assertIn("certificate", out)

    def test_insecure_skips_the_check(self):
        with RedfishSim() as sim:
            out = self.line(sim.options(cafile=False, **{"redfish.insecure": 1}))
        self.assertIn("available", out)
        self.assertNotIn("unavailable", out)

    def credentials(self, d, mode, text="admin:s3cret\n"):
        path = os.path.join(d, "cred")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_credentials_readable_by_others_refused(self):
        with tempfile.TemporaryDirectory() as d, RedfishSim(user="admin:s3cret") as sim:
            path = self.credentials(d, 0o644)
            out = self.line(sim.options(**{"redfish.credentials": path}))
        self.assertIn("can be read by others", out)
        self.assertIn("chmod 600", out)

    def test_private_credentials_accepted_wrong_ones_said(self):
        with tempfile.TemporaryDirectory() as d, RedfishSim(user="admin:s3cret") as sim:
            good = self.credentials(d, 0o600)
            self.assertNotIn("unavailable", self.line(sim.options(**{"redfish.credentials": good})))
            self.assertIn("credentials refused", self.line(sim.options()))
            bad = self.credentials(d, 0o600, "admin\nwrong\n")
            self.assertIn("credentials refused",
                          self.line(sim.options(**{"redfish.credentials": bad})))

    def test_no_credentials_in_clear(self):
        with tempfile.TemporaryDirectory() as d:
            path = self.credentials(d, 0o600)
            out = self.line(["--option", "redfish.url=http://127.0.0.1:1",
                             "--option", "redfish.credentials=" + path])
        self.assertIn("never in clear", out)

    def test_nobody_listening(self):
        out = self.line(["--option", "redfish.url=https://127.0.0.1:1",
                         "--option", "redfish.timeout=0.5"])
        self.assertIn("unavailable", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
