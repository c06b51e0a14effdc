"""sim/ptd (jst-sim-ptd) for the integration tests: a PTDaemon on loopback with
a simulated analyser, as a context manager, and its ground truth.

PtdSim(trace="bursty:7", refresh=None, stall=None, disconnect=None, garbage=None,
drift=None, offset=None, uncertainty=None, energy=False, first=None) starts it; address() is what
ptd.address takes; truth(begin_ns, end_ns) is the trace's exact energy between
two CLOCK_MONOTONIC instants; kill() is the fault no option can give.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from common import REPO, truth_energy, wait_for_file


def sim_ptd_path():
    path = os.environ.get("SIM_PTD")
    if path:
        return path
    found = glob.glob(os.path.join(REPO, "build*", "sim", "ptd", "jst-sim-ptd"))
    if not found:
        raise unittest.SkipTest("SIM_PTD not set and no build*/sim/ptd/jst-sim-ptd")
    return max(found, key=os.path.getmtime)


class PtdSim:
    def __init__(self, trace="bursty:7", **knobs):
        self.trace = trace
        self.knobs = knobs
        self.proc = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-ptd-")
        self.ready_path = os.path.join(self.dir, "ready.json")
        self.truth_path = os.path.join(self.dir, "truth.json")
        args = [sim_ptd_path(), "--trace", self.trace, "--ready", self.ready_path,
                "--truth", self.truth_path]
        for key, val in self.knobs.items():
            if val is True:
                args.append("--" + key)
            elif val not in (None, False):
                args += ["--" + key, str(val)]
        self.log = open(os.path.join(self.dir, "sim.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for_file(self.ready_path, 20, self.proc)
        except AssertionError:
            self.log.seek(0)
            msg = self.log.read()
            self.__exit__(None, None, None)
            raise AssertionError("jst-sim-ptd did not start: " + msg)
        with open(self.ready_path) as f:
            self.ready = json.load(f)
        return self

    def address(self):
        return "127.0.0.1:%d" % self.ready["port"]

    def option(self):
        return ["--option", "ptd.address=" + self.address()]

    def seconds(self, t_ns):
        return (t_ns - self.ready["start_ns"]) * 1e-9

    def truth(self, begin_ns, end_ns):
        return truth_energy(self.trace, self.seconds(begin_ns), self.seconds(end_ns))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def missed_allowance(self, interval_s, swing_w=340.0):
        """What samples the client never saw may cost (J): each one's span is
        bridged at a neighbour's power, at most the trace's swing off."""
        return self.stop()["missed"] * swing_w * interval_s

    def stop(self):
        """SIGTERM; the final truth file (served, garbled, missed samples)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with open(self.truth_path) as f:
            return json.load(f)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
