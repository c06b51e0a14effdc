"""The amdsmi backend through the CLI, against sim/amdsmi (stand-ins for
libamd_smi.so and librocm_smi64.so) and its truth."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, binary, measure, run_joulestat, truth_energy,  # noqa: E402
                    wait_for_file)

STEPS = "steps:150,420,80,300@0.2"
TICK_S = 0.001  # the simulated accumulator refreshes every millisecond



def run_list(args, **kw):
    """`joulestat list`, each backend's wrapped reason joined back onto its line."""
    from common import unwrap_list
    proc = run_joulestat(args, **kw)
    proc.stdout = unwrap_list(proc.stdout)
    return proc

def sim_library(name):
    var = {"libamd_smi.so": "SIM_AMDSMI", "librocm_smi64.so": "SIM_RSMI"}[name]
    if os.environ.get(var):
        return os.environ[var]
    found = glob.glob(os.path.join(REPO, "build*", "sim", "amdsmi", name))
    if not found:
        raise unittest.SkipTest("%s not set and no build*/sim/amdsmi/%s" % (var, name))
    return max(found, key=os.path.getmtime)


class AmdSim:
    def __init__(self, library="libamd_smi.so", **vars):
        self.library = library
        self.trace = vars.get("trace", "const:300")
        self.vars = {"JSTSIM_AMDSMI_" + k.upper(): str(v) for k, v in vars.items()}

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-amdsmi-")
        self.truth_path = os.path.join(self.dir, "truth.json")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JSTSIM_")}
        env.update(self.vars)
        env["JOULESTAT_AMDSMI_LIBRARY"] = sim_library(self.library)
        env["JSTSIM_AMDSMI_TRUTH"] = self.truth_path
        env["JOULESTAT_SYSFS_ROOT"] = self.dir  # keep the host's RAPL out
        return env

    def truth(self):
        with open(self.truth_path) as f:
            self.t = json.load(f)
        return self.t

    def window(self, index, begin_ns, end_ns, shift_b=0, shift_e=0):
        g = self.t["gpus"][index]
        s = lambda ns: (ns - self.t["start_ns"]) * 1e-9  # noqa: E731
        return truth_energy(self.trace, s(begin_ns + shift_b), s(end_ns + shift_e),
                            scale=g["scale"], tick=TICK_S)


