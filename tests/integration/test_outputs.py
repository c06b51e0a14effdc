"""Where joulestat's outputs go when the reader or the paths misbehave: a pipe
closed under it, two outputs naming one file, hostile text in argv, rows of
several runs. Runs on any machine (the estimate backend)."""
import csv
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import EmptyMachine, binary, run_joulestat, unwrap_list  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402

SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)


class OutputCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.machine = EmptyMachine().__enter__()
        cls.env = cls.machine.env()

    @classmethod
    def tearDownClass(cls):
        cls.machine.__exit__(None, None, None)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="jst-out-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)


class ClosedPipeTest(OutputCase):
    """`joulestat run -I 10 -o - -- CMD | head -1`: the reader goes away while
    the command runs. joulestat must neither die of SIGPIPE nor leave the
    command orphaned, must still write its other outputs, and must exit with
    the command's status; the command must start with SIGPIPE as it was."""

    # The command waits until the test has closed the pipe, then runs on for a
    # while, so that rows are written to the closed pipe for sure.
    CMD = ("grep SigIgn /proc/self/status > {dir}/sigign; "
           "i=0; while [ ! -e {dir}/closed ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; "
           "sleep 0.2; touch {dir}/finished; exit 3")

    def run_and_close(self, args, read_first_line=True):
        cmd = [binary("JOULESTAT"), "run"] + args + ["--", "sh", "-c",
                                                     self.CMD.format(dir=self.dir)]
        proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        first = proc.stdout.readline() if read_first_line else b""
        proc.stdout.close()  # what `head -1` does after its line
        with open(self.path("closed"), "w"):
            pass
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        return proc.returncode, first.decode(), err.decode()

    def check_command_unaffected(self, rc, err):
        self.assertNotEqual(rc, -signal.SIGPIPE, "joulestat died of SIGPIPE: " + err)
        self.assertEqual(rc, 3, err)  # the command's status
        self.assertTrue(os.path.exists(self.path("finished")), "the command did not finish")
        with open(self.path("sigign")) as f:
            ignored = int(f.read().split()[1], 16)
        self.assertFalse(ignored & SIGPIPE_BIT, "the command started with SIGPIPE ignored")
        self.assertNotIn("Broken pipe", err)
        self.assertNotIn("cannot write", err)

    def test_interval_rows_to_a_closed_pipe(self):
        rc, first, err = self.run_and_close(["-I", "10", "-o", "-", "--json",
                                             self.path("m.json"), "--csv", self.path("m.csv")])
        self.assertTrue(first.startswith("#"), first)  # the row header came through
        self.check_command_unaffected(rc, err)
        with open(self.path("m.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["exit_status"], 3)
        self.assertGreater(len(doc["intervals"]), 5)
        with open(self.path("m.csv")) as f:
            self.assertGreater(len(f.read().splitlines()), 5)

    def test_json_to_a_pipe_closed_before_it_is_written(self):
        rc, _, err = self.run_and_close(["--json", "-", "--csv", self.path("m.csv")],
                                        read_first_line=False)
        self.check_command_unaffected(rc, err)
        with open(self.path("m.csv")) as f:
            self.assertIn("total", f.read())

    def test_csv_and_report_to_closed_pipes(self):
        rc, _, err = self.run_and_close(["--csv", "-", "--json", self.path("m.json")],
                                        read_first_line=False)
        self.check_command_unaffected(rc, err)
        with open(self.path("m.json")) as f:
            self.assertEqual(json.load(f)["exit_status"], 3)

    def test_a_closed_stdout_is_no_failure_of_list(self):
        proc = subprocess.Popen([binary("JOULESTAT"), "list"], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)


class SameFileTest(OutputCase):
    """Two outputs naming one file: the one finished last would replace the
    other without a word. Refused as a usage error before anything runs,
    however the paths spell it."""

    def refused(self, args, cwd=None):
        marker = self.path("ran")
        proc = subprocess.run([binary("JOULESTAT"), "run"] + args + ["--", "touch", marker],
                              env=self.env, cwd=cwd or self.dir, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("are the same file", proc.stderr)
        self.assertFalse(os.path.exists(marker), "the command ran")
        return proc

    def test_same_name(self):
        proc = self.refused(["--json", "x", "--csv", "x"])
        self.assertIn("--json 'x' and --csv 'x'", proc.stderr)
        self.refused(["-o", "x", "--json", "x"])
        self.refused(["-o", "x", "--csv", "x"])

    def test_different_paths_to_one_new_file(self):
        os.mkdir(self.path("sub"))
        self.refused(["--json", "out.json", "--csv", "./out.json"])
        self.refused(["--json", "out.json", "--csv", self.path("out.json")])
        self.refused(["--json", "out.json", "-o", "sub/../out.json"])
        self.assertFalse(os.path.exists(self.path("out.json")))

    def test_links_to_one_existing_file(self):
        target = self.path("m.json")
        with open(target, "w") as f:
            f.write("before\n")
        os.symlink(target, self.path("sym"))
        os.link(target, self.path("hard"))
        for a, b in (("m.json", "sym"), ("sym", "hard"), ("hard", target)):
            with self.subTest(a=a, b=b):
                self.refused(["--json", a, "--csv", b])
        with open(target) as f:
            self.assertEqual(f.read(), "before\n")

    def test_dangling_links_to_one_new_file(self):
        # The file does not exist yet: the link is followed to the name it
        # would create, also through a relative link, a chain and `..`.
        os.mkdir(self.path("sub"))
        os.symlink(self.path("new.json"), self.path("abs"))
        os.symlink("../new.json", self.path("sub/rel"))
        os.symlink("sub/rel", self.path("chain"))
        for a, b in (("abs", "new.json"), ("new.json", "sub/rel"), ("chain", "abs"),
                     ("sub/../chain", "./sub/../new.json")):
            with self.subTest(a=a, b=b):
                self.refused(["--csv", a, "--json", b])
                self.refused(["-o", a, "--csv", b])
        self.assertFalse(os.path.exists(self.path("new.json")))
        # A dangling link to another name is another file.
        os.symlink(self.path("other.json"), self.path("elsewhere"))
        proc = subprocess.run([binary("JOULESTAT"), "run", "-q", "--no-history", "--csv",
                               "elsewhere", "--json", "new.json", "--", "true"], env=self.env,
                              cwd=self.dir, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(self.path("new.json")) as f:
            self.assertEqual(json.load(f)["exit_status"], 0)
        with open(self.path("other.json")) as f:
            self.assertTrue(f.readline().startswith("window,run,"))

    def test_stdout_under_another_name(self):
        # --json - and --csv /dev/stdout are one pipe: the rows would interleave.
        proc = subprocess.run([binary("JOULESTAT"), "run", "--json", "-", "--csv", "/dev/stdout",
                               "--", "true"], env=self.env, capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("are the same file", proc.stderr)

    def test_different_files_and_shared_devices_are_fine(self):
        for args in (["--json", "a.json", "--csv", "a.csv", "-o", "a.txt"],
                     ["--json", "/dev/null", "--csv", "/dev/null"],
                     ["-q", "-o", "a.json", "--json", "a.json"]):
            with self.subTest(args=args):
                proc = subprocess.run([binary("JOULESTAT"), "run"] + args + ["--", "true"],
                                      env=self.env, cwd=self.dir, capture_output=True,
                                      text=True, timeout=60)
                self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(self.path("a.json")) as f:
            self.assertEqual(json.load(f)["exit_status"], 0)


class OptionAsFileNameTest(OutputCase):
    """`--json -- CMD` or `-o --json x`: the file name was left out, and the
    next word, an option or the `--` that ends them, would be taken for it.
    Every option that takes a file name refuses a name that starts with
    `--` as a usage error naming the option; `./--x` names such a file."""

    CASES = (
        (["run", "--json", "--", "true"], "--json", "--"),
        (["run", "-o", "--json", "x", "--", "true"], "-o", "--json"),
        (["run", "--csv=--x", "--", "true"], "--csv", "--x"),
        (["validate", "--json", "--seconds", "1"], "--json", "--seconds"),
        (["report", "-o", "--format", "svg", "in.json"], "-o", "--format"),
        (["export", "-o", "--format", "csv"], "-o", "--format"),
        (["serve", "--web-config", "--listen", "127.0.0.1:0"], "--web-config", "--listen"),
    )

    def test_refused(self):
        for args, opt, given in self.CASES:
            with self.subTest(args=args):
                proc = subprocess.run([binary("JOULESTAT")] + args, env=self.env, cwd=self.dir,
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(f"{opt} wants a file name, not '{given}'", proc.stderr)
                self.assertIn(f"'./{given}'", proc.stderr)
                self.assertEqual(os.listdir(self.dir), [])

    def test_dot_slash_names_such_a_file(self):
        proc = subprocess.run([binary("JOULESTAT"), "run", "-q", "--no-history", "--json",
                               "./--json", "--", "true"], env=self.env, cwd=self.dir,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(self.path("--json")) as f:
            self.assertEqual(json.load(f)["exit_status"], 0)


class HostileArgvTest(OutputCase):
    """Terminal escape sequences and other control characters in argv are
    shown escaped in text (the report, validate's header, error messages),
    never sent to the terminal; JSON keeps the exact bytes."""

    # Retitle the window, clear the screen, a C1 CSI in UTF-8 and as a raw byte,
    # a newline that would forge a line of the report, and DEL.
    ARG = b"x\x1b]0;pwned\x07\x1b[2J\xc2\x9b31m\x9b\nenergy 0 J\x7f-\xc3\xa9"
    SHOWN = ("x\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b31m\\x9b\\nenergy 0 J\\x7f-"
             "\u00e9")

    def run_bytes(self, args):
        proc = subprocess.run([os.fsencode(binary("JOULESTAT"))] + args, env=self.env,
                              capture_output=True, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr

    def assert_clean(self, raw):
        for bad in (b"\x1b", b"\x07", b"\x9b", b"\x7f", b"pwned\x07"):
            self.assertNotIn(bad, raw)
        text = raw.decode("utf-8")  # whatever is left is valid UTF-8
        self.assertIn(self.SHOWN, text)

    def test_report_and_json(self):
        rc, out, err = self.run_bytes([b"run", b"--json", b"-", b"--", b"true", self.ARG])
        self.assertEqual(rc, 0, err)
        self.assert_clean(err)
        self.assertNotIn(b"\nenergy 0 J", err)
        doc = json.loads(out)
        # JSON escapes control characters itself; a byte that is not UTF-8 becomes U+FFFD.
        self.assertEqual(doc["command"][1], self.ARG.decode("utf-8", "replace"))

    def test_validate_header(self):
        rc, out, err = self.run_bytes([b"validate", b"--", b"true", self.ARG])
        self.assertEqual(rc, 0, err)
        self.assert_clean(out)

    def test_error_messages(self):
        rc, _, err = self.run_bytes([b"run", b"--", self.ARG])
        self.assertEqual(rc, 127)
        self.assert_clean(err)
        rc, _, err = self.run_bytes([b"run", b"--json", b"/nonexistent/" + self.ARG, b"--",
                                     b"true"])
        self.assertNotEqual(rc, 0)
        self.assert_clean(err)
        rc, _, err = self.run_bytes([b"run", b"-r", self.ARG, b"--", b"true"])
        self.assertEqual(rc, 2)
        self.assert_clean(err)


class RunOfEachRowTest(OutputCase):
    """`-r 2 -I 300`: every interval row says which run it belongs to, in the
    table, the CSV and the JSON, and they agree."""

    def test_rows_name_their_run(self):
        js, cs = self.path("m.json"), self.path("m.csv")
        proc = run_joulestat(["run", "-r", "3", "-I", "100", "--json", js, "--csv", cs, "--",
                              "sleep", "0.35"], env=self.env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stderr.splitlines()
        header = [ln for ln in lines if ln.startswith("#")]
        self.assertEqual(len(header), 1, proc.stderr)
        self.assertEqual(header[0].split()[1:4], ["time", "s", "run"])
        rows = [ln.split() for ln in lines if re.match(r"^\s*\d+\.\d{3}\s+\d+\s", ln)]
        text_runs = [int(r[1]) for r in rows]
        with open(js) as f:
            doc = json.load(f)
        json_runs = [iv["run"] for iv in doc["intervals"]]
        self.assertEqual(text_runs, json_runs)
        self.assertEqual(sorted(set(json_runs)), [1, 2, 3])
        self.assertEqual(json_runs, sorted(json_runs))  # in order of the runs
        # Each interval lies inside the window of the run it names.
        runs = doc["runs"]
        for iv in doc["intervals"]:
            run = runs[iv["run"] - 1]
            self.assertGreaterEqual(iv["end_ns"], run["begin_ns"])
            self.assertLessEqual(iv["begin_ns"], run["end_ns"])
        with open(cs) as f:
            table = list(csv.DictReader(f))
        csv_runs = {}
        for row in table:
            if row["window"].startswith("interval-"):
                csv_runs[row["window"]] = int(row["run"])
        self.assertEqual(csv_runs, {iv["name"]: iv["run"] for iv in doc["intervals"]})


class ListLayoutTest(OutputCase):
    """`joulestat list` wraps each backend's reason to the terminal's width, or
    to 100 columns when not a terminal, losing no word of it; and names the
    model of the GPUs it measures."""

    @staticmethod
    def backend_section(text):
        lines = text.splitlines()
        end = lines.index("") if "" in lines else len(lines)
        return lines[1:end]

    def check_wrapped(self, text, width, reasons):
        section = self.backend_section(text)
        for line in section:
            # str: columns, not bytes. A word longer than a line (a path) stays whole.
            if len(line.split()) > 1:
                self.assertLessEqual(len(line), width, line)
        self.assertGreater(len(section), 3, "nothing was wrapped: " + text)
        joined = " ".join(unwrap_list(text).split())
        for name, reason in reasons.items():
            self.assertIn(" ".join(reason.split()), joined, name)

    def reasons(self, env):
        proc = run_joulestat(["list", "--json"], env=env)
        return {b["name"]: b["reason"] for b in json.loads(proc.stdout)["backends"]
                if b["reason"]}

    def test_not_a_terminal_wraps_at_100(self):
        env = dict(self.env, JOULESTAT_NVML_LIBRARY=self.path("x" * 60 + "/libnvidia-ml.so.1"))
        proc = run_joulestat(["list"], env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.check_wrapped(proc.stdout, 100, self.reasons(env))

    def test_terminal_width(self):
        for cols in (60, 132):
            with self.subTest(cols=cols):
                master, slave = pty.openpty()
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
                # A terminal turns \n into \r\n: the reader undoes it.
                proc = subprocess.Popen([binary("JOULESTAT"), "list"], env=self.env,
                                        stdout=slave, stderr=subprocess.PIPE)
                os.close(slave)
                chunks = []
                while True:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the terminal's other end is closed
                        break
                    if not chunk:
                        break
                    chunks.append(chunk)
                proc.wait(timeout=60)
                os.close(master)
                text = b"".join(chunks).decode().replace("\r\n", "\n")
                self.check_wrapped(text, cols, self.reasons(self.env))

    def test_gpu_model_is_named(self):
        with NvmlSim(gpus=4, name="NVIDIA A100-SXM4-80GB", arch=7) as sim:
            proc = run_joulestat(["list", "--gpus", "0,1,3"], env=sim.env())
            listing = run_joulestat(["list", "--json"], env=sim.env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        nvml = [ln for ln in unwrap_list(proc.stdout).splitlines()
                if ln.split()[:1] == ["nvml"]][0]
        self.assertIn("gpu0-1, gpu3: NVIDIA A100-SXM4-80GB", " ".join(nvml.split()))
        backends = {b["name"]: b for b in json.loads(listing.stdout)["backends"]}
        self.assertEqual(backends["nvml"]["reason"], "gpu0-3: NVIDIA A100-SXM4-80GB")

    def test_a_hostile_model_name_is_escaped(self):
        with NvmlSim(gpus=1, name="GPU\x1b]0;pwned\x07\x1b[2J") as sim:
            proc = subprocess.run([binary("JOULESTAT"), "list"], env=sim.env(),
                                  capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn(b"\x1b", proc.stdout)
        self.assertIn(b"gpu0: GPU\\x1b]0;pwned\\x07\\x1b[2J", proc.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
