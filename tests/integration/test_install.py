"""An install that works: the build installed into a temporary tree (DESTDIR),
then, from that tree only, the installed joulestat run with no environment at
all, and the README's C example built with `pkg-config --cflags --libs
joulestat` (PKG_CONFIG_PATH at the temporary tree) and run with no environment
either. Both must load the installed library, not the build's."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from common import REPO

BUILD = os.environ.get("MESON_BUILD_ROOT")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def readme_example():
    """The README's C program: the ```c block that has a main()."""
    with open(os.path.join(REPO, "README.md")) as f:
        blocks = re.findall(r"```c\n(.*?)```", f.read(), re.S)
    for block in blocks:
        if "int main(" in block:
            return block
    raise AssertionError("README.md has no C example with a main()")


def loaded_from(binary, env):
    """Where the dynamic loader finds libjoulestat for binary, under env."""
    out = run(["ldd", binary], env=env).stdout
    m = re.search(r"libjoulestat\.so\.0 => (\S+)", out)
    if not m:
        raise AssertionError("ldd %s: %s" % (binary, out))
    return os.path.realpath(m.group(1))


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        meson = shutil.which("meson")
        if not BUILD or not meson:
            raise unittest.SkipTest("MESON_BUILD_ROOT not set or no meson")
        cls.dest = tempfile.mkdtemp(prefix="jst-install-")
        proc = run([meson, "install", "-C", BUILD, "--no-rebuild", "--destdir", cls.dest])
        if proc.returncode:
            shutil.rmtree(cls.dest, ignore_errors=True)
            raise AssertionError("meson install failed: " + proc.stdout + proc.stderr)
        opts = json.loads(run([meson, "introspect", "--buildoptions", BUILD],
                              check=True).stdout)
        value = {o["name"]: o["value"] for o in opts}
        cls.prefix = cls.dest + value["prefix"]
        libdir = value["libdir"]
        cls.libdir = cls.dest + libdir if libdir.startswith("/") else os.path.join(cls.prefix,
                                                                                   libdir)
        cls.bin = os.path.join(cls.prefix, value["bindir"], "joulestat")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def test_installed_files(self):
        for path in (self.bin, os.path.join(self.libdir, "libjoulestat.so.0"),
                     os.path.join(self.libdir, "libjoulestat.so"),
                     os.path.join(self.libdir, "pkgconfig", "joulestat.pc"),
                     os.path.join(self.prefix, "include", "joulestat.h"),
                     os.path.join(self.prefix, "share", "man", "man1", "joulestat.1")):
            self.assertTrue(os.path.exists(path), path)

    def test_installed_command_runs_with_no_environment(self):
        proc = run([self.bin, "--version"], env={})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"^joulestat \d+\.\d+\.\d+ \(libjoulestat \d+\.\d+\.\d+\)")
        proc = run([self.bin, "list", "--json"], env={})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        names = [b["name"] for b in json.loads(proc.stdout)["backends"]]
        self.assertEqual(names, ["ptd", "dcgm", "nvml", "amdsmi", "rapl", "rapl-perf", "rapl-msr", "daemon", "hwmon",
                                 "apple", "jetson", "redfish", "ipmi", "estimate"])
        lib = loaded_from(self.bin, {})
        self.assertTrue(lib.startswith(os.path.realpath(self.dest)), lib)

    def test_pkg_config_example_builds_and_runs(self):
        if not shutil.which("pkg-config") or not shutil.which("cc"):
            self.skipTest("no pkg-config or cc")
        work = tempfile.mkdtemp(prefix="jst-example-")
        self.addCleanup(shutil.rmtree, work, True)
        src = os.path.join(work, "prefill.c")
        with open(src, "w") as f:
            f.write(readme_example())
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PKG_CONFIG_PATH": os.path.join(self.libdir, "pkgconfig")}
        flags = run(["pkg-config", "--cflags", "--libs", "joulestat"], env=env)
        self.assertEqual(flags.returncode, 0, flags.stderr)
        for flag in flags.stdout.split():
            if flag.startswith(("-I", "-L")):
                self.assertTrue(os.path.realpath(flag[2:]).startswith(
                    os.path.realpath(self.dest)), flag)
        exe = os.path.join(work, "prefill")
        proc = run(["cc", "-std=c11", "-Wall", "-Werror", src, "-o", exe]
                   + flags.stdout.split(), env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # Every symbol it takes from the library is in the versioned node.
        dyn = run(["objdump", "-T", exe]).stdout
        self.assertIn("JOULESTAT_0.1", dyn)
        self.assertNotRegex(dyn, r"\*UND\*\s+\S+\s+Base\s+jst_")

        self.assertTrue(loaded_from(exe, {}).startswith(os.path.realpath(self.dest)))
        proc = run([exe], env={})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = re.fullmatch(r"(\d+\.\d{3}) J ± (\d+\.\d{3}) J\n", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        self.assertGreaterEqual(float(m.group(1)), 0.0)
        self.assertGreater(float(m.group(2)), 0)  # a measured figure states its uncertainty

        # The same program on the NVML simulator, chosen through the environment only.
        sim = os.environ.get("SIM_NVML")
        if sim:
            proc = run([exe], env={"JOULESTAT_OPTIONS": "backends=nvml,nvml.library=" + sim})
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertRegex(proc.stdout, r"^\d+\.\d{3} J ± \d+\.\d{3} J\n$")


if __name__ == "__main__":
    unittest.main()
