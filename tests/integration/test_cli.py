"""The joulestat command line: options, exit statuses, signals, outputs, list,
the estimate's labelling, burn, validate. Runs on any machine: the estimate
backend is always there, and the simulators stand in for RAPL and NVML."""
import csv
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (EmptyMachine, PowercapSim, binary, domains_by_name, measure,  # noqa: E402
                    run_joulestat, wait_for_file)
from nvml_sim import NvmlSim  # noqa: E402


def default_signals():
    """In the child: SIGINT as a terminal would deliver it, even when the test
    runner started us with it ignored (joulestat keeps ignored signals ignored)."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


class CliCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.machine = EmptyMachine().__enter__()
        cls.env = cls.machine.env()

    @classmethod
    def tearDownClass(cls):
        cls.machine.__exit__(None, None, None)

    def run_cli(self, *args, **kw):
        return run_joulestat(list(args), env=kw.pop("env", self.env), **kw)

    def measure(self, cmd, extra=(), backends=None, env=None):
        proc, doc = measure(cmd, env or self.env, backends=backends, extra=extra)
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal: " + proc.stderr)
        return proc, doc

    def signalled(self, args, nudge, timeout, **popen):
        """joulestat with args, run until nudge(p) has signalled it and it ends:
        (returncode, stdout, stderr). Killed if anything fails on the way."""
        popen.setdefault("preexec_fn", default_signals)
        p = subprocess.Popen([binary("JOULESTAT")] + list(args), env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
        try:
            nudge(p)
            stdout, stderr = p.communicate(timeout=timeout)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return p.returncode, stdout, stderr


class UsageTest(CliCase):
    def assert_usage_error(self, args, needle):
        proc = self.run_cli(*args)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 2, proc.stderr)  # the error, then the hint
        self.assertTrue(lines[0].startswith("joulestat: "), lines[0])
        self.assertIn(needle, lines[0])
        self.assertIn("joulestat", lines[1])
        self.assertIn("help", lines[1])

    def test_bad_options(self):
        for args, needle in (
            (["run", "--bogus", "--", "true"], "'--bogus'"),
            (["run", "-r"], "'-r' needs an argument"),
            (["run", "-r", "0", "--", "true"], "'0'"),
            (["run", "-r", "3x", "--", "true"], "'3x'"),
            (["run", "--interval", "fast", "--", "true"], "'fast'"),
            (["run", "--period", "-5", "--", "true"], "'-5'"),
            (["run", "--cross-validate=yes", "--", "true"], "takes no argument"),
            (["run", "--json", "-", "--csv", "-", "--", "true"], "stdout"),
            (["run"], "no command"),
            (["run", "--backends", "nosuch", "--", "true"], "unknown backend 'nosuch'"),
            (["run", "--option", "nosuch.key=1", "--", "true"],
             "--option nosuch.key=1: unknown option 'nosuch.key' (known: backends, gpus, "
             "period_ms, cross_validate, estimate, series_capacity, edge_read, ptd.*, "),
            (["run", "--option", "ptd.adress=x", "--", "true"],
             "unknown option 'ptd.adress' (ptd's keys: ptd.address, ptd.interval, ptd.ranges, "
             "ptd.timeout, ptd.kind)"),
            (["list", "--option", "period_ms=-5"],
             "period_ms: want a whole number of milliseconds from 1 to 3600000, not '-5'"),
            (["validate", "--option", "backends=nvml,gpu", "--seconds", "1"],
             "unknown backend 'gpu' (known: ptd, dcgm, nvml, amdsmi, rapl, rapl-perf, rapl-msr, daemon, hwmon, apple, jetson, redfish, ipmi, estimate)"),
            (["list", "--option", "nvml.library"], "--option wants KEY=VALUE"),
            (["list", "--option", "=x"], "--option wants KEY=VALUE"),
            (["list", "--option", "estimate=perhaps"], "estimate: want 0 or 1"),
            (["list", "--option", "edge_read=never"], "edge_read: want auto or always, not 'never'"),
            (["list", "--gpus", "0,,x"], "gpus: want GPU indices or UUIDs"),
            (["list", "extra"], "'extra'"),
            (["burn", "--seconds", "0"], "'0'"),
            (["validate", "--seconds", "1", "--", "true"], "--seconds"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["--frobnicate"], "'--frobnicate'"),
            (["help", "frobnicate"], "'frobnicate'"),
        ):
            with self.subTest(args=args):
                self.assert_usage_error(args, needle)

    def test_no_command_at_all(self):
        proc = self.run_cli()
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage: joulestat", proc.stderr)

    def test_help_and_version(self):
        for args in (["--help"], ["help"], ["help", "run"], ["run", "--help"], ["list", "-h"],
                     ["help", "validate"], ["burn", "--help"]):
            with self.subTest(args=args):
                proc = self.run_cli(*args)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("usage: joulestat", proc.stdout)
        self.assertIn("--json FILE", self.run_cli("help", "run").stdout)
        proc = self.run_cli("--version")
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"^joulestat \d+\.\d+\.\d+")


class ExitStatusTest(CliCase):
    def test_missing_command_is_127(self):
        proc, doc = self.measure(["jst-no-such-command-xyz", "arg"])
        self.assertEqual(proc.returncode, 127)
        self.assertIn("joulestat: cannot run 'jst-no-such-command-xyz': No such file or directory",
                      proc.stderr)
        self.assertIsNone(doc)

    def test_not_executable_is_126(self):
        with tempfile.NamedTemporaryFile(prefix="jst-noexec-") as f:
            # No execute bit at all: even root cannot run it.
            os.chmod(f.name, stat.S_IRUSR | stat.S_IWUSR)
            proc = self.run_cli("run", "--", f.name)
        self.assertEqual(proc.returncode, 126, proc.stderr)
        self.assertIn("cannot run '%s'" % f.name, proc.stderr)

    def test_exit_status_passes_through(self):
        proc, doc = self.measure(["sh", "-c", "exit 3"])
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(doc["exit_status"], 3)
        self.assertEqual(doc["runs"][0]["exit_status"], 3)
        self.assertEqual(doc["command"], ["sh", "-c", "exit 3"])

    def test_repeat_reports_a_later_run_that_cannot_start(self):
        # The first run removes the command: the second cannot start (127),
        # which must not pass for success because the first run succeeded.
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "once.sh")
            with open(script, "w") as f:
                f.write('#!/bin/sh\nrm -f "$0"\n')
            os.chmod(script, 0o755)
            proc, doc = self.measure([script], extra=["-r", "3"])
        self.assertEqual(proc.returncode, 127, proc.stderr)
        self.assertIn("cannot run", proc.stderr)
        self.assertEqual(doc["exit_status"], 127)
        self.assertEqual([m["exit_status"] for m in doc["runs"]], [0])

    def test_killed_by_a_signal_is_128_plus_it(self):
        proc, doc = self.measure(["sh", "-c", "kill -KILL $$"])
        self.assertEqual(proc.returncode, 128 + signal.SIGKILL, proc.stderr)
        self.assertEqual(doc["exit_status"], 137)
        self.assertEqual(len(doc["runs"]), 1)


TRAPPER = r"""#!/bin/sh
trap 'echo TERM >> "$1"; exit 7' TERM
trap 'echo INT >> "$1"; exit 8' INT
: > "$2"
i=0
while [ $i -lt 200 ]; do sleep 0.02; i=$((i + 1)); done
exit 0
"""


class SignalTest(CliCase):
    def forwarded(self, sig, want_status):
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "trapper.sh")
            with open(script, "w") as f:
                f.write(TRAPPER)
            os.chmod(script, 0o755)
            log, ready, out = (os.path.join(d, n) for n in ("log", "ready", "out.json"))

            def nudge(p):
                wait_for_file(ready, 10, p)
                time.sleep(0.1)
                p.send_signal(sig)

            rc, _, stderr = self.signalled(["run", "--json", out, "--", script, log, ready],
                                           nudge, 20)
            self.assertEqual(rc, want_status, stderr)
            with open(log) as f:
                self.assertEqual(f.read().split(), [signal.Signals(sig).name[3:]])
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(doc["exit_status"], want_status)
        m = doc["runs"][0]
        self.assertGreater(m["duration_s"], 0.1)
        self.assertIn("cpu", domains_by_name(m))
        self.assertIn("Energy of", stderr)  # the table too
        self.assertIn("passed it on", stderr)

    def test_a_run_cut_short_is_left_out_of_the_statistics(self):
        # -r 5: runs 1 and 2 end on their own; run 3 is cut short by SIGINT,
        # which ends the repetition. The statistics are those of runs 1 and 2,
        # and say so; run 3 is reported on its own, and marked in the JSON.
        script = ("n=$(cat \"$1\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$1\"; "
                  "if [ $n -lt 3 ]; then sleep 0.3; exit 0; fi; "
                  "trap 'exit 8' INT; : > \"$2\"; "
                  "i=0; while [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done")
        with tempfile.TemporaryDirectory() as d:
            count, ready, out = (os.path.join(d, n) for n in ("count", "ready", "out.json"))

            def nudge(p):
                wait_for_file(ready, 30, p)
                p.send_signal(signal.SIGINT)

            rc, _, stderr = self.signalled(["run", "-r", "5", "--json", out, "--", "sh", "-c",
                                            script, "sh", count, ready], nudge, 30)
            self.assertEqual(rc, 8, stderr)
            with open(out) as f:
                doc = json.load(f)
        runs = doc["runs"]
        self.assertEqual(len(runs), 3)
        self.assertEqual([r.get("interrupted", False) for r in runs], [False, False, True])
        kept = runs[:2]
        s = doc["summary"]
        total = s["totals"]["total"]["energy_j"]
        self.assertEqual((total["runs"], total["runs_excluded"]), (2, 1))
        energies = [r["totals"]["total"]["energy_j"] for r in kept]
        self.assertAlmostEqual(total["mean"], sum(energies) / 2, places=6)
        self.assertAlmostEqual(total["max"], max(energies), places=6)
        self.assertAlmostEqual(s["duration_s"]["mean"],
                               sum(r["duration_s"] for r in kept) / 2, places=6)
        self.assertEqual(s["duration_s"]["runs_excluded"], 1)
        for d in s["domains"]:
            self.assertEqual(d["energy_j"]["runs_excluded"], 1, d["name"])
        self.assertIn("(2 of 3 runs)", stderr)
        cut = runs[2]["totals"]["total"]
        self.assertIn("run 3, cut short by a signal: %.3f ± %.3f J (total) in %.3f s, left out "
                      "of the statistics" % (cut["energy_j"], cut["uncertainty_j"],
                                             runs[2]["duration_s"]), stderr)

    def test_sigterm_is_forwarded_and_the_json_written(self):
        self.forwarded(signal.SIGTERM, 7)

    def test_sigint_is_forwarded_and_the_json_written(self):
        self.forwarded(signal.SIGINT, 8)


COUNT_SIGINT = r"""
import signal, sys, time
log, ready = sys.argv[1:3]
got = []
signal.signal(signal.SIGINT, lambda *a: got.append(1))
open(ready, "w").close()
deadline = time.monotonic() + 20
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.5)  # room for a second, duplicate SIGINT to arrive
with open(log, "w") as f:
    f.write(str(len(got)))
