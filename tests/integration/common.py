"""Helpers the integration tests share: where the binaries are, simulators with
their ground truth, running joulestat and reading its JSON.

Binaries come from the environment (meson's integration_env sets them):
JOULESTAT, SIM_POWERCAP, SIM_TRUTH. Run by hand, they are looked for in the
repository's build*/ directories.
"""
import atexit
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# joulestat run records every run in $XDG_DATA_HOME/joulestat/history.db: the
# tests' runs go to a directory of their own, never the developer's home.
_DATA_HOME = tempfile.mkdtemp(prefix="jst-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
os.environ["XDG_CONFIG_HOME"] = os.path.join(_DATA_HOME, "config")
for _var in ("JOULESTAT_REGION", "JOULESTAT_CARBON_INTENSITY", "JOULESTAT_PUE",
             "JOULESTAT_PRICE"):
    os.environ.pop(_var, None)
atexit.register(shutil.rmtree, _DATA_HOME, True)
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

_BUILD_PATHS = {
    "JOULESTAT": "src/cli/joulestat",
    "SIM_POWERCAP": "sim/powercap/jst-sim-powercap",
    "SIM_TRUTH": "sim/jst-sim-truth",
    "SIM_PERF": "sim/perf/libjst-sim-perf.so",
    "SIM_HWMON": "sim/hwmon/jst-sim-hwmon",
}


def binary(var):
    """Path of a built program, from env var `var` or the newest build dir."""
    path = os.environ.get(var)
    if path:
        return path
    found = [p for p in glob.glob(os.path.join(REPO, "build*", _BUILD_PATHS[var]))
             if os.access(p, os.X_OK)]
    if not found:
        raise unittest.SkipTest("%s not set and no build*/%s" % (var, _BUILD_PATHS[var]))
    return max(found, key=os.path.getmtime)


def sanitized(var="JOULESTAT"):
    """Whether the program of var is built with a sanitizer (its runtime linked):
    it then runs several times slower, and timing-bound bars are held in the plain
    build."""
    try:
        out = subprocess.run(["readelf", "-d", binary(var)], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError, unittest.SkipTest):
        return False
    return any(n in out for n in ("libasan.so", "libtsan.so"))


def wait_for_file(path, timeout, proc=None):
    """Wait until path exists; fail early if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError("process exited (%s) before writing %s" % (proc.returncode, path))
        time.sleep(0.005)
    raise AssertionError("timed out waiting for %s" % path)


def unprivileged_prefix():
    """A command prefix that drops root, or [] when not root.

    Root reads files whatever their mode (CAP_DAC_OVERRIDE), so a permission
    test run as root must run the reader as someone else to get a real EACCES.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise unittest.SkipTest("running as root and setpriv is missing: cannot drop privileges")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def truth_energy(trace, t0, t1, scale=1.0, tick=None):
    """Exact energy (J) of scale x trace over [t0, t1] seconds, by jst-sim-truth."""
    args = [binary("SIM_TRUTH"), "--trace", trace, "--scale", repr(scale),
            "--from", "%.9f" % max(t0, 0.0), "--to", "%.9f" % max(t1, 0.0)]
    if tick:
        args += ["--tick", repr(tick)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
    return float(out.stdout)


class PowercapSim:
    """jst-sim-powercap in a temporary directory, as a context manager.

    Keyword options map to the simulator's: packages=1 -> --packages 1,
    no_dram=True -> --no-dram, modulus_j=40 -> --modulus-j 40.
    views=True also serves the same counters as MSR files (--devfs) and through
    the perf power PMU (--perf, read through sim/perf's stand-in seam), with a
    cpuinfo and CPU topology (--procfs): env() then points joulestat at them.
    """

    def __init__(self, **opts):
        self.views = opts.pop("views", False)
        self.opts = opts
        self.trace = opts.get("trace", "const:50")
        self.proc = None
        self.dir = None
        self.truth = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-rapl-")
        # Readable by everyone: permission tests run joulestat as nobody.
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "sys")
        os.mkdir(self.root, 0o755)
        self.ready_path = os.path.join(self.dir, "ready.json")
        self.truth_path = os.path.join(self.dir, "truth.json")
        args = [binary("SIM_POWERCAP"), "--root", self.root, "--ready", self.ready_path,
                "--truth", self.truth_path]
        if self.views:
            self.procfs = os.path.join(self.dir, "proc")
            self.devfs = os.path.join(self.dir, "dev")
            self.perf = os.path.join(self.dir, "perf")
            args += ["--procfs", self.procfs, "--devfs", self.devfs, "--perf", self.perf]
        for key, val in self.opts.items():
            flag = "--" + key.replace("_", "-")
            if val is True:
                args.append(flag)
            elif val not in (False, None):
                args += [flag, str(val)]
        return self._launch(args, "jst-sim-powercap")

    def _launch(self, args, what):
        """Start the simulator with args, wait for its ready file, take its clock."""
        self.log = open(os.path.join(self.dir, "sim.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for_file(self.ready_path, 20, self.proc)
        except AssertionError:
            self.log.seek(0)
            msg = self.log.read()
            self.__exit__(None, None, None)
            raise AssertionError(what + " did not start: " + msg)
        with open(self.ready_path) as f:
            ready = json.load(f)
        self.start_ns = ready["start_ns"]
        self.tick_s = ready["tick_s"]
        return self

    def env(self, **extra):
        env = dict(os.environ)
        env["JOULESTAT_SYSFS_ROOT"] = self.root
        if self.views:
            env["JOULESTAT_PROCFS_ROOT"] = self.procfs
            env["JOULESTAT_DEVFS_ROOT"] = self.devfs
            env["JOULESTAT_PERF_LIBRARY"] = binary("SIM_PERF")
            env["JSTSIM_PERF_DIR"] = self.perf
        env.update(extra)
        return env

    def stop(self):
        """Stop the simulator and return its truth (also kept in self.truth)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.truth is None and os.path.exists(self.truth_path):
            with open(self.truth_path) as f:
                self.truth = json.load(f)
        return self.truth

    def __exit__(self, *exc):
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def seconds(self, t_ns):
        """A CLOCK_MONOTONIC instant as seconds of the simulator's trace time."""
        return (t_ns - self.start_ns) * 1e-9

    def zone(self, name, mmio=False):
        for z in self.truth["zones"]:
            if z["name"] == name and z["mmio"] == mmio:
                return z
        raise KeyError(name)

    def window_truth(self, zone, begin_ns, end_ns):
        """What zone's counter gained between two instants, by the sim's own arithmetic."""
        return truth_energy(self.trace, self.seconds(begin_ns), self.seconds(end_ns),
                            scale=zone["scale"], tick=self.tick_s)

    def lag_slack(self, zone, begin_ns, end_ns):
        """Energy (J) by which zone's counter may have been stale at either edge
        because the simulator itself was late (it reports every such spell).
        0 when it was on time: only its own lateness widens a tolerance."""
        slack = 0.0
        for t in (self.seconds(begin_ns), self.seconds(end_ns)):
            for due, shown in self.truth.get("late", []):
                if due - self.tick_s <= t <= shown + 0.0005:
                    slack += zone["max_power_w"] * (shown - due + self.tick_s)
        return slack

    def wraps_between(self, zone, begin_ns, end_ns):
        """How many times zone's counter wrapped between two instants."""
        def raw(t_ns):
            e = truth_energy(self.trace, 0, self.seconds(t_ns), scale=zone["scale"],
                             tick=self.tick_s)
            return zone["base_uj"] + int(e * 1e6)
        return raw(end_ns) // zone["modulus_uj"] - raw(begin_ns) // zone["modulus_uj"]


    def msr_wraps_between(self, zone, begin_ns, end_ns):
        """How many times zone's 32-bit MSR counter wrapped between two instants."""
        def raw(t_ns):
            e = truth_energy(self.trace, 0, self.seconds(t_ns), scale=zone["scale"],
                             tick=self.tick_s)
            return zone["msr_base"] + int(e / zone["msr_unit_j"])
        return raw(end_ns) // 2**32 - raw(begin_ns) // 2**32


class HwmonSim(PowercapSim):
    """jst-sim-hwmon with one layout (orin, xavier-nx, amd-energy, grace) in a
    temporary directory, or under another simulator's root (root=...)."""

    def __init__(self, layout, root=None, **opts):
        super().__init__(**opts)
        self.layout = layout
        self.shared_root = root

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-hwmon-")
        os.chmod(self.dir, 0o755)
        self.root = self.shared_root or os.path.join(self.dir, "sys")
        os.makedirs(self.root, 0o755, exist_ok=True)
        self.ready_path = os.path.join(self.dir, "ready.json")
        self.truth_path = os.path.join(self.dir, "truth.json")
        args = [binary("SIM_HWMON"), "--root", self.root, "--layout", self.layout,
                "--ready", self.ready_path, "--truth", self.truth_path]
        for key, val in self.opts.items():
            args += ["--" + key.replace("_", "-"), str(val)]
        return self._launch(args, "jst-sim-hwmon")

    def zone(self, name, mmio=False):
        for r in self.truth["rails"]:
            if r["name"] == name:
                return r
        raise KeyError(name)


def unwrap_list(text):
    """`joulestat list`'s text with each backend's wrapped reason joined back
    onto its backend's line (continuation lines are indented under it)."""
    out = []
    in_backends = False
    for line in text.splitlines():
        if line.startswith("backends"):
            in_backends = True
        elif not line.strip():
            in_backends = False
        elif in_backends and out and line.startswith("    ") and out[-1].startswith("  "):
            out[-1] += " " + line.strip()
            continue
        out.append(line)
    return "\n".join(out)


def run_joulestat(args, env=None, timeout=60, prefix=()):
    """Run joulestat with args; returns the CompletedProcess (text)."""
    return subprocess.run(list(prefix) + [binary("JOULESTAT")] + list(args), env=env,
                          capture_output=True, text=True, timeout=timeout)


def measure(cmd, env, backends="rapl", extra=(), timeout=60):
    """`joulestat run --json FILE -- cmd`; returns (CompletedProcess, parsed JSON or None)."""
    fd, path = tempfile.mkstemp(prefix="jst-run-", suffix=".json")
    os.close(fd)
    try:
        args = ["run", "--json", path]
        if backends:
            args += ["--backends", backends]
        args += list(extra) + ["--"] + list(cmd)
        proc = run_joulestat(args, env=env, timeout=timeout)
        doc = None
        if os.path.getsize(path):
            with open(path) as f:
                doc = json.load(f)
        return proc, doc
    finally:
        os.unlink(path)


def domains_by_name(measurement):
    return {d["name"]: d for d in measurement["domains"]}


class EmptyMachine:
    """A machine where only the estimate backend can work, whatever the host
    has: an empty sysfs root (no RAPL) and NVML and AMD SMI libraries that do not exist.
    A context manager; env() gives the environment for joulestat."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-empty-")
        return self

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JSTSIM_")}
        env.pop("CUDA_VISIBLE_DEVICES", None)
        env["JOULESTAT_SYSFS_ROOT"] = self.dir
        env["JOULESTAT_DEVFS_ROOT"] = self.dir
        env.pop("JOULESTAT_PERF_LIBRARY", None)
        env["JOULESTAT_NVML_LIBRARY"] = os.path.join(self.dir, "no-libnvidia-ml.so.1")
        # meson's LD_LIBRARY_PATH reaches sim/amdsmi's libamd_smi.so: name none.
        env["JOULESTAT_AMDSMI_LIBRARY"] = os.path.join(self.dir, "no-libamd_smi.so")
        env["JOULESTAT_DCGM_LIBRARY"] = os.path.join(self.dir, "no-libdcgm.so.4")
        env.update(extra)
        return env

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def main_concurrent(workers=None):
    """unittest.main for a file whose tests each wait on their own simulator and
    command (sleep-bound, and independent of each other): up to `workers` at
    once (3; one at a time in a sanitizer's build, whose runs are CPU-bound
    enough to starve a meter's sampler for most of a second beside others),
    so that the file takes about its longest tests, not their sum. Each
    class's setUpClass runs before its tests and tearDownClass after them;
    exit status 1 when any test failed or erred."""
    import concurrent.futures
    import sys
    import threading
    import traceback

    if workers is None:
        workers = 1 if sanitized() else 3

    def flatten(suite):
        for t in suite:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t

    tests = list(flatten(unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules["__main__"])))
    argv = [a for a in sys.argv[1:] if not a.startswith("-")]
    if argv:  # names given, as unittest.main takes them: Class or Class.test
        tests = [t for t in tests if any(t.id().split(".", 1)[1] == a or
                                         t.id().split(".")[1] == a for a in argv)]
    classes = []
    for t in tests:
        if type(t) not in classes:
            classes.append(type(t))
    lock = threading.Lock()
    bad = []
    started = time.monotonic()
    ready = []
    for cls in classes:
        try:
            cls.setUpClass()
            ready.append(cls)
        except unittest.SkipTest as e:
            print("%s: skipped: %s" % (cls.__name__, e), file=sys.stderr)
        except Exception:
            bad.append(cls.__name__)
            print("ERROR in %s.setUpClass\n%s" % (cls.__name__, traceback.format_exc()),
                  file=sys.stderr)

    def one(test):
        result = unittest.TestResult()
        t0 = time.monotonic()
        test.run(result)
        problems = result.failures + result.errors
        with lock:
            state = "FAIL" if problems else ("skipped" if result.skipped else "ok")
            print("%s ... %s (%.1f s)" % (test.id(), state, time.monotonic() - t0),
                  file=sys.stderr)
            for _, text in problems:
                print(text, file=sys.stderr)
            if problems:
                bad.append(test.id())

    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, [t for t in tests if type(t) in ready]))
    finally:
        for cls in ready:
            try:
                cls.tearDownClass()
            except Exception:
                bad.append(cls.__name__ + ".tearDownClass")
                traceback.print_exc()
    n = sum(1 for t in tests if type(t) in ready)
    # As unittest.main ends (scripts/count-tests.py reads these two lines).
    print("Ran %d tests in %.1fs, %d at a time\n" % (n, time.monotonic() - started, workers),
          file=sys.stderr)
    print("FAILED (failures=%d): %s" % (len(bad), ", ".join(bad)) if bad else "OK",
          file=sys.stderr)
    sys.exit(1 if bad else 0)
