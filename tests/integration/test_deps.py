"""scripts/deps installs what is missing and nothing else: perf only for
`make bench` (scripts/deps bench), never for the build and the tests.

Run against a PATH of stand-ins: every tool it looks for is there except
perf, and apt-get records what it was asked to install."""
import os
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO  # noqa: E402

PRESENT = ["meson", "ninja", "pkg-config", "cc", "python3", "setcap", "nm", "readelf",
           "chromium", "sqlite3",
           "prometheus", "promtool", "openssl", "tmux",  # serve and top's tests
           "ipmi_sim"]


class DepsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="jst-deps-")
        self.bin = os.path.join(self.tmp.name, "bin")
        os.mkdir(self.bin)
        self.log = os.path.join(self.tmp.name, "apt.log")
        for tool in PRESENT:
            self.script(tool, "exit 0")
        self.script("apt-get", 'echo "$*" >> %s' % self.log)
        self.script("sudo", '"$@"')
        os.symlink("/usr/bin/id", os.path.join(self.bin, "id"))

    def tearDown(self):
        self.tmp.cleanup()

    def script(self, name, body):
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n%s\n" % body)
        os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)

    def deps(self, *args):
        env = {"PATH": self.bin, "HOME": self.tmp.name}
        proc = subprocess.run(["/bin/bash", os.path.join(REPO, "scripts", "deps")] + list(args),
                              env=env, capture_output=True, text=True, timeout=60)
        asked = ""
        if os.path.exists(self.log):
            with open(self.log) as f:
                asked = f.read()
        return proc, asked

    def test_build_and_tests_do_not_install_perf(self):
        proc, asked = self.deps()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("linux-perf", asked)
        self.assertEqual(asked, "", "nothing is missing for the build and the tests")

    def test_bench_installs_perf(self):
        proc, asked = self.deps("bench")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("install", asked)
        self.assertIn("linux-perf", asked)

    def test_a_missing_test_tool_is_installed(self):
        os.unlink(os.path.join(self.bin, "setcap"))
        proc, asked = self.deps()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        if not os.path.exists("/usr/sbin/setcap") and not os.path.exists("/sbin/setcap"):
            self.assertIn("libcap2-bin", asked)
        self.assertNotIn("linux-perf", asked)

    def test_fuzz_installs_clang(self):
        # make fuzz calls `scripts/deps fuzz`: an argument it must accept.
        proc, asked = self.deps("fuzz")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("clang", asked)
        self.assertNotIn("linux-perf", asked)

    def test_unknown_argument(self):
        proc, asked = self.deps("everything")
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(asked, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
