"""The Python package installed as a user installs it, then measuring against
the NVML simulator's truth from the installed copy:

- offline into a fresh virtual environment with the one documented command,
  `pip install --no-build-isolation --no-index ./bindings/python` (the build
  back-end, meson-python, comes from Debian's python3-mesonpy);
- by `make install` (meson install), here into a DESTDIR.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from common import REPO
from nvml_sim import NvmlSim
from pyjoulestat import assert_gpu_truth, package_dir

PROBE = r"""
import json, sys, time, joulestat, joulestat.zeus, joulestat.backend, joulestat.tracker, joulestat.__main__
m = joulestat.Meter(backends=["nvml"])
m.begin_window("installed")
time.sleep(0.3)
ms = m.end_window("installed")
m.close()
print(json.dumps({"file": joulestat.__file__, "version": joulestat.__version__,
                  "gpu": ms.gpu_energy, "begin_ns": ms.begin_ns, "end_ns": ms.end_ns}))
"""


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jst-py-install-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def probe(self, python, pythonpath=None):
        """Measure from an installed package; check the figure against the truth."""
        import json
        with NvmlSim(gpus=2, trace="steps:100,400@0.1") as sim:
            env = sim.env()
            env.pop("PYTHONPATH", None)
            if pythonpath:
                env["PYTHONPATH"] = pythonpath
            out = subprocess.run([python, "-c", PROBE], env=env, cwd=self.dir, text=True,
                                 capture_output=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            got = json.loads(out.stdout)
            sim.truth()
            for k, e in got["gpu"].items():
                assert_gpu_truth(self, sim, int(k), e, got["begin_ns"], got["end_ns"],
                                 400 * (1 - 0.05 * int(k)))
        self.assertEqual(sorted(got["gpu"]), ["0", "1"])
        return got

    def test_pip_into_a_fresh_venv_offline(self):
        try:
            import mesonpy  # noqa: F401
        except ImportError:
            self.skipTest("meson-python is not installed (Debian: python3-mesonpy)")
        venv = os.path.join(self.dir, "venv")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                       check=True, timeout=300)
        py = os.path.join(venv, "bin", "python")
        # No index, no proxy: everything must come from this machine.
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy") and not k.startswith("PIP_")}
        env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9")
        env.pop("PYTHONPATH", None)
        r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                            os.path.join(REPO, "bindings", "python")],
                           env=env, capture_output=True, text=True, timeout=840)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        got = self.probe(py)
        self.assertTrue(got["file"].startswith(venv), got["file"])
        r = subprocess.run([py, "-m", "pip", "show", "joulestat"], capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertIn("Version: " + got["version"], r.stdout)

    def test_meson_install(self):
        build = os.path.dirname(os.path.dirname(package_dir()))
        dest = os.path.join(self.dir, "dest")
        r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet",
                            "--destdir", dest], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        found = glob.glob(os.path.join(dest, "**", "joulestat", "_ext*.so"), recursive=True)
        self.assertEqual(len(found), 1, found)
        site = os.path.dirname(os.path.dirname(found[0]))
        for name in ("__init__.py", "__main__.py", "zeus.py", "backend.py", "tracker.py"):
            self.assertTrue(os.path.exists(os.path.join(site, "joulestat", name)), name)
        # Installed where the interpreter looks for the prefix's packages.
        prefix = subprocess.run(["meson", "introspect", build, "--buildoptions"],
                                capture_output=True, text=True).stdout
        import json
        pre = next(o["value"] for o in json.loads(prefix) if o["name"] == "prefix")
        rel = os.path.relpath(site, dest + pre)
        paths = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path))"],
                               capture_output=True, text=True, env={}).stdout.split()
        self.assertIn(os.path.join(pre, rel), paths)
        got = self.probe(sys.executable, pythonpath=site)
        self.assertTrue(got["file"].startswith(site), got["file"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
