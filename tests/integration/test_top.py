"""joulestat top through a pseudo-terminal: tmux runs it in a 120x30 pane
against sim/ (three simulated GPUs and a powercap tree); the screen is read
back with capture-pane and held to the simulators' figures; keys sort and
quit it."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, binary  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import combined_env  # noqa: E402

ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+± (\d+)%\s+(\S+)\s+(\S+)\s+(\S+)")


@unittest.skipUnless(shutil.which("tmux"), "tmux is not installed (scripts/deps)")
class TopTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jst-top-")
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.socks = [self.sock]

    def tearDown(self):
        for sock in self.socks:
            subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def fresh_server(self, name):
        """A tmux server of its own for the next session: one whose last
        session was just killed may still be exiting, and a new session on its
        socket then fails (seen under CI's load)."""
        self.sock = os.path.join(self.dir, name + ".sock")
        self.socks.append(self.sock)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "top")

    def wait_screen(self, pred, what, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s; screen:\n%s" % (what, s))
            time.sleep(0.1)

    @staticmethod
    def rows(screen):
        out = []
        for line in screen.splitlines():
            m = ROW.match(line)
            if m and m.group(1) not in ("DOMAIN", "total"):
                out.append(m.groups())
        return out

    def test_live_view(self):
        with NvmlSim(gpus=3, trace="const:300") as nvml, \
                PowercapSim(packages=1, trace="const:45") as pc:
            env = combined_env(nvml, pc, TERM="xterm", LANG="C.UTF-8")
            cmd = " ".join(shlex.quote(a) for a in [binary("JOULESTAT"), "top", "-I", "200",
                                                    "--no-estimate"])
            # The pane stays to show how top ended.
            self.tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "30",
                      "-e", "JOULESTAT_NVML_LIBRARY=" + env["JOULESTAT_NVML_LIBRARY"],
                      "-e", "JSTSIM_NVML_GPUS=3", "-e", "JSTSIM_NVML_TRACE=const:300",
                      "-e", "JOULESTAT_SYSFS_ROOT=" + pc.root,
                      "-e", "JOULESTAT_AMDSMI_LIBRARY=/nonexistent",
                      "-e", "JOULESTAT_DCGM_LIBRARY=/nonexistent",
                      "-e", "JOULESTAT_DEVFS_ROOT=" + nvml.dir,
                      "-e", "LANG=C.UTF-8",
                      "sh -c '%s; echo top-exited-$?; sleep 60'" % cmd)
            # The whole table, its total line too: a slow (sanitized) top may be
            # caught between drawing its rows and its total.
            s = self.wait_screen(lambda s: "gpu2" in s and "package-0" in s and any(
                l.startswith("total") for l in s.splitlines()), "the table")
            self.assertIn("sorted by power", s)
            rows = self.rows(s)
            names = [r[0] for r in rows]
            # Sorted by power, highest first: GPU k draws 300 x (1 - 0.05 k) W.
            self.assertEqual(names[:4], ["gpu0", "gpu1", "gpu2", "package-0"], s)
            for r in rows:
                if r[0].startswith("gpu"):
                    k = int(r[0][3:])
                    p = 300 * (1 - 0.05 * k)
                    self.assertAlmostEqual(float(r[3]), p, delta=0.01)
                    self.assertEqual(r[5], "5")
                    self.assertAlmostEqual(float(r[6]), 35 + p / 10, delta=1)  # °C
                    self.assertAlmostEqual(float(r[7]), 100 * p / 700, delta=1)  # %
            byname = {r[0]: r for r in rows}
            # RAPL's power is the counter's rise over a span of 100 ms or more,
            # its ends placed between two reads of a sampler this machine's
            # load can delay: its bar is the 5% the row states (column 5).
            self.assertEqual(byname["package-0"][5], "5")
            self.assertAlmostEqual(float(byname["package-0"][3]), 45, delta=0.05 * 45)
            # Energy is counted from the same start for every domain: the
            # GPUs' energies stand as their powers do.
            e0, e1 = float(byname["gpu0"][4]), float(byname["gpu1"][4])
            self.assertGreater(e0, 0)
            self.assertAlmostEqual(e1 / e0, 0.95, delta=0.01)
            self.assertIn("(not in total)", next(l for l in s.splitlines()
                                                 if l.startswith("core-0")))
            total = next(l for l in s.splitlines() if l.startswith("total"))
            self.assertIn("5 domains", total)  # 3 GPUs, the package, its DRAM
            # The view refreshes: the energy grows at the GPU's power.
            s2 = self.wait_screen(lambda t: t != s and "gpu0" in t and
                                  float({r[0]: r for r in self.rows(t)}["gpu0"][4]) > e0 + 30,
                                  "a refresh")
            self.assertIn("gpu0", s2)
            self.tmux("send-keys", "-t", "top", "n")
            s = self.wait_screen(lambda s: "sorted by name" in s, "sort by name")
            names = [r[0] for r in self.rows(s)]
            self.assertEqual(names, sorted(names))
            self.tmux("send-keys", "-t", "top", "e")
            s = self.wait_screen(lambda s: "sorted by energy" in s, "sort by energy")
            energies = [float(r[4]) for r in self.rows(s)]
            self.assertEqual(energies, sorted(energies, reverse=True))
            # A small terminal: every line cut to its width, none wrapping
            # over the next (a title that wrapped wrote over the rows).
            self.tmux("resize-window", "-t", "top", "-x", "40", "-y", "10")
            names = {"gpu0", "gpu1", "gpu2", "package-0", "dram-0", "core-0", "uncore-0"}

            def small(t):
                lines = t.splitlines()
                return (len(lines) >= 4 and len(lines[0]) <= 40 and "energy" not in lines[0]
                        and lines[0].startswith("joulestat top") and lines[1] == "")

            s = self.wait_screen(small, "the view redrawn at 40x10")
            lines = s.splitlines()
            self.assertTrue(all(len(l) <= 39 for l in lines), s)
            self.assertTrue(lines[2].startswith("DOMAIN"), s)
            body = [l for l in lines[3:] if l.strip()]
            self.assertTrue(body, s)
            for l in body:
                self.assertIn(l.split()[0], names | {"total"}, s)
            self.tmux("send-keys", "-t", "top", "q")
            self.wait_screen(lambda s: "top-exited-0" in s, "top to quit on q")

    def test_ctrl_c_and_iterations(self):
        # Ctrl-C quits as q does, the terminal given back; -n 3 quits by itself.
        with NvmlSim(gpus=1, trace="const:300") as nvml:
            env = nvml.env()
            for i, (keys, args) in enumerate(((["C-c"], []), ([], ["-n", "3"]))):
                self.fresh_server("tmux%d" % i)
                cmd = " ".join(shlex.quote(a) for a in [binary("JOULESTAT"), "top", "-I", "100",
                                                        "--no-estimate"] + args)
                self.tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "30",
                          "-e", "JOULESTAT_NVML_LIBRARY=" + env["JOULESTAT_NVML_LIBRARY"],
                          "-e", "JOULESTAT_SYSFS_ROOT=" + nvml.dir,
                          "-e", "JOULESTAT_AMDSMI_LIBRARY=/nonexistent",
                      "-e", "JOULESTAT_DCGM_LIBRARY=/nonexistent",
                          # The shell outlives the Ctrl-C sent to the pane's foreground.
                          "sh -c 'trap : INT; %s; echo top-exited-$?; sleep 60'" % cmd)
                if keys:
                    self.wait_screen(lambda s: "gpu0" in s, "the table")
                    self.tmux("send-keys", "-t", "top", *keys)
                s = self.wait_screen(lambda s: "top-exited-0" in s, "top to end")
                self.assertNotIn("DOMAIN", s)  # the screen was restored (endwin)
                self.tmux("kill-session", "-t", "top")

    def test_lost_gpu(self):
        # GPU 1 lost 3 s after NVML starts: once stale (2 s), top says nvml is
        # not measuring, shows gpu1 as lost with no power or telemetry, and
        # its total power is gpu0's 300 W alone (it kept gpu1's 285 W: 585).
        with NvmlSim(gpus=2, trace="const:300", lost="1@3") as nvml:
            env = nvml.env()
            cmd = " ".join(shlex.quote(a) for a in [binary("JOULESTAT"), "top", "-I", "200",
                                                    "--no-estimate", "--backends", "nvml"])
            self.tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "30",
                      "-e", "JOULESTAT_NVML_LIBRARY=" + env["JOULESTAT_NVML_LIBRARY"],
                      "-e", "JSTSIM_NVML_GPUS=2", "-e", "JSTSIM_NVML_TRACE=const:300",
                      "-e", "JSTSIM_NVML_LOST=1@3",
                      "-e", "JOULESTAT_DCGM_LIBRARY=/nonexistent",
                      "-e", "JOULESTAT_DEVFS_ROOT=" + nvml.dir, "-e", "LANG=C.UTF-8",
                      "sh -c '%s; echo top-exited-$?; sleep 60'" % cmd)
            s = self.wait_screen(lambda s: "gpu1" in s and "(lost)" in s and any(
                l.startswith("total") for l in s.splitlines()), "gpu1 shown lost", timeout=20)
            self.assertIn("not measuring: nvml", s)
            row = next(l for l in s.splitlines() if l.startswith("gpu1"))
            r = self.rows(s)
            byname = {x[0]: x for x in r}
            self.assertEqual(byname["gpu1"][3], "-", row)  # no power
            self.assertEqual(byname["gpu1"][6:9], ("-", "-", "-"), row)  # °C, %, MHz
            self.assertGreater(float(byname["gpu1"][4]), 0, row)  # its energy until lost
            self.assertAlmostEqual(float(byname["gpu0"][3]), 300, delta=0.01)
            total = next(l for l in s.splitlines() if l.startswith("total"))
            self.assertAlmostEqual(float(total.split()[3]), 300, delta=0.01, msg=total)
            self.tmux("send-keys", "-t", "top", "q")
            self.wait_screen(lambda s: "top-exited-0" in s, "top to quit on q")

    def test_needs_a_terminal(self):
        with NvmlSim(gpus=1) as nvml:
            p = subprocess.run([binary("JOULESTAT"), "top"], env=nvml.env(),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 2)
            self.assertIn("needs a terminal", p.stderr)


if __name__ == "__main__":
    unittest.main()
