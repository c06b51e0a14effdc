"""Privileged installs: a setuid-root or file-capability joulestat run by a
plain user (nobody) must not do, for that user, what the user could not.

Real, not mocked: a copy of the CLI (the statically linked build, which runs
from anywhere) is made setuid root, or given cap_dac_read_search with setcap,
and run as nobody through setpriv; the kernel then starts it with AT_SECURE
set, exactly as it would an installed one. Needs root to set this up.
"""
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import unittest

from common import REPO

NOBODY = 65534


def static_binary():
    path = os.environ.get("JOULESTAT_STATIC")
    if path:
        return path
    path = os.path.join(REPO, "build", "src", "cli", "joulestat-static")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest("JOULESTAT_STATIC not set and no build/src/cli/joulestat-static")
    return path


def sim_nvml():
    path = os.environ.get("SIM_NVML") or os.path.join(REPO, "build", "sim", "nvml",
                                                      "libnvidia-ml.so.1")
    if not os.path.exists(path):
        raise unittest.SkipTest("no simulated NVML library")
    return path


class Install:
    """A directory nobody can enter, with a privileged copy of joulestat, a
    root-only secret and a sysfs/procfs tree whose files lead to the secret."""

    def __init__(self, mode):
        self.mode = mode  # "setuid" or "caps"

    def __enter__(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to make a privileged copy")
        if not shutil.which("setpriv"):
            raise unittest.SkipTest("needs setpriv to run it as nobody")
        self.dir = tempfile.mkdtemp(prefix="jst-priv-")
        os.chmod(self.dir, 0o755)
        if os.statvfs(self.dir).f_flag & os.ST_NOSUID:
            shutil.rmtree(self.dir)
            raise unittest.SkipTest("%s is mounted nosuid" % self.dir)
        self.bin = os.path.join(self.dir, "joulestat")
        shutil.copyfile(static_binary(), self.bin)
        os.chown(self.bin, 0, 0)
        if self.mode == "setuid":
            os.chmod(self.bin, 0o4755)
        else:
            os.chmod(self.bin, 0o755)
            setcap = shutil.which("setcap")
            if not setcap:
                self.__exit__()
                raise unittest.SkipTest("needs setcap (libcap2-bin)")
            r = subprocess.run([setcap, "cap_dac_read_search+ep", self.bin],
                               capture_output=True, text=True)
            if r.returncode:
                self.__exit__()
                raise unittest.SkipTest("setcap failed here: " + r.stderr)
        # A root-only secret, and symlinks to it where joulestat reads numbers.
        self.secret = "TOPSECRET-" + secrets.token_hex(6)
        self.secret_path = os.path.join(self.dir, "secret")
        with open(self.secret_path, "w") as f:
            f.write(self.secret + "\n")
        os.chmod(self.secret_path, 0o600)
        self.sysfs = os.path.join(self.dir, "sys")
        zone = os.path.join(self.sysfs, "class", "powercap", "intel-rapl:0")
        os.makedirs(zone)
        with open(os.path.join(zone, "name"), "w") as f:
            f.write("package-0\n")
        with open(os.path.join(zone, "max_energy_range_uj"), "w") as f:
            f.write("262143328850\n")
        os.symlink(self.secret_path, os.path.join(zone, "energy_uj"))
        self.procfs = os.path.join(self.dir, "proc")
        os.mkdir(self.procfs)
        os.symlink(self.secret_path, os.path.join(self.procfs, "stat"))
        os.symlink(self.secret_path, os.path.join(self.procfs, "cpuinfo"))
        for root, dirs, files in os.walk(self.dir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        # Root-owned places a plain user may not write.
        self.owned = os.path.join(self.dir, "owned.json")
        with open(self.owned, "w") as f:
            f.write("root's\n")
        os.chmod(self.owned, 0o644)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def run(self, args, **env_extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("JOULESTAT_") and not k.startswith("JSTSIM_")}
        env.pop("CUDA_VISIBLE_DEVICES", None)
        env.update(env_extra)
        cmd = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
               self.bin] + list(args)
        return subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True,
                              timeout=60)

    def hostile_env(self):
        return dict(JOULESTAT_SYSFS_ROOT=self.sysfs, JOULESTAT_PROCFS_ROOT=self.procfs,
                    JOULESTAT_NVML_LIBRARY=sim_nvml(), JSTSIM_NVML_GPUS="2",
                    JOULESTAT_OPTIONS="sysfs.root=" + self.sysfs)


def statuses(text):
    """Each /proc status in text, in order: {'Uid': [r, e, s, fs], 'Gid': [...],
    'CapEff': int, 'CapPrm': int}; a status starts at its Name: line."""
    out = []
    for line in text.splitlines():
        key, _, val = line.partition(":")
        if key == "Name":
            out.append({})
        elif out and key in ("Uid", "Gid"):
            out[-1][key] = [int(v) for v in val.split()]
        elif out and key in ("CapEff", "CapPrm"):
            out[-1][key] = int(val.strip(), 16)
    return out