sys.exit(8)
"""


class TerminalSignalTest(CliCase):
    def test_ctrl_c_reaches_the_command_once(self):
        # Ctrl-C on a terminal: the kernel signals the whole foreground process
        # group, joulestat and the command alike. joulestat must survive it, not
        # pass it on a second time, and still write the measurement.
        import fcntl
        import pty
        import termios
        master, slave = pty.openpty()

        def as_terminal_job():
            default_signals()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "count.py")
            with open(script, "w") as f:
                f.write(COUNT_SIGINT)
            log, ready, out = (os.path.join(d, n) for n in ("log", "ready", "out.json"))

            def nudge(p):
                os.close(slave)
                wait_for_file(ready, 20, p)
                os.write(master, b"\x03")

            try:
                rc, _, stderr = self.signalled(
                    ["run", "--json", out, "--", sys.executable, script, log, ready], nudge, 30,
                    stdin=slave, start_new_session=True, preexec_fn=as_terminal_job)
            finally:
                os.close(master)
            self.assertEqual(rc, 8, stderr)
            with open(log) as f:
                self.assertEqual(f.read(), "1")
            with open(out) as f:
                self.assertEqual(json.load(f)["exit_status"], 8)


class ChildTest(CliCase):
    """What the measured command inherits from joulestat: nothing of its own."""

    STATUS = "grep -E '^Sig(Blk|Ign):' /proc/self/status"

    def test_signal_state_is_what_it_would_be_without_joulestat(self):
        # A direct run is the reference: the test runner may have left
        # something ignored, and joulestat must neither add nor remove any.
        direct = subprocess.run(["sh", "-c", self.STATUS], capture_output=True, text=True,
                                preexec_fn=default_signals, check=True).stdout
        proc = subprocess.run([binary("JOULESTAT"), "run", "-q", "--", "sh", "-c", self.STATUS],
                              env=self.env, capture_output=True, text=True, timeout=60,
                              preexec_fn=default_signals)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, direct)

    def test_output_files_are_not_inherited(self):
        with tempfile.TemporaryDirectory() as d:
            paths = [os.path.join(d, n) for n in ("out.json", "out.csv", "table.txt")]
            proc = self.run_cli("run", "--json", paths[0], "--csv", paths[1], "-o", paths[2],
                                "--", "sh", "-c",
                                'for f in /proc/self/fd/*; do readlink "$f"; done; true')
            self.assertEqual(proc.returncode, 0, proc.stderr)
            for path in paths:
                self.assertNotIn(path, proc.stdout)
                self.assertGreater(os.path.getsize(path), 0)

    def test_an_argument_that_is_not_utf8_keeps_the_rest(self):
        # jansson refuses invalid UTF-8: only the bad byte may be replaced,
        # the valid text around it (however long) must survive.
        arg = "é" * 600 + "\ufffd" + "z"
        raw = ("é" * 600).encode() + b"\xe9z"
        proc = subprocess.run([binary("JOULESTAT"), "run", "--json", "-", "--", "true", raw],
                              env=self.env, capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["command"], ["true", arg])


class OutputTest(CliCase):
    def test_repeat_gives_runs_and_summary(self):
        proc, doc = self.measure(["sleep", "0.1"], extra=["-r", "3"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(doc["runs"]), 3)
        self.assertEqual([m["name"] for m in doc["runs"]], ["run-1", "run-2", "run-3"])
        s = doc["summary"]
        self.assertEqual(s["runs"], 3)
        for stat in [s["duration_s"], s["totals"]["cpu"]["energy_j"]] + \
                [d["energy_j"] for d in s["domains"]] + [d["avg_power_w"] for d in s["domains"]]:
            self.assertEqual(sorted(stat), ["max", "mean", "min", "runs", "runs_excluded", "stddev"])
            self.assertGreaterEqual(stat["stddev"], 0)
            self.assertLessEqual(stat["min"], stat["mean"])
            self.assertLessEqual(stat["mean"], stat["max"])
        cpu = [m["totals"]["cpu"]["energy_j"] for m in doc["runs"]]
        self.assertAlmostEqual(s["totals"]["cpu"]["energy_j"]["mean"], sum(cpu) / 3, places=9)
        self.assertIn("3 runs", proc.stderr)
        self.assertIn("±", proc.stderr)

    def test_accuracy_of_repeated_runs_is_the_means(self):
        # Runs of very different length on a bursty GPU: the first's figure
        # is far less certain than the second's. Each row's ± is that of the
        # mean over the same runs (sum of uncertainties / sum of energies),
        # in the table and in the summary, for the domain and its totals alike.
        with tempfile.TemporaryDirectory() as d:
            flag, out = os.path.join(d, "flag"), os.path.join(d, "out.json")
            cmd = ('if [ -e "$1" ]; then sleep 1.5; else touch "$1"; sleep 0.12; fi')
            with NvmlSim(gpus=1, trace="bursty:7") as sim:
                proc = run_joulestat(["run", "--no-history", "--backends", "nvml", "-r", "2",
                                      "--json", out, "--", "sh", "-c", cmd, "sh", flag],
                                     env=sim.env())
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(out) as f:
                doc = json.load(f)
        runs = doc["runs"]
        rel = [r["totals"]["total"]["uncertainty_j"] / r["totals"]["total"]["energy_j"]
               for r in runs]
        # The runs' own figures differ as shown: a row taken from either run
        # alone would disagree with a row taken from the other.
        self.assertNotEqual(round(100 * rel[0]), round(100 * rel[1]), rel)
        want = (sum(r["totals"]["total"]["uncertainty_j"] for r in runs) /
                sum(r["totals"]["total"]["energy_j"] for r in runs))
        s = doc["summary"]
        self.assertAlmostEqual(s["domains"][0]["accuracy"], want, places=9)
        for k in ("gpu", "total"):
            self.assertAlmostEqual(s["totals"][k]["accuracy"], want, places=9)
        shown = "± %.0f%%" % (100 * want)
        rows = {}
        for ln in proc.stderr.splitlines():  # the table's rows, before the telemetry's
            if ln.strip().split()[:1] in (["gpu0"], ["gpu"], ["total"]):
                rows.setdefault(ln.split()[0], ln)
        self.assertEqual(sorted(rows), ["gpu", "gpu0", "total"], proc.stderr)
        for name, line in rows.items():
            self.assertIn(shown, line, name)

    def test_single_run_has_no_summary(self):
        proc, doc = self.measure(["true"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("summary", doc)
        self.assertNotIn("intervals", doc)

    def test_json_to_stdout(self):
        proc = self.run_cli("run", "--json", "-", "--", "true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual(doc["joulestat"], self.run_cli("--version").stdout.split()[1])
        for key in ("command", "exit_status", "partial", "runs"):
            self.assertIn(key, doc)
        m = doc["runs"][0]
        for key in ("name", "begin_ns", "end_ns", "duration_s", "partial", "domains", "totals"):
            self.assertIn(key, m)
        self.assertGreater(m["end_ns"], m["begin_ns"])
        self.assertAlmostEqual(m["duration_s"], (m["end_ns"] - m["begin_ns"]) * 1e-9, places=6)
        d = m["domains"][0]
        self.assertEqual(sorted(d), sorted([
            "name", "kind", "device", "backend", "method", "source", "accuracy", "energy_j",
            "avg_power_w", "peak_power_w", "samples", "primary", "partial", "note", "parent",
            "temperature_max_c", "utilization_mean_pct", "clock_mean_mhz", "power_limit_w",
            "uncertainty_j", "short_window", "bridged", "counted"]))
        for t in m["totals"].values():
            self.assertEqual(sorted(t), sorted(["energy_j", "avg_power_w", "accuracy", "parts",
                                                "estimated", "partial", "uncertainty_j"]))
            self.assertGreater(t["parts"], 0)
        self.assertIn("Energy of", proc.stderr)

    def test_csv_to_stdout(self):
        proc = self.run_cli("run", "--csv", "-", "-r", "2", "--", "true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rows = list(csv.DictReader(io.StringIO(proc.stdout)))
        self.assertTrue(rows)
        self.assertEqual(sorted({r["window"] for r in rows}), ["run-1", "run-2"])
        doms = [r for r in rows if r["type"] == "domain"]
        totals = [r for r in rows if r["type"] == "total"]
        self.assertEqual({r["name"] for r in doms}, {"cpu"})
        self.assertIn("total", {r["name"] for r in totals})
        for r in rows:
            # As many fields as the header: none missing (None), none extra (key None).
            self.assertNotIn(None, r)
            self.assertNotIn(None, r.values())
            self.assertIn("power_limit_w", r)
            float(r["energy_j"])
            self.assertEqual(r["exit_status"], "0")
            self.assertIn(r["run"], ("1", "2"))
        self.assertEqual(doms[0]["method"], "estimate")
        self.assertEqual(doms[0]["estimated"], "1")

    def test_quiet_and_output_file(self):
        proc = self.run_cli("run", "-q", "--", "true")
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stderr, "")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "table.txt")
            proc = self.run_cli("run", "-o", path, "--", "true")
            self.assertEqual(proc.returncode, 0)
            self.assertEqual(proc.stderr, "")
            with open(path) as f:
                self.assertIn("Energy of 'true'", f.read())

    def test_unwritable_output_fails_before_running(self):
        with tempfile.TemporaryDirectory() as d:
            flag = os.path.join(d, "ran")
            proc = self.run_cli("run", "--json", os.path.join(d, "no", "such.json"), "--",
                                "touch", flag)
            self.assertNotEqual(proc.returncode, 0)
            self.assertFalse(os.path.exists(flag))
        self.assertIn("joulestat: cannot write", proc.stderr)

    def test_interval_rows(self):
        # The command ends once five rows are in the table (-o, written as they
        # come): five rows by construction, however loaded the machine.
        with tempfile.TemporaryDirectory() as d:
            table = os.path.join(d, "table.txt")
            wait = ("i=0; while [ \"$(grep -c '^ *[0-9]' \"$1\" 2>/dev/null)\" -lt 5 ] && "
                    "[ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done")
            proc, doc = self.measure(["sh", "-c", wait, "sh", table],
                                     extra=["--interval", "100", "-o", table])
            with open(table) as f:
                text = f.read()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rows = [ln for ln in text.splitlines()
                if re.match(r"^\s*\d+\.\d+\s+1(\s+-?\d+\.\d+)+\s*$", ln)]
        self.assertGreaterEqual(len(rows), 5, text)
        self.assertIn("time s", text)
        ivs = doc["intervals"]
        self.assertEqual(len(ivs), len(rows))
        ends = [iv["end_ns"] for iv in ivs]
        self.assertEqual(ends, sorted(ends))
        for iv in ivs:
            self.assertEqual(iv["run"], 1)
            self.assertIn("cpu", domains_by_name(iv))
        # Each interval begins before the one before it ends: nothing is left out.
        for a, b in zip(ivs, ivs[1:]):
            self.assertLessEqual(b["begin_ns"], a["end_ns"])


class AtomicOutputTest(CliCase):
    """Regular files are written to a temporary beside them and renamed over
    them at the end: an earlier result is never lost to a run that fails."""

    OLD = "the previous result\n"

    def prepare(self, d, names=("out.json", "out.csv", "table.txt"), mode=0o600):
        paths = [os.path.join(d, n) for n in names]
        for path in paths:
            with open(path, "w") as f:
                f.write(self.OLD)
            os.chmod(path, mode)
        return paths

    def assert_old(self, paths):
        for path in paths:
            with open(path) as f:
                self.assertEqual(f.read(), self.OLD, path)

    def test_interval_rows_can_be_followed_in_the_output_file(self):
        # -o FILE with --interval is written in place: the command itself can
        # read rows that joulestat wrote while it runs.
        with tempfile.TemporaryDirectory() as d:
            table = os.path.join(d, "table.txt")
            seen = os.path.join(d, "seen.txt")
            script = ("i=0; while [ $i -lt 100 ]; do "
                      "if grep -q '^ *0\\.[0-9]' \"$1\" 2>/dev/null; then cp \"$1\" \"$2\"; exit 0; fi; "
                      "sleep 0.05; i=$((i+1)); done; exit 1")
            proc = self.run_cli("run", "-I", "50", "-o", table, "--",
                                "sh", "-c", script, "sh", table, seen)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(seen) as f:
                self.assertRegex(f.read(), r"(?m)^#\s+time s")
            self.assertEqual([n for n in os.listdir(d) if n.startswith(".")], [])

    def test_files_are_replaced_whole(self):
        with tempfile.TemporaryDirectory() as d:
            paths = self.prepare(d, names=("out.csv", "table.txt"))
            new = os.path.join(d, "new.json")
            proc = subprocess.run(
                [binary("JOULESTAT"), "run", "--json", new, "--csv", paths[0], "-o", paths[1],
                 "-r", "2", "--", "true"],
                env=self.env, capture_output=True, text=True, timeout=60,
                preexec_fn=lambda: os.umask(0o027))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(new) as f:
                self.assertEqual(len(json.load(f)["runs"]), 2)
            with open(paths[0]) as f:
                self.assertEqual(f.readline().split(",")[0], "window")
            with open(paths[1]) as f:
                self.assertTrue(f.read().startswith("\n Energy of 'true'"))
            # An existing file keeps its mode; a new one gets what fopen gives.
            for path in paths:
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
            self.assertEqual(stat.S_IMODE(os.stat(new).st_mode), 0o640)
            self.assertEqual(sorted(os.listdir(d)), ["new.json", "out.csv", "table.txt"])

    def test_killed_run_keeps_the_previous_files(self):
        with tempfile.TemporaryDirectory() as d:
            paths = self.prepare(d)
            # The command kills joulestat itself: nothing can be written.
            proc = self.run_cli("run", "--json", paths[0], "--csv", paths[1], "-o", paths[2],
                                "--", "sh", "-c", "kill -KILL $PPID")
            self.assertEqual(proc.returncode, -signal.SIGKILL, proc.stderr)
            self.assert_old(paths)
            # What a killed joulestat may leave: its temporaries, hidden, by their names.
            for name in set(os.listdir(d)) - {"out.json", "out.csv", "table.txt"}:
                self.assertRegex(name, r"^\.(out\.json|out\.csv|table\.txt)\.[A-Za-z0-9]{6}$")

    def test_a_later_output_that_cannot_be_opened_keeps_the_earlier(self):
        with tempfile.TemporaryDirectory() as d:
            paths = self.prepare(d, names=("out.json",))
            flag = os.path.join(d, "ran")
            proc = self.run_cli("run", "--json", paths[0], "--csv",
                                os.path.join(d, "no", "such.csv"), "--", "touch", flag)
            self.assertEqual(proc.returncode, 125, proc.stderr)
            self.assertIn("cannot write", proc.stderr)
            self.assertFalse(os.path.exists(flag))
            self.assert_old(paths)
            self.assertEqual(os.listdir(d), ["out.json"])

    def test_nothing_measured_keeps_the_previous_file(self):
        with tempfile.TemporaryDirectory() as d:
            paths = self.prepare(d, names=("out.json",))
            proc = self.run_cli("run", "--json", paths[0], "--", "jst-no-such-command-xyz")
            self.assertEqual(proc.returncode, 127, proc.stderr)
            self.assert_old(paths)
            self.assertEqual(os.listdir(d), ["out.json"])

    def test_validate_json_is_replaced_whole(self):
        with tempfile.TemporaryDirectory() as d:
            paths = self.prepare(d, names=("v.json",))
            proc = self.run_cli("validate", "--json", paths[0], "--", "true")
            # 3: too short to compare, as a few ms of `true` is.
            self.assertIn(proc.returncode, (0, 1, 3), proc.stderr)
            with open(paths[0]) as f:
                self.assertEqual(json.load(f)["workload"]["command"], ["true"])
            self.assertEqual(os.listdir(d), ["v.json"])
            proc = self.run_cli("validate", "--json", paths[0], "--", "jst-no-such-command-xyz")
            self.assertEqual(proc.returncode, 127, proc.stderr)
            with open(paths[0]) as f:
                self.assertEqual(json.load(f)["workload"]["command"], ["true"])
            self.assertEqual(os.listdir(d), ["v.json"])

    def test_pipes_are_written_directly(self):
        # /dev/stdout is the pipe the test reads: a FIFO, not a file to replace.
        proc = self.run_cli("run", "-q", "--json", "/dev/stdout", "--", "true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["exit_status"], 0)
        with tempfile.TemporaryDirectory() as d:
            fifo = os.path.join(d, "fifo")
            os.mkfifo(fifo)
            reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE, text=True)
            try:
                proc = self.run_cli("run", "-q", "--csv", fifo, "--", "true")
            finally:
                # A cat still waiting for a writer (joulestat never opened the
                # FIFO) gets one that closes at once, and sees end of file.
                try:
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
                out, _ = reader.communicate(timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
            self.assertEqual(out.splitlines()[0].split(",")[0], "window")
            self.assertEqual(os.listdir(d), ["fifo"])


class IntervalTest(CliCase):
    def test_memory_stays_flat_when_no_file_wants_the_intervals(self):
        # Printed rows need nothing kept: a long run with a short interval must
        # not grow joulestat without bound (about 1000 windows a second here).
        rss = "grep VmRSS /proc/$PPID/status"
        # An ASan build would otherwise hold every freed block in quarantine.
        asan = "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
        if os.environ.get("ASAN_OPTIONS"):
            asan = os.environ["ASAN_OPTIONS"] + ":" + asan
        env = dict(self.env, ASAN_OPTIONS=asan)
        proc = self.run_cli("run", "-I", "1", "-o", os.devnull, "--", "sh", "-c",
                            "sleep 0.5; %s; sleep 3; %s" % (rss, rss), env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        kb = [int(ln.split()[1]) for ln in proc.stdout.splitlines()]
        self.assertEqual(len(kb), 2, proc.stdout)
        self.assertLess(kb[1] - kb[0], 400, proc.stdout)

    def test_a_stall_does_not_burst_into_empty_intervals(self):
        # joulestat stopped for a while (Ctrl-Z, a debugger, an overloaded
        # host): afterwards the intervals go on at their period rather than
        # catching up on every missed tick with windows of no length.
        proc, doc = self.measure(["sh", "-c", "kill -STOP $PPID; sleep 1.5; kill -CONT $PPID;"
                                  " sleep 0.3"], extra=["-I", "50"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        short = [iv["duration_s"] for iv in doc["intervals"][:-1] if iv["duration_s"] < 0.025]
        self.assertLess(len(short), 5, short)


class IntervalTruthTest(unittest.TestCase):
    def test_intervals_add_up_to_the_run(self):
        with PowercapSim(packages=1, no_dram=True, trace="const:50") as sim:
            proc, doc = measure(["sleep", "0.5"], sim.env(), extra=["--interval", "100"])
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        run = domains_by_name(doc["runs"][0])["package-0"]["energy_j"]
        ivs = doc["intervals"]
        parts = sum(domains_by_name(iv)["package-0"]["energy_j"] for iv in ivs)
        # The intervals cover the run and overlap by one reading at each seam;
        # the first begins just after the run, the last ends just after it. At
        # a constant 50 W each figure is 50 W x its own duration, to one 1 ms
        # tick of the simulated counter: so the sum of the intervals exceeds the
        # run by 50 W x the time they add, whatever the scheduler did to the
        # seams (a reading preempted for milliseconds makes a longer overlap).
        def secs(m):
            return (m["end_ns"] - m["begin_ns"]) * 1e-9
        added = sum(secs(iv) for iv in ivs) - secs(doc["runs"][0])
        tick_j = 50 * 0.001
        self.assertAlmostEqual(parts - run, 50 * added, delta=tick_j * (len(ivs) + 1) + 1e-6)
        self.assertGreater(run, 20)


class ListTest(CliCase):
    def test_list_json(self):
        proc = self.run_cli("list", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        backends = {b["name"]: b for b in doc["backends"]}
        self.assertIn("estimate", backends)
        self.assertTrue(backends["estimate"]["available"])
        for name in ("rapl", "nvml"):
            self.assertFalse(backends[name]["available"])
            self.assertTrue(backends[name]["reason"])
        cpu = {d["name"]: d for d in doc["domains"]}["cpu"]
        self.assertEqual(cpu["method"], "estimate")
        self.assertEqual(cpu["backend"], "estimate")
        self.assertTrue(cpu["primary"])
        self.assertIsNone(cpu["parent"])
        self.assertGreater(cpu["sample_period_s"], 0)
        self.assertGreater(cpu["accuracy"], 0.05)

    def test_list_text(self):
        proc = self.run_cli("list", "--period", "50")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        self.assertRegex(out, r"(?m)^\s+rapl\s+unavailable: .+")
        self.assertRegex(out, r"(?m)^\s+nvml\s+unavailable: .+")
        self.assertRegex(out, r"(?m)^\s+estimate\s+available")
        self.assertRegex(out, r"(?m)^\s+cpu\s+package\s+estimate\s+estimate \(")
        self.assertIn("0.050 s", out)
        self.assertIn("[estimate]", out)

    def test_no_estimate_leaves_nothing_to_measure(self):
        proc = self.run_cli("list", "--no-estimate")
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"(?m)^\s+estimate\s+unavailable: estimation disabled")
        proc = self.run_cli("run", "--no-estimate", "--", "true")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no energy domain is available", proc.stderr)


class OptionTest(CliCase):
    """--option KEY=VALUE on every measuring subcommand, JOULESTAT_OPTIONS, and
    which wins."""

    def reasons(self, *args, env=None):
        proc = self.run_cli("list", "--json", *args, env=env or self.env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return {b["name"]: b["reason"] for b in json.loads(proc.stdout)["backends"]}

    def period(self, *args, env=None):
        proc = self.run_cli("list", "--json", *args, env=env or self.env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return {d["name"]: d for d in json.loads(proc.stdout)["domains"]}["cpu"]["sample_period_s"]

    def test_backend_option_beats_its_variable(self):
        # The environment names a library that does not exist; the option another.
        where = os.path.join(self.machine.dir, "elsewhere", "libnvidia-ml.so.1")
        self.assertIn("no-libnvidia-ml.so.1", self.reasons()["nvml"])
        self.assertIn(where, self.reasons("--option", "nvml.library=" + where)["nvml"])
        env = dict(self.env, JOULESTAT_OPTIONS="nvml.library=" + where)
        # The key's own variable (set in self.env) wins over JOULESTAT_OPTIONS ...
        self.assertIn("no-libnvidia-ml.so.1", self.reasons(env=env)["nvml"])
        del env["JOULESTAT_NVML_LIBRARY"]
        # ... which applies when it is not set.
        self.assertIn(where, self.reasons(env=env)["nvml"])

    def test_sysfs_root_option_finds_rapl(self):
        with PowercapSim(packages=1) as sim:
            env = dict(self.env, JOULESTAT_SYSFS_ROOT=self.machine.dir)
            self.assertNotEqual(self.reasons(env=env)["rapl"], "")
            self.assertEqual(self.reasons("--option", "sysfs.root=" + sim.root, env=env)["rapl"],
                             "")

    def test_core_options_and_their_order(self):
        self.assertAlmostEqual(self.period(), 0.1)
        env = dict(self.env, JOULESTAT_OPTIONS="period_ms=50")
        self.assertAlmostEqual(self.period(env=env), 0.05)
        self.assertAlmostEqual(self.period("--period", "70", env=env), 0.07)
        self.assertAlmostEqual(self.period("--option", "period_ms=20", env=env), 0.02)
        self.assertAlmostEqual(self.period("--period", "70", "--option", "period_ms=20"), 0.02)
        self.assertAlmostEqual(
            self.period("--option", "period_ms=20", "--option", "period_ms=30"), 0.03)

    def test_run_and_validate_take_options(self):
        proc, doc = self.measure(["true"], extra=["--option", "estimate=1"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = self.run_cli("run", "--option", "estimate=0", "--", "true")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no energy domain is available", proc.stderr)
        proc = self.run_cli("validate", "--option", "procfs.root=" + self.machine.dir,
                            "--seconds", "0.2")
        self.assertEqual(proc.returncode, 1)  # no /proc/stat there: nothing measures
        self.assertIn("cannot read " + os.path.join(self.machine.dir, "stat"), proc.stderr)

    def test_bad_environment_is_a_usage_error(self):
        env = dict(self.env, JOULESTAT_OPTIONS="period_ms=50,nosuch=1")
        proc = self.run_cli("list", env=env)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("JOULESTAT_OPTIONS: unknown option 'nosuch'", proc.stderr)


class EstimateTest(CliCase):
    def test_estimate_is_labelled_as_such(self):
        proc, doc = self.measure(["sleep", "0.2"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        cpu = domains_by_name(m)["cpu"]
        self.assertEqual(cpu["method"], "estimate")
        self.assertEqual(cpu["backend"], "estimate")
        self.assertTrue(m["totals"]["cpu"]["estimated"])
        self.assertTrue(m["totals"]["total"]["estimated"])
        table = proc.stderr
        self.assertRegex(table, r"(?m)^\s+cpu\s.*estimate \(estimate/.*\[estimate\]")
        self.assertRegex(table, r"(?m)^\s+total\s.*\[estimate\]")
        self.assertIn("is an estimate, not a measurement: nothing better measures the CPU here",
                      table)

    TDP_W = 100.0  # JOULESTAT_CPU_TDP_W: the model's one constant, fixed here

    @staticmethod
    def proc_stat():
        """(busy, all) clock ticks of all CPUs, as the estimate backend counts them."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        v += [0] * (8 - len(v))
        user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
        return user + nice + system + irq + softirq + steal, sum(v[:8])

    def estimate(self, cmd):
        env = dict(self.env, JOULESTAT_CPU_TDP_W=str(self.TDP_W))
        proc, doc = self.measure(cmd, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return domains_by_name(doc["runs"][0])["cpu"]

    def test_burning_every_cpu_costs_the_whole_tdp(self):
        # With every CPU burning, the machine is busy whatever else runs on it:
        # the estimate must be close to TDP (and never above it).
        ncpu = os.cpu_count() or 1
        cpu = self.estimate([binary("JOULESTAT"), "burn", "--seconds", "1",
                             "--threads", str(ncpu)])
        self.assertGreater(cpu["avg_power_w"], 0.8 * self.TDP_W)
        self.assertLessEqual(cpu["avg_power_w"], self.TDP_W * 1.02)
        self.assertGreaterEqual(cpu["utilization_mean_pct"], 80)

    def test_estimate_is_bounded_by_what_the_machine_did(self):
        # The window lies inside the test's own /proc/stat bracket, so its energy
        # cannot exceed TDP x the bracket's busy share x its length, give or take
        # one tick per CPU at each edge: an estimate that invented load would.
        ncpu = os.cpu_count() or 1
        hz = os.sysconf("SC_CLK_TCK")
        b0, _ = self.proc_stat()
        cpu = self.estimate(["sleep", "1"])
        b1, _ = self.proc_stat()
        unit = self.TDP_W / (ncpu * hz)
        self.assertLessEqual(cpu["energy_j"], (b1 - b0 + 2 * ncpu) * unit)
        self.assertGreaterEqual(cpu["energy_j"], 0)

    def test_burn_runs_for_its_seconds(self):
        t0 = time.monotonic()
        proc = self.run_cli("burn", "--seconds", "0.3", "--threads", "2")
        elapsed = time.monotonic() - t0
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertGreater(elapsed, 0.29)
        self.assertLess(elapsed, 5)


class ValidateTest(unittest.TestCase):
    def test_rapl_and_estimate_with_psys(self):
        with PowercapSim(packages=2, psys=True, trace="const:40") as sim:
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "v.json")
                # A command rather than the built-in burn: a burn would compete with
                # the simulator for the CPU and make its counters lag.
                proc = run_joulestat(["validate", "--json", out, "--", "sleep", "0.4"],
                                     env=sim.env())
                with open(out) as f:
                    doc = json.load(f)
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        self.assertEqual(proc.returncode, 1 if doc["disagreements"] else 0)
        self.assertEqual(len(doc["runs"]), 1)
        groups = {(g["kind"], g["device"]): g for g in doc["groups"]}
        cpu = groups[("package", "cpu")]
        self.assertTrue(cpu["covered"])
        self.assertTrue(cpu["compared"])
        methods = {m["backend"]: m for m in cpu["methods"]}
        self.assertEqual(methods["rapl"]["domains"], "package-0+package-1")
        self.assertTrue(methods["rapl"]["reference"])
        est = methods["estimate"]
        self.assertFalse(est["reference"])
        self.assertAlmostEqual(est["tolerance"], 0.05 + est["accuracy"])
        r = doc["runs"][0]
        pk = sum(domains_by_name(r)[n]["energy_j"] for n in ("package-0", "package-1"))
        self.assertAlmostEqual(methods["rapl"]["energy_j"]["mean"], pk, places=6)
        want = (est["energy_j"]["mean"] - pk) / pk
        self.assertAlmostEqual(est["rel_diff"]["mean"], want, places=9)
        self.assertEqual(est["agrees"], abs(want) <= est["tolerance"])
        system = doc["systems"][0]
        self.assertEqual(system["name"], "psys")
        # psys holds the packages and DRAM (not a discrete GPU): the rest is beyond those.
        self.assertEqual(system["components"], "cpu+dram")
        parts = r["totals"]["cpu"]["energy_j"] + r["totals"]["dram"]["energy_j"]
        rest = system["rest_of_system_j"]["mean"]
        self.assertAlmostEqual(rest, system["energy_j"]["mean"] - parts, places=6)
        self.assertEqual(system["inconsistent"], rest < -system["allowed_j"])
        self.assertAlmostEqual(system["rest_of_system_fraction"]["mean"],
                               rest / system["energy_j"]["mean"], places=9)
        self.assertEqual(doc["workload"]["command"], ["sleep", "0.4"])
        self.assertEqual(doc["exit_status"], 0)
        text = proc.stdout
        self.assertIn("reference", text)
        self.assertIn("rest of system", text)
        self.assertIn("package-0+package-1", text)
        self.assertRegex(text, r"(agrees|DISAGREES)")

    def test_nvml_methods_agree(self):
        from nvml_sim import NvmlSim
        with NvmlSim(gpus=1, trace="const:250") as sim:
            proc = run_joulestat(["validate", "--backends", "nvml", "--seconds", "0.5",
                                  "--threads", "1", "-r", "2", "--period", "20", "--json", "-"],
                                 env=sim.env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual(len(doc["runs"]), 2)
        self.assertTrue(doc["agree"])
        g = doc["groups"][0]
        self.assertEqual(g["label"], "gpu0")
        by_source = {m["source"]: m for m in g["methods"]}
        self.assertTrue(by_source["energy-counter"]["reference"])
        for src in ("instant-power", "average-power"):
            m = by_source[src]
            self.assertTrue(m["agrees"])
            self.assertEqual(m["agreed_runs"], 2)
            self.assertEqual(len(m["rel_diff_runs"]), 2)
            self.assertLess(abs(m["rel_diff"]["mean"]), 0.05)
            self.assertGreaterEqual(m["rel_diff"]["stddev"], 0)
        # The table went to stderr, since the JSON took stdout.
        self.assertIn("agrees (2/2 runs inside)", proc.stderr)

    def test_one_second_average_lags_a_burst_and_is_flagged(self):
        # 60 W for the first second, then a 400 W burst: a 1-s average power
        # reading still remembers the idle second while the burst runs, so its
        # integral falls far short of the counter's; instant power (refreshed
        # every 100 ms, read every 20 ms) follows the step. The workload starts
        # once the meter has measured the counter's 10 ms refresh (about 0.4 s
        # into the trace), so it spans the step at 1 s.
        from nvml_sim import NvmlSim
        with NvmlSim(gpus=1, trace="steps:60,60,400,400@0.5", counter_tick_ms=10) as sim:
            proc = run_joulestat(["validate", "--backends", "nvml", "--period", "20",
                                  "--json", "-", "--", "sleep", "1.0"], env=sim.env())
        self.assertEqual(proc.returncode, 1, proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertFalse(doc["agree"])
        by_source = {m["source"]: m for m in doc["groups"][0]["methods"]}
        self.assertTrue(by_source["energy-counter"]["reference"])
        avg, inst = by_source["average-power"], by_source["instant-power"]
        self.assertFalse(avg["agrees"])
        self.assertLess(avg["rel_diff"]["mean"], -avg["tolerance"])
        self.assertTrue(inst["agrees"])
        self.assertLess(abs(inst["rel_diff"]["mean"]), 0.10)
        self.assertRegex(proc.stderr, r"average-power.*DISAGREES")


class ValidateSignalTest(CliCase):
    """validate stopped by a signal: passes it on, reports what it measured,
    and exits 128 + N, as run does."""

    def test_sigterm_to_validate_with_a_command(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "v.json")
            # The workload signals joulestat itself: the signal certainly comes
            # while the first of the three runs is measured (and is not passed
            # back to the process that sent it).
            proc = subprocess.run(
                [binary("JOULESTAT"), "validate", "-r", "3", "--json", out, "--", "sh", "-c",
                 "kill -TERM $PPID; sleep 0.3"], env=self.env, capture_output=True, text=True,
                timeout=60, preexec_fn=default_signals)
            self.assertEqual(proc.returncode, 128 + signal.SIGTERM, proc.stderr)
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(len(doc["runs"]), 1)
        self.assertEqual(doc["signal"], signal.SIGTERM)
        self.assertEqual(doc["exit_status"], 0)
        self.assertGreater(doc["runs"][0]["duration_s"], 0.2)
        self.assertIn("SIGTERM", proc.stderr)
        self.assertIn("1 of 3 runs", proc.stderr)
        self.assertIn("joulestat validate:", proc.stdout)  # the report too

    def test_sigterm_is_forwarded_to_the_workload(self):
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "trapper.sh")
            with open(script, "w") as f:
                f.write(TRAPPER)
            os.chmod(script, 0o755)
            log, ready, out = (os.path.join(d, n) for n in ("log", "ready", "v.json"))

            def nudge(p):
                wait_for_file(ready, 20, p)
                p.send_signal(signal.SIGTERM)

            rc, _, stderr = self.signalled(["validate", "-r", "2", "--json", out, "--", script,
                                            log, ready], nudge, 30)
            self.assertEqual(rc, 128 + signal.SIGTERM, stderr)
            with open(log) as f:
                self.assertEqual(f.read().split(), ["TERM"])
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(len(doc["runs"]), 1)
        self.assertEqual(doc["exit_status"], 7)
        self.assertEqual(doc["signal"], signal.SIGTERM)

    def test_sigint_stops_the_burn(self):
        threads = 8
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "v.json")

            def nudge(p):
                # Burning: its threads exist (joulestat has only two otherwise).
                task = "/proc/%d/task" % p.pid
                deadline = time.monotonic() + 60
                while len(os.listdir(task)) < threads and time.monotonic() < deadline:
                    self.assertIsNone(p.poll())
                    time.sleep(0.01)
                p.send_signal(signal.SIGINT)

            rc, _, stderr = self.signalled(["validate", "--seconds", "60", "--threads",
                                            str(threads), "--json", out], nudge, 45)
            self.assertEqual(rc, 128 + signal.SIGINT, stderr)
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(doc["signal"], signal.SIGINT)
        self.assertEqual(len(doc["runs"]), 1)
        self.assertLess(doc["runs"][0]["duration_s"], 45)
        self.assertNotIn("exit_status", doc)

    def test_no_signal_is_null(self):
        proc = self.run_cli("validate", "--json", "-", "--", "true")
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        self.assertIsNone(json.loads(proc.stdout)["signal"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
