"""The sensor model through the CLI, at the values real hardware takes: slow counter
refreshes, high power, transient errors, resets, tiny windows. Each case is a row of
the table that opened issue 8 (what joulestat showed before the model), asserted
against the simulators' exact truth."""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PowercapSim, domains_by_name, main_concurrent, measure,  # noqa: E402
                    run_joulestat, truth_energy)
from nvml_sim import NvmlSim  # noqa: E402


def gpu0(m):
    return domains_by_name(m)["gpu0"]


def exact(sim, m, name="gpu0"):
    return sim.exact_truth(int(name[3:]), m["begin_ns"], m["end_ns"])


class CounterRefreshTest(unittest.TestCase):
    def run_nvml(self, sim, cmd, extra=(), timeout=60):
        proc, doc = measure(list(cmd), sim.env(), backends="nvml", extra=extra,
                            timeout=timeout)
        self.assertGreaterEqual(proc.returncode, 0, proc.stderr)
        self.assertIsNotNone(doc, proc.stderr)
        sim.truth()
        return proc, doc

    def test_slow_counter_at_700_w_with_5_ms_rows(self):
        # Was 0.0 J for the run and every row ("counter went backwards or jumped").
        with NvmlSim(trace="const:700", counter_tick_ms=100) as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "3"], extra=["-I", "5"])
        m = doc["runs"][0]
        g = gpu0(m)
        truth = exact(sim, m)
        self.assertAlmostEqual(g["energy_j"], truth, delta=0.01 * truth)
        self.assertGreater(truth, 2000)
        self.assertFalse(g["partial"], g["note"])
        self.assertFalse(g["bridged"], g["note"])
        # Rows tile the run: they add up to it, and none is empty.
        rows = [gpu0(r)["energy_j"] for r in doc["intervals"]]
        self.assertGreater(len(rows), 400)
        self.assertAlmostEqual(sum(rows), g["energy_j"], delta=0.005 * g["energy_j"])
        # No row of the run's length is empty (the last may end microseconds after
        # the one before it, when the command exits just after a rotation).
        self.assertGreater(min(gpu0(r)["energy_j"] for r in doc["intervals"]
                               if r["duration_s"] >= 0.002), 0)
        self.assertTrue(all(gpu0(r)["short_window"] for r in doc["intervals"]))
        self.assertIn("shorter than 3 refreshes", proc.stderr)

    def test_refresh_is_measured(self):
        for tick in (10, 20, 50, 100):
            with NvmlSim(trace="const:300", counter_tick_ms=tick) as sim:
                proc = run_joulestat(["list", "--json", "--backends", "nvml"], env=sim.env())
            self.assertEqual(proc.returncode, 0, proc.stderr)
            d = json.loads(proc.stdout)["domains"][0]
            self.assertTrue(d["refresh_measured"])
            self.assertAlmostEqual(d["refresh_s"], tick / 1e3, delta=0.01 * tick / 1e3)

    def test_short_runs_are_measured_not_quantised(self):
        # Was 0 or 30 J, labelled "± 5%". A run's window includes starting the
        # command, so the shortest are some milliseconds.
        with NvmlSim(trace="const:300", counter_tick_ms=100) as sim:
            for ms in (2, 10, 20, 45, 80):
                proc, doc = self.run_nvml(sim, ["sleep", "%g" % (ms / 1e3)])
                m = doc["runs"][0]
                g, truth = gpu0(m), exact(sim, m)
                # The statement holds the truth, and it is the width of the
                # reads' instants, never of a refresh: a quantised figure (0 J,
                # or a refresh's 30 J) would need a ± of 30 J. How close the
                # figure comes (1%) is asserted in virtual time
                # (tests/unit/test_sensor.c): here it moves with where a loaded
                # 2-core machine lets the sampler's reads fall (4.9% seen once
                # under CI's load). A machine so loaded that the run outgrew
                # 0.3 s is no short window: its ± is the sampler's, not asserted.
                self.assertLessEqual(abs(g["energy_j"] - truth), g["uncertainty_j"],
                                     "sleep %d ms: %.3f J against %.3f J" % (
                                         ms, g["energy_j"], truth))
                self.assertGreater(g["energy_j"], 0.5 * truth, "sleep %d ms" % ms)
                if m["duration_s"] < 0.3:
                    self.assertLessEqual(g["uncertainty_j"], 0.1 * truth + 0.6,
                                         "sleep %d ms" % ms)
                    self.assertTrue(g["short_window"])
                    self.assertIn("shorter than 3 refreshes", g["note"])

    def test_sweep_of_refreshes_keeps_the_truth_inside(self):
        # The statement is calibrated to cover 95% of windows, not all: on a
        # bursty trace one row in 30 or so may fall outside it (the coverage
        # is asserted in virtual time, tests/unit/test_sensor.c, and measured
        # in BENCHMARKS.md 3a). Here, in real time, some 60 windows: at least
        # 90% inside, and none beyond twice its statement.
        ratios = []
        for tick in (10, 20, 50, 100):
            with NvmlSim(trace="bursty:7", counter_tick_ms=tick) as sim:
                proc, doc = self.run_nvml(sim, ["sleep", "0.7"], extra=["-I", "50"])
            for m in doc["runs"] + doc["intervals"]:
                g, truth = gpu0(m), exact(sim, m)
                r = abs(g["energy_j"] - truth) / g["uncertainty_j"]
                ratios.append(r)
                self.assertLessEqual(r, 2, "tick %d ms: %.3f J against %.3f J +- %.3f J" % (
                    tick, g["energy_j"], truth, g["uncertainty_j"]))
        inside = sum(r <= 1 for r in ratios) / len(ratios)
        self.assertGreaterEqual(len(ratios), 40)
        self.assertGreaterEqual(inside, 0.9, sorted(ratios)[-5:])

    def test_counter_reset_is_bridged(self):
        # A driver reload restarts the counter at 0. Was 190 J: a sampler period lost.
        with NvmlSim(trace="const:100", counter_tick_ms=20, reset="0@1.0") as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "2"])
        m = doc["runs"][0]
        g, truth = gpu0(m), exact(sim, m)
        self.assertAlmostEqual(g["energy_j"], truth, delta=0.02 * truth)
        self.assertTrue(g["bridged"])
        self.assertFalse(g["partial"])
        self.assertIn("bridged from power", g["note"])

    def test_transient_timeouts_cost_no_energy(self):
        # 150 ms of NVML timeouts: was a dead domain for the rest of the meter's life.
        with NvmlSim(trace="const:100", counter_tick_ms=20, errors="0@1.0+0.15") as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "2"], extra=["--period", "20"])
        m = doc["runs"][0]
        g, truth = gpu0(m), exact(sim, m)
        self.assertAlmostEqual(g["energy_j"], truth, delta=0.01 * truth)
        self.assertFalse(g["partial"])
        self.assertIn("skipped", g["note"])

    def test_peak_is_true_at_a_1_ms_period(self):
        # Was 546 W at a constant 300 W: counter differences over 10 ms spans.
        with NvmlSim(trace="const:300", counter_tick_ms=10) as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "1"], extra=["--period", "1"])
        g = gpu0(doc["runs"][0])
        self.assertAlmostEqual(g["peak_power_w"], 300, delta=3)
        self.assertGreaterEqual(g["peak_power_w"], g["avg_power_w"])

    def test_no_counter_sampled_too_slowly_is_widened(self):
        # Was 30 J labelled "± 10%" against a truth of 177 J.
        with NvmlSim(trace="bursty:3", mode="nocounter") as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "1"], extra=["--period", "2000"])
        m = doc["runs"][0]
        g, truth = gpu0(m), exact(sim, m)
        self.assertEqual(g["method"], "power")
        self.assertLessEqual(abs(g["energy_j"] - truth), g["uncertainty_j"])
        self.assertIn("--period 2000 ms is longer than twice gpu0's refresh", proc.stderr)
        # It names the period that would see it: at most twice the refresh.
        said = re.search(r"gpu0's refresh \((\d+) ms\).*\(--period (\d+) or shorter reads it "
                         r"every other refresh\)", proc.stderr)
        self.assertIsNotNone(said, proc.stderr)
        self.assertEqual(int(said.group(2)), 2 * int(said.group(1)))

    def test_no_counter_sampled_inside_bursts_is_covered_below_too(self):
        # Readings every 500 ms of a 100 ms power that landed inside bursts:
        # was 2571 J ± 851 against a truth of 1468 J (the ± allowed unseen
        # power above the readings only, up to the bound, not below them).
        with NvmlSim(trace="bursty:17:100:900", mode="nocounter") as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "3"], extra=["--period", "500"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        g, truth = gpu0(m), exact(sim, m)
        self.assertLessEqual(abs(g["energy_j"] - truth), g["uncertainty_j"],
                             (g["energy_j"], g["uncertainty_j"], truth))

    def test_repeats_cut_short_are_left_out_of_the_statistics(self):
        # gpu1 is lost during one of the runs: its figure there and after (and the
        # totals') is partial, and the statistics over runs leave those out, saying
        # so. Which run it falls in depends on how long the meter took to settle.
        with NvmlSim(gpus=2, trace="const:300", lost="1@3.2", counter_tick_ms=10) as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "0.6"], extra=["-r", "5"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        gpu1 = [domains_by_name(r)["gpu1"] for r in doc["runs"]]
        whole = [d["energy_j"] for d in gpu1 if not d["partial"]]
        cut = [d for d in gpu1 if d["partial"]]
        self.assertTrue(whole and cut, [d["partial"] for d in gpu1])
        summary = {d["name"]: d for d in doc["summary"]["domains"]}
        self.assertEqual(summary["gpu0"]["energy_j"]["runs"], 5)
        self.assertEqual(summary["gpu0"]["energy_j"]["runs_excluded"], 0)
        self.assertEqual(summary["gpu1"]["energy_j"]["runs"], len(whole))
        self.assertEqual(summary["gpu1"]["energy_j"]["runs_excluded"], len(cut))
        self.assertAlmostEqual(summary["gpu1"]["energy_j"]["mean"], sum(whole) / len(whole),
                               places=6)
        self.assertIn("(%d of 5 runs)" % len(whole), proc.stderr)
        # Runs after the one it was lost in measured none of it: no mean
        # power (not 0 W), and a report draws no line for them.
        for d in cut[1:]:
            self.assertEqual(d["energy_j"], 0, d)
            self.assertIsNone(d["avg_power_w"], d)
        # The run the GPU was lost in: its mean power is over the span it measured.
        lost = cut[0]
        self.assertIn("figure ends", lost["note"])
        if lost["energy_j"] > 0:
            span = lost["energy_j"] / lost["avg_power_w"]
            self.assertLessEqual(abs(lost["energy_j"] - 300 * 0.95 * span),
                                 lost["uncertainty_j"])
            # Within the class, and the figure's own +- over its span: lost
            # early in a 0.6 s run (a sanitizer's slow start), a span of some
            # 0.1 s puts a 10 ms latch's worth of energy at 10% of its mean
            # power (321.6 W seen against 285 W).
            self.assertAlmostEqual(lost["avg_power_w"], 300 * 0.95,
                                   delta=0.05 * 300 + lost["uncertainty_j"] / span)

    def test_rows_after_a_gpu_is_lost_have_no_mean_power(self):
        # A row that began after gpu1 was lost measured none of it: 0 J,
        # partial, and no mean power (was 0 W over the span from its last
        # good reading to its failure, drawn at 0 W by the report).
        with NvmlSim(gpus=2, trace="const:300", lost="1@1.5", counter_tick_ms=10) as sim:
            proc, doc = self.run_nvml(sim, ["sleep", "2"], extra=["-I", "200"])
        rows = [domains_by_name(r)["gpu1"] for r in doc["intervals"]]
        lost = [i for i, d in enumerate(rows) if d["partial"]]
        self.assertTrue(lost and len(rows) - lost[0] >= 2, [d["partial"] for d in rows])
        for d in rows[lost[0] + 1:]:
            self.assertTrue(d["partial"], d)
            self.assertEqual(d["energy_j"], 0, d)
            self.assertIsNone(d["avg_power_w"], d)
        for d in rows[:lost[0]]:
            self.assertAlmostEqual(d["avg_power_w"], 300 * 0.95, delta=0.05 * 300 + 30)

    def test_validate_too_short_to_compare(self):
        with NvmlSim(trace="const:300", counter_tick_ms=100) as sim:
            proc = run_joulestat(["validate", "--backends", "nvml", "--cross-validate", "--",
                                  "sleep", "0.05"], env=sim.env())
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("too short to compare", proc.stderr)


class RaplTest(unittest.TestCase):
    def test_dram_at_250_w_without_a_constraint(self):
        # Was 1 J of 750: a 100 W default bound rejected every step.
        with PowercapSim(packages=1, trace="const:250", dram_scale=1.0) as sim:
            proc, doc = measure(["sleep", "3"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        d = domains_by_name(m)["dram-0"]
        want = truth_energy(sim.trace, sim.seconds(m["begin_ns"]), sim.seconds(m["end_ns"]),
                            scale=1.0)
        self.assertAlmostEqual(d["energy_j"], want, delta=0.01 * want)
        self.assertGreater(want, 700)

    def test_unreadable_counter_for_150_ms(self):
        # Was 61-90 J of 200: the domain dead for the meter's life.
        with PowercapSim(packages=1, no_dram=True, trace="const:100", mode="garbage-late",
                         garbage_after=1.0, garbage_for=0.15) as sim:
            proc, doc = measure(["sleep", "2"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        d = domains_by_name(m)["package-0"]
        want = truth_energy(sim.trace, sim.seconds(m["begin_ns"]), sim.seconds(m["end_ns"]))
        self.assertAlmostEqual(d["energy_j"], want, delta=0.01 * want)
        self.assertFalse(d["partial"])
        self.assertIn("skipped", d["note"])

    def test_replaced_counter_file_is_reopened(self):
        # A file replaced under the open descriptor: the value stops changing while
        # the package draws power; the backend reopens it and the count goes on.
        with PowercapSim(packages=1, no_dram=True, trace="const:100",
                         replace_after=0.5) as sim:
            proc, doc = measure(["sleep", "4"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        d = domains_by_name(m)["package-0"]
        want = truth_energy(sim.trace, sim.seconds(m["begin_ns"]), sim.seconds(m["end_ns"]))
        self.assertIn("reopened", d["note"])
        self.assertFalse(d["partial"])
        self.assertAlmostEqual(d["energy_j"], want, delta=0.02 * want)


if __name__ == "__main__":
    main_concurrent()  # each test waits on its own simulator and command