# The command prints its own ids and those of its parent, joulestat, as it is
# while the command runs.
SHOW_IDS = ["sh", "-c", "cat /proc/self/status /proc/$PPID/status"]


class PrivilegedTest(unittest.TestCase):
    def check_no_leak(self, inst):
        for args in (["list"], ["list", "--json"], ["run", "--", "true"],
                     ["run", "--backends", "rapl", "--", "true"],
                     ["validate", "--seconds", "0.2"]):
            with self.subTest(mode=inst.mode, args=args):
                proc = inst.run(args, **inst.hostile_env())
                self.assertGreaterEqual(proc.returncode, 0, proc.stderr)
                self.assertNotIn(inst.secret, proc.stdout + proc.stderr)
                self.assertNotIn("TOPSECRET", proc.stdout + proc.stderr)

    def check_overrides_ignored(self, inst):
        proc = inst.run(["list", "--json"], **inst.hostile_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # The user's NVML library was never loaded, nor their sysfs tree read.
        self.assertNotIn("gpu0", proc.stdout)
        self.assertNotIn(inst.sysfs, proc.stdout)
        self.assertNotIn(inst.procfs, proc.stdout)
        # Nor said to be in use (identity.environment): ignored, and warned of.
        self.assertEqual(json.loads(proc.stdout)["identity"]["environment"], {})
        for var in ("JOULESTAT_SYSFS_ROOT", "JOULESTAT_PROCFS_ROOT", "JOULESTAT_NVML_LIBRARY",
                    "JOULESTAT_OPTIONS"):
            self.assertIn("privileged install: %s is ignored" % var, proc.stderr)

    def test_setuid_overrides_are_ignored_and_nothing_leaks(self):
        with Install("setuid") as inst:
            self.check_overrides_ignored(inst)
            self.check_no_leak(inst)

    def test_capabilities_overrides_are_ignored_and_nothing_leaks(self):
        with Install("caps") as inst:
            self.check_overrides_ignored(inst)
            self.check_no_leak(inst)

    def test_setuid_command_runs_as_the_user_and_joulestat_too(self):
        with Install("setuid") as inst:
            for sub in (["run"], ["run", "-r", "2", "-I", "50"], ["validate"]):
                with self.subTest(sub=sub):
                    proc = inst.run(sub + ["--"] + SHOW_IDS)
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    both = statuses(proc.stdout)
                    self.assertEqual(len(both), 4 if "-r" in sub else 2, proc.stdout)
                    for who in both:
                        self.assertEqual(who["Uid"], [NOBODY] * 4)
                        self.assertEqual(who["Gid"], [NOBODY] * 4)
                        self.assertEqual(who["CapEff"], 0)
                        self.assertEqual(who["CapPrm"], 0)

    def test_capabilities_are_given_up_before_the_command(self):
        with Install("caps") as inst:
            proc = inst.run(["run", "--"] + SHOW_IDS)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            child, parent = statuses(proc.stdout)
            self.assertEqual(parent["Uid"], [NOBODY] * 4)
            self.assertEqual(parent["CapPrm"], 0)
            self.assertEqual(parent["CapEff"], 0)
            self.assertEqual(child["CapEff"], 0)

    def test_outputs_are_opened_as_the_user(self):
        with Install("setuid") as inst:
            rootdir = os.path.join(inst.dir, "rootonly")
            os.mkdir(rootdir, 0o755)
            fresh = os.path.join(rootdir, "new.json")
            for args in (["run", "--json", inst.owned, "--", "true"],
                         ["run", "--csv", inst.owned, "--", "true"],
                         ["run", "-o", inst.owned, "--", "true"],
                         ["run", "--json", fresh, "--", "true"],
                         ["validate", "--seconds", "0.2", "--json", inst.owned]):
                with self.subTest(args=args):
                    proc = inst.run(args)
                    self.assertNotEqual(proc.returncode, 0, proc.stderr)
                    self.assertIn("Permission denied", proc.stderr)
                    with open(inst.owned) as f:
                        self.assertEqual(f.read(), "root's\n")
                    self.assertFalse(os.path.exists(fresh))
                    self.assertEqual(os.listdir(rootdir), [])
            # Where nobody may write, it still writes.
            out = os.path.join(inst.dir, "public")
            os.mkdir(out)
            os.chmod(out, 0o777)
            path = os.path.join(out, "m.json")
            proc = inst.run(["run", "--json", path, "--", "true"])
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(os.stat(path).st_uid, NOBODY)


if __name__ == "__main__":
    unittest.main(verbosity=2)
