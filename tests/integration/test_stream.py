"""--interval with --json and --csv: intervals are written as they end, not
kept until the end, so that joulestat stays small however long it runs; the
files still hold every row and are still replaced whole. Against sim/nvml."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import binary  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402

MIB = 1024 * 1024


def peak_rss(args, env):
    """Run joulestat with args; (returncode, stderr, its peak RSS in bytes).

    The peak comes from wait4, for this process alone: no sampling, no timing.
    """
    p = subprocess.Popen([binary("JOULESTAT")] + list(args), env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with p.stderr:
        err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    return p.returncode, err.decode(errors="replace"), ru.ru_maxrss * 1024


def csv_windows(path):
    """{window name: [rows]} of a CSV output, in the order the windows first appear."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    windows = {}
    for r in rows:
        assert None not in r and None not in r.values(), r  # every row has every column
        windows.setdefault(r["window"], []).append(r)
    return windows


class StreamTest(unittest.TestCase):
    def test_every_interval_of_every_run_is_written(self):
        # A long -I run with two runs: the JSON and the CSV hold the same
        # intervals, numbered without a gap, each with all its rows, and the
        # first GPU's intervals add up to what its counter gained (sim truth).
        with NvmlSim(gpus=8, trace="const:300") as sim, \
                tempfile.TemporaryDirectory() as d:
            jpath, cpath = os.path.join(d, "out.json"), os.path.join(d, "out.csv")
            proc = subprocess.run([binary("JOULESTAT"), "run", "-q", "-r", "2", "-I", "5",
                                   "--json", jpath, "--csv", cpath, "--", "sleep", "1"],
                                  env=sim.env(), capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            sim.truth()
            with open(jpath) as f:
                doc = json.load(f)
            windows = csv_windows(cpath)
            self.assertEqual(sorted(os.listdir(d)), ["out.csv", "out.json"])

        self.assertEqual(sorted(doc), sorted(["joulestat", "command", "exit_status", "partial",
                                              "runs", "summary", "intervals", "identity"]))
        ivs = doc["intervals"]
        # 1 s at 5 ms: some 200 a run; far fewer only on a machine too slow to test on.
        self.assertGreater(len(ivs), 2 * 50)
        self.assertEqual([iv["name"] for iv in ivs],
                         ["interval-%d" % (i + 1) for i in range(len(ivs))])
        runs = [iv["run"] for iv in ivs]
        self.assertEqual(runs, sorted(runs))
        self.assertEqual(set(runs), {1, 2})

        # CSV: the intervals as they ended, then the runs.
        names = list(windows)
        self.assertEqual(names, [iv["name"] for iv in ivs] + ["run-1", "run-2"])
        per_window = 8 + 1 + 3  # 8 GPUs and the CPU estimate; totals gpu, cpu, total
        for iv in ivs:
            rows = windows[iv["name"]]
            self.assertEqual(len(rows), per_window, iv["name"])
            self.assertEqual({r["run"] for r in rows}, {str(iv["run"])})
            self.assertEqual({r["exit_status"] for r in rows}, {""})
            gpu0 = [r for r in rows if r["name"] == "gpu0"][0]
            self.assertEqual(float(gpu0["energy_j"]),
                             [x for x in iv["domains"] if x["name"] == "gpu0"][0]["energy_j"])
            self.assertEqual(int(gpu0["begin_ns"]), iv["begin_ns"])
        for k in (1, 2):
            self.assertEqual({r["exit_status"] for r in windows["run-%d" % k]}, {"0"})

        for k, run in enumerate(doc["runs"], 1):
            mine = [iv for iv in ivs if iv["run"] == k]
            # They tile the run: each begins where the one before it ended.
            for a, b in zip(mine, mine[1:]):
                self.assertLessEqual(b["begin_ns"], a["end_ns"])
            self.assertLessEqual(mine[0]["begin_ns"], run["end_ns"])
            self.assertGreaterEqual(mine[-1]["end_ns"], run["end_ns"])
            parts = sum(x["energy_j"] for iv in mine for x in iv["domains"]
                        if x["name"] == "gpu0")
            # The intervals tile the run (one window rotated: each begins on the
            # reading the one before it ended on), and their figures are
            # interpolated between the counter's refreshes: together they are
            # the exact energy of their whole span, to within a refresh's
            # timing at its two ends.
            truth = sim.exact_truth(0, mine[0]["begin_ns"], mine[-1]["end_ns"])
            self.assertAlmostEqual(parts, truth, delta=0.01 * truth + 3.0)
            self.assertGreater(truth, 250)

    def test_memory_stays_flat_with_json_and_csv(self):
        # 64 GPUs at -I 1: before, every interval was kept for the files until
        # the end (some 200 KiB each, 1.9 GB after 10 s). Now joulestat's peak
        # RSS with both files is that of the same run without them, give or
        # take 16 MiB, whatever the number of intervals. The peak is the
        # kernel's (wait4): nothing sampled, nothing timed.
        env_extra = {}
        # An ASan build would otherwise hold every freed block in quarantine.
        asan = "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
        if os.environ.get("ASAN_OPTIONS"):
            asan = os.environ["ASAN_OPTIONS"] + ":" + asan
        env_extra["ASAN_OPTIONS"] = asan
        with NvmlSim(gpus=64, trace="const:300") as sim, \
                tempfile.TemporaryDirectory() as d:
            env = sim.env(**env_extra)
            jpath, cpath = os.path.join(d, "out.json"), os.path.join(d, "out.csv")
            seconds = 2
            for _ in range(3):
                rc, err, bare = peak_rss(["run", "-q", "-I", "1", "--", "sleep", str(seconds)],
                                         env)
                self.assertEqual(rc, 0, err)
                rc, err, files = peak_rss(["run", "-q", "-I", "1", "--json", jpath,
                                           "--csv", cpath, "--", "sleep", str(seconds)], env)
                self.assertEqual(rc, 0, err)
                with open(jpath) as f:
                    n = len(json.load(f)["intervals"])
                # Enough intervals that keeping them would show: 200 x 200 KiB
                # = 40 MiB. A slow machine gets a longer run.
                if n >= 200:
                    break
                seconds *= 3
            self.assertGreaterEqual(n, 200, "too few intervals to tell")
            self.assertEqual(len(csv_windows(cpath)), n + 1)
        self.assertLess(files - bare, 16 * MIB,
                        "%d intervals: %.1f MiB with the files, %.1f MiB without"
                        % (n, files / MIB, bare / MIB))

    def test_a_failed_write_mid_run_keeps_measuring(self):
        # /dev/full takes nothing: the JSON fails while the intervals are
        # written, the run goes on, the CSV is written whole, and the exit
        # status says joulestat failed.
        with NvmlSim(gpus=2, trace="const:300") as sim, \
                tempfile.TemporaryDirectory() as d:
            cpath = os.path.join(d, "out.csv")
            proc = subprocess.run([binary("JOULESTAT"), "run", "-q", "-I", "10",
                                   "--json", "/dev/full", "--csv", cpath, "--", "sleep", "0.3"],
                                  env=sim.env(), capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 125, proc.stderr)
            self.assertIn("cannot write '/dev/full'", proc.stderr)
            self.assertEqual(proc.stderr.count("cannot write"), 1, proc.stderr)
            windows = csv_windows(cpath)
        self.assertIn("run-1", windows)
        self.assertGreater(len(windows), 10)


if __name__ == "__main__":
    unittest.main()
