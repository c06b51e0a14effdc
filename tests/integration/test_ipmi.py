"""The ipmi backend through the CLI against OpenIPMI's ipmi_sim, which answers
DCMI "Get Power Reading" through sim/ipmi's module (jst-ipmi-dcmi.so) from a
power trace: node energy within the uncertainty the sensor model states, a BMC
that dies mid-run, and the refusals (credentials, configuration)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (domains_by_name, measure, run_joulestat, truth_energy,  # noqa: E402
                    unwrap_list, wait_for_file)

USER, PASSWORD = "jst", "s3cret"


def module():
    path = os.environ.get("SIM_IPMI_DCMI")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("SIM_IPMI_DCMI not built (libopenipmi-dev missing, or a "
                                "sanitized build: ipmi_sim cannot load it)")
    if not shutil.which("ipmi_sim"):
        raise unittest.SkipTest("no ipmi_sim (Debian package openipmi)")
    return path


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IpmiSim:
    """ipmi_sim on a loopback UDP port with the DCMI module, as a context manager."""

    def __init__(self, trace="const:300", refresh=1.0):
        self.trace, self.refresh = trace, refresh

    def __enter__(self):
        lib = module()
        self.dir = tempfile.mkdtemp(prefix="jst-ipmi-")
        self.port = free_udp_port()
        ready = os.path.join(self.dir, "ready.json")
        conf = os.path.join(self.dir, "lan.conf")
        with open(conf, "w") as f:
            f.write('name "jst"\nset_working_mc 0x20\n  startlan 1\n'
                    '    addr 127.0.0.1 %d\n    priv_limit admin\n'
                    '    allowed_auths_callback none md2 md5 straight\n'
                    '    allowed_auths_user none md2 md5 straight\n'
                    '    allowed_auths_operator none md2 md5 straight\n'
                    '    allowed_auths_admin none md2 md5 straight\n'
                    '    guid a123456789abcdefa123456789abcdef\n  endlan\n'
                    '  user 2 true "%s" "%s" admin 10 none md2 md5 straight\n'
                    'loadlib "%s" "%s %r %s"\n'
                    % (self.port, USER, PASSWORD, lib, self.trace, self.refresh, ready))
        emu = os.path.join(self.dir, "bmc.emu")
        with open(emu, "w") as f:
            f.write("mc_setbmc 0x20\n"
                    "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
                    "mc_enable 0x20\n")
        state = os.path.join(self.dir, "state")
        os.mkdir(state)
        self.proc = subprocess.Popen(["ipmi_sim", "-c", conf, "-f", emu, "-s", state, "-n"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            wait_for_file(ready, 30, self.proc)
        except BaseException:
            self.__exit__()
            raise
        with open(ready) as f:
            self.t0_ns = json.load(f)["t0_ns"]
        self.cred = os.path.join(self.dir, "cred")
        with open(self.cred, "w") as f:
            f.write("%s:%s\n" % (USER, PASSWORD))
        os.chmod(self.cred, 0o600)
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def options(self, **more):
        # ipmi_sim runs commands that modules add at admin only, and wants the
        # maximum privilege in RMCP+'s Open Session request.
        opts = {"ipmi.host": "127.0.0.1:%d" % self.port, "ipmi.credentials": self.cred,
                "ipmi.privilege": "admin", "ipmi.workarounds": "opensesspriv",
                "ipmi.refresh": self.refresh, "ipmi.max_power": 1000}
        opts.update(more)
        out = []
        for k, v in opts.items():
            out += ["--option", "%s=%s" % (k, v)]
        return out

    def truth(self, begin_ns, end_ns):
        return truth_energy(self.trace, (begin_ns - self.t0_ns) / 1e9,
                            (end_ns - self.t0_ns) / 1e9)


def run(sim, cmd, **opts):
    proc, doc = measure(cmd, dict(os.environ), backends="ipmi", extra=sim.options(**opts))
    if proc.returncode != 0 or doc is None:
        raise AssertionError("joulestat failed (%d): %s" % (proc.returncode, proc.stderr))
    return doc["runs"][0]


class IpmiTest(unittest.TestCase):
    def check_truth(self, sim, m, share):
        d = domains_by_name(m)["ipmi-dcmi"]
        want = sim.truth(m["begin_ns"], m["end_ns"])
        got, u = d["energy_j"], d["uncertainty_j"]
        print("ipmi-dcmi got %9.1f J  truth %9.1f J  error %+5.1f%%  stated +-%5.1f%%" % (
            got, want, 100 * (got - want) / want, 100 * u / want), file=sys.stderr)
        with self.subTest(got=got, truth=want, stated=u):
            self.assertLessEqual(abs(got - want), u, "truth outside the stated uncertainty")
            self.assertLess(u, share * want, "a statement too wide to use")
        return d

    def test_constant_power(self):
        with IpmiSim("const:420") as sim:
            m = run(sim, ["sleep", "2.5"])
        # The class, and the share of each cut refresh anywhere from none of
        # its energy to all of it (src/core/power_edge.c): 21% on 2.5 s.
        d = self.check_truth(sim, m, 0.3)
        self.assertEqual((d["kind"], d["method"], d["source"], d["device"]),
                         ("node", "power", "dcmi-power-reading", "node:bmc:127.0.0.1"))
        self.assertAlmostEqual(m["totals"]["system"]["energy_j"], d["energy_j"], delta=1e-6)
        self.assertNotIn("total", m["totals"])

    def test_steps(self):
        # Steps as large as the node's range, two refreshes long, in a 4 s run:
        # each edge lies up to a refresh and a half from the last reading, and
        # the statement says so.
        with IpmiSim("steps:250,600,380@2") as sim:
            m = run(sim, ["sleep", "4"])
        self.check_truth(sim, m, 0.5)

    def test_bmc_killed_mid_run_is_partial(self):
        with IpmiSim("const:300") as sim:
            # The workload kills the BMC a second in.
            cmd = ["/bin/sh", "-c", "sleep 1; kill -9 %d; sleep 3" % sim.proc.pid]
            t = time.monotonic()
            m = run(sim, cmd, **{"ipmi.timeout": 0.5})
            took = time.monotonic() - t
        d = domains_by_name(m)["ipmi-dcmi"]
        self.assertTrue(d["partial"])
        self.assertIn("stopped answering", json.dumps(d))
        self.assertLess(took - (m["end_ns"] - m["begin_ns"]) / 1e9, 5)

    def line(self, args):
        proc = run_joulestat(["list"] + args)
        lines = [ln for ln in unwrap_list(proc.stdout).splitlines()
                 if ln.strip().startswith("ipmi ")]
        self.assertEqual(len(lines), 1, proc.stdout)
        return lines[0]

    def test_refusals(self):
        self.assertIn("not configured", self.line([]))
        with IpmiSim() as sim:
            self.assertNotIn("unavailable", self.line(sim.options()))
            os.chmod(sim.cred, 0o640)
            self.assertIn("can be read by others", self.line(sim.options()))
            os.chmod(sim.cred, 0o600)
            with open(sim.cred, "w") as f:
                f.write("jst:wrong\n")
            self.assertIn("unavailable", self.line(sim.options()))
        self.assertIn("want user, operator or admin",
                      self.line(["--option", "ipmi.host=127.0.0.1:1",
                                 "--option", "ipmi.privilege=root"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