class AmdsmiCase(unittest.TestCase):
    def run_sim(self, sim, seconds="1.0"):
        proc, doc = measure(["sleep", seconds], sim.env(), backends="amdsmi")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        sim.truth()
        return doc["runs"][0]

    def assert_counter(self, sim, m, d, index):
        self.assertLess(d["energy_j"], 1e4, "the accumulator's base leaked")
        # A reading's instant is taken around the calls: a 1 ms refresh may fall
        # between, so the counter can be exactly one refresh off at an edge.
        tick = int(TICK_S * 1e9)
        best = min(abs(d["energy_j"] - sim.window(index, m["begin_ns"], m["end_ns"], b, e))
                   for b in (-tick, 0, tick) for e in (-tick, 0, tick))
        self.assertLessEqual(best, 0.002, (d, sim.t))

    def test_amd_smi_counters_exact(self):
        with AmdSim(gpus=2, trace=STEPS) as sim:
            m = self.run_sim(sim)
        doms = {d["name"]: d for d in m["domains"]}
        self.assertEqual(sorted(doms), ["amdgpu0", "amdgpu1"])
        self.assertEqual(doms["amdgpu1"]["device"], "gpu:a1c00000-0000-4000-9000-000000000001")
        for k in (0, 1):
            self.assert_counter(sim, m, doms["amdgpu%d" % k], k)
        self.assertEqual(m["totals"]["gpu"]["parts"], 2)

    def test_gpus_selects_by_index_and_refuses_what_is_not_there(self):
        # Was ignored: every AMD GPU measured whatever --gpus said.
        with AmdSim(gpus=2, trace=STEPS) as sim:
            proc, doc = measure(["sleep", "0.3"], sim.env(), backends="amdsmi",
                                extra=["--gpus", "1"])
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual([d["name"] for d in doc["runs"][0]["domains"]], ["amdgpu1"])
            proc, doc = measure(["sleep", "0.3"], sim.env(), backends="amdsmi",
                                extra=["--gpus", "7"])
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("no amdgpu7", proc.stderr)
            # NVIDIA's variable says nothing of AMD GPUs.
            proc, doc = measure(["sleep", "0.3"], dict(sim.env(), CUDA_VISIBLE_DEVICES="0"),
                                backends="amdsmi")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(len(doc["runs"][0]["domains"]), 2)

    def test_compute_partitions_are_one_whole_gpu(self):
        # MI300 in CPX mode: each GPU's socket lists 4 partitions that share its
        # counter. Counted per partition, the energy would be 4x.
        with AmdSim(gpus=2, partition="CPX:4", trace=STEPS) as sim:
            m = self.run_sim(sim)
        doms = {d["name"]: d for d in m["domains"]}
        self.assertEqual(sorted(doms), ["amdgpu0", "amdgpu1"])
        for k in (0, 1):
            d = doms["amdgpu%d" % k]
            self.assertIn("compute partitions (CPX, 4)", d["note"])
            self.assertIn("whole GPU", d["note"])
            self.assert_counter(sim, m, d, k)

    def test_rocm_smi_fallback_exact(self):
        with AmdSim(library="librocm_smi64.so", trace=STEPS) as sim:
            m = self.run_sim(sim)
        d = m["domains"][0]
        self.assertEqual(d["device"], "gpu:amd-5a1c000000000000")
        self.assert_counter(sim, m, d, 0)

    def test_resolution_is_read_not_assumed(self):
        # A part whose counter counts 1 mJ: taking 15.3 uJ would give 1/65 of the energy.
        with AmdSim(resolution_uj=1000, trace="const:250") as sim:
            m = self.run_sim(sim, "0.5")
        self.assert_counter(sim, m, m["domains"][0], 0)

    def test_32_bit_accumulator_wraps_twice(self):
        # 0.05 uJ per count: the 32-bit accumulator spans 215 J, 0.7 s at 300 W,
        # and starts 3 J short of its wrap.
        with AmdSim(resolution_uj=0.05, wrap_bits=32, near_wrap=1, trace="const:300") as sim:
            m = self.run_sim(sim, "1.6")
        d = m["domains"][0]
        want = sim.window(0, m["begin_ns"], m["end_ns"])
        self.assertGreater(want, 2 * 215, "the window must span two wraps")
        self.assertFalse(d["partial"], d["note"])
        if "wraps ambiguous" not in (d["note"] or ""):
            self.assert_counter(sim, m, d, 0)
            return
        # A sampler starved for longer than the bound's reach of one wrap (a
        # loaded sanitizer build; under 0.1 s at 1.5 x the 1500 W bound) cannot
        # tell the wraps from the counter: the core takes the count the power
        # before and after the gap gives, and states every count the bound
        # allows in the +-. At a constant 300 W that count is right: the
        # figure is within a wrap's half of the truth (a wrong count is a
        # whole 214.7 J off) and the truth within the stated +-.
        range_j = 2 ** 32 * 0.05e-6
        self.assertLess(abs(d["energy_j"] - want), range_j / 2, d)
        self.assertLessEqual(abs(d["energy_j"] - want), d["uncertainty_j"], d)

    def test_starved_sampler_states_ambiguous_wraps(self):
        # joulestat stopped for 0.4 s while the GPU draws 300 W: the 32-bit
        # accumulator (214.7 J) comes round about once in the gap, and the
        # bound (1.5 x 1500 W) allows up to four wraps in it. The counter alone
        # cannot tell; the figure takes the count the power around the gap
        # gives, says the wraps were ambiguous, and its +- holds every count.
        with AmdSim(resolution_uj=0.05, wrap_bits=32, trace="const:300") as sim:
            tmp = tempfile.mkdtemp(prefix="jst-amd-starved-")
            path, flag = os.path.join(tmp, "m.json"), os.path.join(tmp, "running")
            try:
                proc = subprocess.Popen([binary("JOULESTAT"), "run", "--json", path,
                                         "--backends", "amdsmi", "--",
                                         "sh", "-c", "touch %s; sleep 2" % flag],
                                        env=sim.env(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
                # The window is open once the command runs.
                wait_for_file(flag, 30, proc)
                os.kill(proc.pid, signal.SIGSTOP)
                time.sleep(0.4)
                os.kill(proc.pid, signal.SIGCONT)
                _, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 0, err)
                with open(path) as f:
                    m = json.load(f)["runs"][0]
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            sim.truth()
        d = m["domains"][0]
        want = sim.window(0, m["begin_ns"], m["end_ns"])
        # One gap at least: a starved sanitizer build may add its own.
        self.assertRegex(d["note"], r"wraps ambiguous over \d+ gap\(s\)")
        self.assertFalse(d["partial"], d["note"])
        range_j = 2 ** 32 * 0.05e-6
        self.assertLess(abs(d["energy_j"] - want), range_j / 2, d)
        self.assertLessEqual(abs(d["energy_j"] - want), d["uncertainty_j"], d)
        self.assertGreaterEqual(d["uncertainty_j"], range_j, d)

    def test_reset_is_bridged(self):
        # The accumulator restarts: the energy since is the counter's, the gap
        # before it the power's, and the figure says so.
        with AmdSim(reset="0@0.5", trace="const:300") as sim:
            m = self.run_sim(sim, "1.0")
        d = m["domains"][0]
        want = sim.window(0, m["begin_ns"], m["end_ns"])
        self.assertAlmostEqual(d["energy_j"], want, delta=0.02 * want)
        self.assertLessEqual(abs(d["energy_j"] - want), d["uncertainty_j"])
        self.assertTrue(d["bridged"], d["note"])
        self.assertFalse(d["partial"])

    def test_telemetry(self):
        with AmdSim(library="librocm_smi64.so", trace="const:350") as sim:
            m = self.run_sim(sim, "0.5")
        d = m["domains"][0]
        self.assertAlmostEqual(d["temperature_max_c"], 75, delta=0.5)
        self.assertAlmostEqual(d["utilization_mean_pct"], 50, delta=1)


class UnavailableTest(unittest.TestCase):
    def line(self, env):
        proc = run_list(["list"], env=env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("amdsmi ")]
        self.assertEqual(len(lines), 1, proc.stdout)
        return lines[0]

    def test_permission(self):
        with AmdSim(fail_init="permission") as sim:
            line = self.line(sim.env())
        self.assertIn("amdsmi_init failed", line)
        self.assertIn("video and render groups", line)

    def test_implausible_resolution_refused(self):
        with AmdSim(resolution_uj=0) as sim:
            line = self.line(sim.env())
        self.assertIn("counter resolution of 0 uJ", line)

    def test_no_counter(self):
        with AmdSim(nocounter=1) as sim:
            line = self.line(sim.env())
        self.assertIn("no AMD GPU here has an energy counter", line)

    def test_library_missing(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, JOULESTAT_AMDSMI_LIBRARY=os.path.join(d, "libamd_smi.so"))
            line = self.line(env)
        self.assertIn("not found: install amd-smi", line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
