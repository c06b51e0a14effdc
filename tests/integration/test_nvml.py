"""The nvml backend through the CLI, against the NVML simulator and its exact truth."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (domains_by_name, main_concurrent, measure, run_joulestat,  # noqa: E402
                    unwrap_list)
from nvml_sim import NvmlSim, gpu_domains, gpu_uuid  # noqa: E402

# Power that changes every 0.2 s: a figure is only right for the right interval.
STEPS = "steps:150,420,80,300@0.2"
BASE_J = 123456.789  # the simulated counters start near here; it must never show


def edge_part(dom):
    """The part of a figure's stated uncertainty that is not its method's class:
    what the sensor model claims about the edges (resolution, refresh) and
    sampling. The simulator's counter is exact, so the figure must be within it
    of the exact truth (and a small floor for the instants of the reads)."""
    u, cls = dom["uncertainty_j"], dom["accuracy"] * dom["energy_j"]
    return max(u * u - cls * cls, 0) ** 0.5


class NvmlCase(unittest.TestCase):
    def run_sim(self, sim, cmd=("sleep", "1.5"), extra=(), env=None, timeout=60):
        proc, doc = measure(list(cmd), env or sim.env(), backends="nvml", extra=extra,
                            timeout=timeout)
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal: " + proc.stderr)
        self.assertIsNotNone(doc, proc.stderr)
        sim.truth()
        return proc, doc, doc["runs"][0]

    def listed(self, env):
        """What `joulestat list` says of nvml: its lines of the output."""
        proc = run_joulestat(["list"], env=env)
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal")
        text = unwrap_list(proc.stdout) + "\n" + proc.stderr
        return "\n".join(ln for ln in text.splitlines() if "nvml" in ln)

    def assert_counter_matches(self, sim, m, dom, index):
        self.assertLess(dom["energy_j"], BASE_J / 10, "the counter's base leaked")
        want = sim.exact_truth(index, m["begin_ns"], m["end_ns"])
        # The figure interpolates between the counter's refreshes: it is the
        # energy of the window itself, within what its edges claim.
        err = abs(dom["energy_j"] - want)
        # Within the figure's stated ±, and its edges' part of it claims no less
        # than the error to within 1% (the simulator's counter is exact).
        self.assertLessEqual(err, dom["uncertainty_j"])
        self.assertLessEqual(err, edge_part(dom) + 0.01 * want + 0.02,
                             "%s: %.4f J, truth %.4f J, edges ± %.4f J" %
                             (dom["name"], dom["energy_j"], want, edge_part(dom)))
        # And that claim is no needless width: about a refresh's worth an edge
        # at most (2.14 refreshes at the top power for both once in CI, an edge
        # whose latch grid two points fitted).
        tick = sim._truth["counter_tick_s"]
        self.assertLessEqual(edge_part(dom), 2.5 * 1.01 * 420 * tick + 0.01)


class CounterTest(NvmlCase):
    """Volta and newer: the energy counter, to within 0.5% of the truth."""

    @classmethod
    def setUpClass(cls):
        cls.sim = NvmlSim(gpus=2, trace=STEPS).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def test_counters_match_truth(self):
        proc, doc, m = self.run_sim(self.sim)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(doc["exit_status"], 0)
        self.assertFalse(doc["partial"])
        self.assertGreater(m["duration_s"], 1.4)
        doms = domains_by_name(m)
        self.assertEqual(sorted(doms), ["gpu0", "gpu1"])
        total = 0
        for k in range(2):
            d = doms["gpu%d" % k]
            self.assertEqual(d["kind"], "gpu")
            self.assertEqual(d["device"], "gpu:" + gpu_uuid(k))
            self.assertEqual(d["backend"], "nvml")
            self.assertEqual(d["method"], "counter")
            self.assertEqual(d["source"], "energy-counter")
            self.assertAlmostEqual(d["accuracy"], 0.05)
            self.assertTrue(d["primary"])
            self.assertFalse(d["partial"], d["note"])
            self.assert_counter_matches(self.sim, m, d, k)
            total += d["energy_j"]
        gpu = m["totals"]["gpu"]
        self.assertEqual(gpu["parts"], 2)
        self.assertAlmostEqual(gpu["energy_j"], total, places=6)
        self.assertAlmostEqual(m["totals"]["total"]["energy_j"], total, places=6)

    def test_short_run_has_no_base_in_it(self):
        proc, doc, m = self.run_sim(self.sim, cmd=("true",))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for k, d in enumerate(sorted(gpu_domains(m), key=lambda d: d["name"])):
            self.assert_counter_matches(self.sim, m, d, k)

    def test_child_exit_status_is_kept(self):
        proc, doc, m = self.run_sim(self.sim, cmd=("sh", "-c", "sleep 0.2; exit 7"))
        self.assertEqual(proc.returncode, 7, proc.stderr)
        self.assertEqual(doc["exit_status"], 7)
        self.assertFalse(doc["partial"])

    def test_eight_gpus_at_once(self):
        with NvmlSim(gpus=8, trace=STEPS) as sim:
            proc, doc, m = self.run_sim(sim)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            doms = domains_by_name(m)
            self.assertEqual(sorted(doms), ["gpu%d" % k for k in range(8)])
            for k in range(8):
                self.assert_counter_matches(sim, m, doms["gpu%d" % k], k)
            self.assertEqual(m["totals"]["gpu"]["parts"], 8)
            self.assertAlmostEqual(m["totals"]["gpu"]["energy_j"],
                                   sum(d["energy_j"] for d in doms.values()), places=6)

    def test_mig_is_noted(self):
        with NvmlSim(gpus=2, trace=STEPS, mig="1") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("true",))
        doms = domains_by_name(m)
        self.assertNotIn("MIG", doms["gpu0"]["note"])
        self.assertIn("MIG enabled: energy is for the whole GPU", doms["gpu1"]["note"])
        self.assertFalse(doms["gpu1"]["partial"])


class PollingTest(NvmlCase):
    """Before Volta: power readings, integrated by the core."""

    TRACE = "steps:100,400@1"

    def test_instant_power_within_three_percent(self):
        with NvmlSim(gpus=2, trace=self.TRACE, mode="nocounter") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "3.3"), extra=["--period", "10"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doms = domains_by_name(m)
        self.assertEqual(sorted(doms), ["gpu0", "gpu1"])
        for k in range(2):
            d = doms["gpu%d" % k]
            self.assertEqual(d["method"], "power")
            self.assertEqual(d["source"], "instant-power")
            self.assertAlmostEqual(d["accuracy"], 0.10)
            self.assertGreater(d["samples"], 100)
            want = sim.exact_truth(k, m["begin_ns"], m["end_ns"])
            self.assertAlmostEqual(d["energy_j"], want, delta=0.03 * want,
                                   msg="%s: %.2f J, truth %.2f J" % (d["name"], d["energy_j"],
                                                                     want))
            self.assertAlmostEqual(d["peak_power_w"], 400 * (1 - 0.05 * k), delta=1)

    def test_average_power_when_nothing_else(self):
        with NvmlSim(trace="const:250", mode="nocounter,noinstant") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "1.2"), extra=["--period", "20"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        d = domains_by_name(m)["gpu0"]
        self.assertEqual(d["source"], "average-power")
        self.assertAlmostEqual(d["accuracy"], 0.15)
        self.assertIn("1-second average", d["note"])
        want = sim.exact_truth(0, m["begin_ns"], m["end_ns"])
        self.assertAlmostEqual(d["energy_j"], want, delta=0.03 * want)


    def test_which_gpus_average_is_told_by_model_not_substring(self):
        # nvmlDeviceGetPowerUsage is a 1-second average on Ampere except GA100
        # (A100, A800, A30). An RTX A1000 is a GA107, not an A100; an A800 is one.
        ampere = 7
        for name, smoothed in (("NVIDIA RTX A1000 6GB Laptop GPU", True),
                               ("NVIDIA RTX A3000 Laptop GPU", True),
                               ("NVIDIA A10", True),
                               ("NVIDIA A100-SXM4-80GB", False),
                               ("NVIDIA A100 80GB PCIe", False),
                               ("NVIDIA A100X", False),
                               ("NVIDIA A800-SXM4-80GB", False),
                               ("NVIDIA A30", False)):
            with NvmlSim(mode="nocounter,noinstant", name=name, arch=ampere) as sim:
                proc = run_joulestat(["list", "--json"], env=sim.env())
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with self.subTest(name=name):
                self.assertEqual("1-second average" in proc.stdout, smoothed, proc.stdout)


class CrossValidateTest(NvmlCase):
    def test_every_method_once_primary_and_counted_once(self):
        with NvmlSim(gpus=2, trace="const:300") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "1.5"),
                                        extra=["--cross-validate", "--period", "20"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for k in range(2):
            name = "gpu%d" % k
            doms = gpu_domains(m, name)
            by_source = {d["source"]: d for d in doms}
            self.assertEqual(sorted(by_source),
                             ["average-power", "energy-counter", "instant-power"])
            self.assertEqual(len(doms), 3)
            self.assertEqual([d["source"] for d in doms if d["primary"]], ["energy-counter"])
            for d in doms:
                self.assertEqual(d["device"], "gpu:" + gpu_uuid(k))
            counter = by_source["energy-counter"]
            self.assert_counter_matches(sim, m, counter, k)
            # On a constant trace every method must agree closely.
            for src, tol in (("instant-power", 0.03), ("average-power", 0.05)):
                self.assertAlmostEqual(by_source[src]["energy_j"], counter["energy_j"],
                                       delta=tol * counter["energy_j"], msg=src)
        gpu = m["totals"]["gpu"]
        self.assertEqual(gpu["parts"], 2)
        primaries = [d for d in gpu_domains(m) if d["primary"]]
        self.assertAlmostEqual(gpu["energy_j"], sum(d["energy_j"] for d in primaries), places=6)
        self.assertAlmostEqual(m["totals"]["total"]["energy_j"], gpu["energy_j"], places=6)


class TelemetryTest(NvmlCase):
    """The sampler's telemetry, summarised per window: the simulator derives it
    from the power (sim/nvml/README.md), so a constant trace fixes every figure."""

    def test_window_telemetry_follows_the_power(self):
        with NvmlSim(gpus=2, trace="const:300") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "0.6"), extra=["--period", "20"])
            text = run_joulestat(["run", "--backends", "nvml", "--", "sleep", "0.3"],
                                 env=sim.env()).stderr
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for k, d in enumerate(sorted(gpu_domains(m), key=lambda d: d["name"])):
            watts = 300 * (1 - 0.05 * k)
            util = 100 * watts / 700
            with self.subTest(gpu=k):
                self.assertGreater(d["samples"], 5)
                self.assertAlmostEqual(d["temperature_max_c"], 35 + watts / 10, delta=1)
                # NVML reports whole percent: the mean of truncated readings.
                self.assertAlmostEqual(d["utilization_mean_pct"], util, delta=1)
                self.assertAlmostEqual(d["clock_mean_mhz"], 345 + 1635 * util / 100,
                                       delta=20)
                self.assertAlmostEqual(d["power_limit_w"], 700)
        self.assertRegex(text, r"telemetry +max °C +mean util +mean MHz +limit W")
        self.assertRegex(text, r"gpu0 +65 +4[23]% +10[0-9][0-9] +700")

    def test_no_telemetry_before_the_sampler_reads(self):
        # A window shorter than the sampler's period has no telemetry: null, not 0.
        with NvmlSim(gpus=1, trace="const:300") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("true",), extra=["--period", "5000"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        d = gpu_domains(m)[0]
        self.assertEqual(d["samples"], 0)
        for key in ("temperature_max_c", "utilization_mean_pct", "clock_mean_mhz",
                    "power_limit_w"):
            self.assertIsNone(d[key], key)


class SelectionTest(NvmlCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = NvmlSim(gpus=4, trace="const:200").__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def names(self, extra=(), cuda_visible=None):
        proc, doc, m = self.run_sim(self.sim, cmd=("true",), extra=extra,
                                    env=self.sim.env(cuda_visible=cuda_visible))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return sorted(d["name"] for d in gpu_domains(m))

    def test_all_by_default(self):
        self.assertEqual(self.names(), ["gpu0", "gpu1", "gpu2", "gpu3"])

    def test_by_index(self):
        self.assertEqual(self.names(["--gpus", "0,2"]), ["gpu0", "gpu2"])

    def test_by_uuid(self):
        self.assertEqual(self.names(["--gpus", gpu_uuid(3)]), ["gpu3"])

    def test_cuda_visible_devices(self):
        self.assertEqual(self.names(cuda_visible="1,3"), ["gpu1", "gpu3"])
        self.assertEqual(self.names(cuda_visible=gpu_uuid(2)), ["gpu2"])

    def test_cuda_visible_devices_ends_at_an_unknown_gpu_as_cuda_does(self):
        # The CUDA runtime uses the list up to its first entry that names no GPU.
        self.assertEqual(self.names(cuda_visible="2,7,1"), ["gpu2"])
        self.assertEqual(self.names(cuda_visible="3," + gpu_uuid(9) + ",0"), ["gpu3"])

    def test_explicit_unknown_gpu_is_an_error(self):
        # Our own option is strict: a typo must not silently measure fewer GPUs.
        proc, doc = measure(["true"], self.sim.env(), backends="nvml",
                            extra=["--gpus", "0,7"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("GPU 7 not found", proc.stderr)

    def test_explicit_selection_beats_cuda_visible_devices(self):
        self.assertEqual(self.names(["--gpus", "0"], cuda_visible="1,3"), ["gpu0"])

    def test_unknown_gpu_says_which(self):
        proc = run_joulestat(["list"], env=self.sim.env(cuda_visible="7"))
        self.assertIn("GPU 7 not found", proc.stderr)
        proc = run_joulestat(["list"], env=self.sim.env(cuda_visible=gpu_uuid(9)))
        self.assertIn("no GPU has UUID " + gpu_uuid(9), proc.stderr)

    def test_empty_cuda_visible_devices_means_no_gpu(self):
        text = self.listed(self.sim.env(cuda_visible=""))
        self.assertIn("unavailable", text)
        self.assertIn("no GPU selected", text)


class RefusalTest(unittest.TestCase):
    """A selection that cannot be honoured fails before the command starts,
    naming what was asked and what exists: measuring fewer GPUs than asked
    for, exit 0, would pass for the figure that was wanted."""

    CASES = [
        # (simulator, --gpus or None, CUDA_VISIBLE_DEVICES or None, what stderr must say)
        (dict(gpus=4), "4", None,
         ["GPU selection '4'", "GPU 4 not found", "NVML sees 4 GPUs, indices 0-3"]),
        (dict(gpus=4), "2,99", None,
         ["GPU selection '2,99'", "GPU 99 not found", "indices 0-3"]),
        (dict(gpus=4), None, "7",
         ["CUDA_VISIBLE_DEVICES '7'", "GPU 7 not found", "indices 0-3"]),
        (dict(gpus=4), gpu_uuid(9), None, ["no GPU has UUID " + gpu_uuid(9)]),
        # lost from the start: NVML cannot open it
        (dict(gpus=2, lost="1@0"), "0,1", None,
         ["GPU selection '0,1'", "gpu1", "GPU is lost", "NVML sees 2 GPUs"]),
        (dict(gpus=2, lost="0@0"), None, "0", ["CUDA_VISIBLE_DEVICES '0'", "GPU is lost"]),
        # no NVML at all, yet GPUs were asked for by name
        (dict(library="/nonexistent/libnvidia-ml.so.1"), "0", None,
         ["GPU selection '0'", "/nonexistent/libnvidia-ml.so.1"]),
    ]

    def check(self, argv_of):
        for simopts, gpus, cuda, says in self.CASES:
            with self.subTest(sim=simopts, gpus=gpus, cuda=cuda), NvmlSim(**simopts) as sim:
                marker = os.path.join(sim.dir, "started")
                extra = ["--gpus", gpus] if gpus is not None else []
                proc = run_joulestat(argv_of(extra, marker), env=sim.env(cuda_visible=cuda))
                self.assertGreaterEqual(proc.returncode, 0, "killed: " + proc.stderr)
                for text in says:
                    self.assertIn(text, proc.stderr)
                self.assertFalse(os.path.exists(marker), "the command ran")
                yield proc

    def test_run_refuses(self):
        for proc in self.check(lambda extra, marker: ["run"] + extra +
                               ["--", "touch", marker]):
            self.assertEqual(proc.returncode, 125, proc.stderr)
            self.assertEqual(proc.stdout, "")

    def test_validate_refuses(self):
        for proc in self.check(lambda extra, marker: ["validate"] + extra +
                               ["--", "touch", marker]):
            self.assertEqual(proc.returncode, 1, proc.stderr)

    def test_list_refuses(self):
        for proc in self.check(lambda extra, marker: ["list"] + extra):
            self.assertEqual(proc.returncode, 1, proc.stderr)

    def test_what_can_be_honoured_is_measured(self):
        # The same machine and selections that exist: no refusal.
        with NvmlSim(gpus=2, lost="1@0") as sim:
            proc = run_joulestat(["run", "--gpus", "0", "--", "true"], env=sim.env())
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("gpu0", proc.stderr)
            # CUDA runs on what comes before an unknown entry: so do we.
            proc = run_joulestat(["run", "--", "true"], env=sim.env(cuda_visible="0,7"))
            self.assertEqual(proc.returncode, 0, proc.stderr)
        # An inherited CUDA_VISIBLE_DEVICES on a machine with no NVML names nothing.
        with NvmlSim(library="/nonexistent/libnvidia-ml.so.1") as sim:
            proc = run_joulestat(["run", "--", "true"], env=sim.env(cuda_visible="0"))
            self.assertEqual(proc.returncode, 0, proc.stderr)


class FailureTest(NvmlCase):
    def test_lost_gpu_is_partial_and_the_run_goes_on(self):
        lost_at = 1.0
        # A 10 ms counter: the meter has measured its refresh (about 0.4 s) and
        # the run begun well before the GPU is lost.
        with NvmlSim(gpus=2, trace="const:300", lost="1@%g" % lost_at,
                     counter_tick_ms=10) as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sh", "-c", "sleep 2; exit 3"))
            begin, end = sim.seconds(m["begin_ns"]), sim.seconds(m["end_ns"])
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(doc["exit_status"], 3)
        self.assertTrue(doc["partial"])
        self.assertTrue(m["partial"])
        doms = domains_by_name(m)
        lost, fine = doms["gpu1"], doms["gpu0"]
        self.assertTrue(lost["partial"])
        self.assertIn("gpu1: GPU is lost", lost["note"])
        self.assertFalse(fine["partial"], fine["note"])
        self.assert_counter_matches(sim, m, fine, 0)
        # gpu1's figure ends at its last good reading: about one sampler period
        # (100 ms by default) before it was lost, never after.
        self.assertLess(begin, lost_at)
        self.assertGreater(end, lost_at + 0.8)
        p1 = 300 * 0.95
        self.assertLessEqual(lost["energy_j"], p1 * (lost_at - begin) + 0.05)
        self.assertGreaterEqual(lost["energy_j"], p1 * (lost_at - begin - 0.3))
        self.assertTrue(m["totals"]["gpu"]["partial"])

    def test_gpu_lost_before_the_run_leaves_the_others_measured(self):
        # nvidia-smi lists the other GPUs of a machine with one fallen off the bus
        # ("Unable to determine the device handle for GPU ...: GPU is lost"), and
        # so must joulestat, saying which one it left out and why.
        with NvmlSim(gpus=2, trace="const:300", lost="1@0") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "0.3"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doms = domains_by_name(m)
        self.assertEqual(sorted(d["name"] for d in gpu_domains(m)), ["gpu0"])
        self.assertFalse(doms["gpu0"]["partial"], doms["gpu0"]["note"])
        self.assert_counter_matches(sim, m, doms["gpu0"], 0)
        self.assertIn("gpu1 left out", doms["gpu0"]["note"])
        self.assertIn("GPU is lost", doms["gpu0"]["note"])

    def test_every_gpu_lost_keeps_the_reason(self):
        with NvmlSim(gpus=1, lost="0@0") as sim:
            text = self.listed(sim.env())
        self.assertIn("unavailable", text)
        self.assertIn("gpu0", text)
        self.assertIn("GPU is lost", text)

    def test_missing_library_says_so(self):
        with NvmlSim(library="/nonexistent/libnvidia-ml.so.1") as sim:
            text = self.listed(sim.env())
        self.assertIn("unavailable", text)
        self.assertIn("/nonexistent/libnvidia-ml.so.1", text)
        self.assertIn("JOULESTAT_NVML_LIBRARY", text)

    def test_missing_driver_library_by_soname(self):
        with NvmlSim(library="libnvidia-ml-absent.so.1") as sim:
            text = self.listed(sim.env())
        self.assertIn("not found: install the NVIDIA driver, or set the nvml.library option "
                      "(JOULESTAT_NVML_LIBRARY)", text)

    def test_driver_not_loaded_says_what_to_do(self):
        with NvmlSim(fail_init=1) as sim:
            text = self.listed(sim.env())
        self.assertIn("unavailable", text)
        self.assertIn("Driver Not Loaded", text)
        self.assertIn("modprobe nvidia", text)

    def test_no_permission_says_what_to_do(self):
        with NvmlSim(fail_init="permission") as sim:
            text = self.listed(sim.env())
        self.assertIn("/dev/nvidia", text)

    def test_run_without_any_gpu_fails_clearly(self):
        with NvmlSim(fail_init=1) as sim:
            proc, doc = measure(["true"], sim.env(), backends="nvml")
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal: " + proc.stderr)
        self.assertNotEqual(proc.returncode, 0)
        self.assertTrue(proc.stderr.strip())


if __name__ == "__main__":
    main_concurrent()  # each test waits on its own simulator and command
