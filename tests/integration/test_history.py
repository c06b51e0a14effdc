"""Identity, --series, the run history and carbon (issue 13, parts 1-3),
against the powercap simulator's truth and the real sqlite3 shell."""
import csv
import io
import json
import math
import os
import re
import shutil
import socket
import statistics
import sqlite3  # noqa: F401  (the shell is what is tested; the module only if present)
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, binary, run_joulestat  # noqa: E402

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SQLITE3 = shutil.which("sqlite3")

# The first schema, as migration 1 of src/cli/history.c creates it: a file of
# that version must be brought up to date without losing its runs.
SCHEMA_V1 = """
CREATE TABLE runs (id INTEGER PRIMARY KEY, start TEXT NOT NULL, end TEXT NOT NULL,
 hostname TEXT NOT NULL, command TEXT NOT NULL, command_line TEXT NOT NULL,
 exit_status INTEGER, partial INTEGER NOT NULL, repetitions INTEGER NOT NULL, total TEXT,
 energy_j REAL, uncertainty_j REAL, duration_s REAL, document TEXT NOT NULL);
CREATE INDEX runs_start ON runs(start);
CREATE INDEX runs_host ON runs(hostname, start);
CREATE TABLE windows (id INTEGER PRIMARY KEY,
 run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, type TEXT NOT NULL,
 name TEXT NOT NULL, repetition INTEGER NOT NULL, begin_ns INTEGER, end_ns INTEGER,
 duration_s REAL, exit_status INTEGER, partial INTEGER NOT NULL);
CREATE INDEX windows_run ON windows(run_id, type);
CREATE TABLE energies (window_id INTEGER NOT NULL REFERENCES windows(id) ON DELETE CASCADE,
 is_total INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT, device TEXT, backend TEXT,
 method TEXT, is_primary INTEGER, accuracy REAL, energy_j REAL, uncertainty_j REAL,
 avg_power_w REAL, partial INTEGER);
CREATE INDEX energies_window ON energies(window_id);
INSERT INTO runs VALUES (1, '2025-01-02T03:04:05.000Z', '2025-01-02T03:04:06.000Z', 'old',
 '["true"]', 'true', 0, 0, 1, 'total', 10.0, 0.5, 1.0, '{"command":["true"],"runs":[]}');
PRAGMA user_version = 1;
"""

# What migration 2 added, with a run that has carbon and a series reading.
SCHEMA_V2_STEP = """
ALTER TABLE runs ADD COLUMN co2e_g REAL;
ALTER TABLE runs ADD COLUMN co2e_uncertainty_g REAL;
ALTER TABLE runs ADD COLUMN cost REAL;
ALTER TABLE runs ADD COLUMN carbon TEXT;
CREATE TABLE series (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
 domain TEXT NOT NULL, kind TEXT, t_ns INTEGER NOT NULL, energy_j REAL, power_w REAL);
CREATE INDEX series_run ON series(run_id, domain);
UPDATE runs SET co2e_g = 0.5 WHERE id = 1;
INSERT INTO series VALUES (1, 'package-0', 'package', 1000, 0.0, 10.0);
PRAGMA user_version = 2;
"""


@unittest.skipUnless(SQLITE3, "the sqlite3 shell is not installed (scripts/deps)")
class HistoryCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = PowercapSim(packages=1).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="jst-hist-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = os.path.join(self.tmp, "data")
        self.db = os.path.join(self.data, "joulestat", "history.db")
        self.env = self.sim.env(XDG_DATA_HOME=self.data,
                                XDG_CONFIG_HOME=os.path.join(self.tmp, "config"))

    def run_cli(self, *args, env=None):
        return run_joulestat(list(args), env=env or self.env)

    def run_json(self, *args, cmd=("sleep", "0.2"), env=None):
        path = os.path.join(self.tmp, "out.json")
        proc = self.run_cli("run", "--backends", "rapl", "--json", path, *args, "--", *cmd,
                            env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(path) as f:
            return proc, json.load(f)

    def sql(self, query, db=None):
        out = subprocess.run([SQLITE3, "-batch", "-noheader", db or self.db, query],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [line.split("|") for line in out.stdout.splitlines()]


class IdentityAndSeriesTest(HistoryCase):
    def test_identity_block(self):
        proc, doc = self.run_json("--period", "20")
        ident = doc["identity"]
        self.assertEqual(ident["schema"], 2)
        self.assertRegex(ident["start"], RFC3339)
        self.assertRegex(ident["end"], RFC3339)
        self.assertLessEqual(ident["start"], ident["end"])
        self.assertEqual(ident["hostname"], socket.gethostname())
        self.assertTrue(ident["cpu_model"])
        self.assertEqual(ident["gpus"], [])
        self.assertTrue(ident["driver_versions"]["rapl"].startswith("linux "))
        self.assertEqual(ident["joulestat"], doc["joulestat"])
        self.assertEqual(ident["options"]["backends"], "rapl")
        self.assertEqual(ident["options"]["period_ms"], "20")
        # The environment's settings too: here the simulated sysfs tree.
        self.assertEqual(ident["environment"]["JOULESTAT_SYSFS_ROOT"], self.env["JOULESTAT_SYSFS_ROOT"])
        # The table says where and when too.
        self.assertIn("Host %s, %s to %s (UTC)" % (ident["hostname"], ident["start"],
                                                   ident["end"]), proc.stderr)
        # list --json and validate --json carry it as well.
        lst = json.loads(self.run_cli("list", "--json", "--backends", "rapl").stdout)
        self.assertEqual(lst["identity"]["schema"], 2)
        self.assertEqual(lst["identity"]["driver_versions"], ident["driver_versions"])

    def test_series_matches_the_simulator(self):
        _, doc = self.run_json("--series", "--period", "10", cmd=("sleep", "0.3"))
        keys = list(doc.keys())
        self.assertEqual(keys[keys.index("runs") + 1], "series")
        series = {s["domain"]: s for s in doc["series"]}
        self.assertIn("package-0", series)
        s = series["package-0"]
        self.assertEqual(s["kind"], "package")
        n = len(s["t_ns"])
        self.assertEqual(len(s["energy_j"]), n)
        self.assertEqual(len(s["power_w"]), n)
        self.assertGreater(n, 20)  # 0.3 s and more at 10 ms
        self.assertEqual(s["t_ns"], sorted(s["t_ns"]))
        # What the counter gained between the first and last readings is the
        # simulator's energy over that span, within the class and a refresh.
        self.sim.stop()
        self.sim.proc = None
        truth = self.sim.window_truth(self.sim.zone("package-0"), s["t_ns"][0], s["t_ns"][-1])
        got = s["energy_j"][-1] - s["energy_j"][0]
        self.assertAlmostEqual(got, truth, delta=0.05 * truth + 0.1)
        # Power readings: the trace's 50 W (the package's share of it).
        powers = [p for p in s["power_w"][1:] if p is not None]
        self.assertTrue(powers)
        mean_p = sum(powers) / len(powers)
        self.assertAlmostEqual(mean_p, got / ((s["t_ns"][-1] - s["t_ns"][0]) * 1e-9),
                               delta=0.05 * mean_p)

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)


class RecordTest(HistoryCase):
    def test_every_window_recorded_as_the_json_says(self):
        _, doc = self.run_json("-r", "2", "-I", "50", cmd=("sleep", "0.25"))
        self.assertEqual(self.sql("PRAGMA journal_mode"), [["wal"]])
        self.assertEqual(self.sql("PRAGMA user_version"), [["4"]])
        self.assertEqual(self.sql("PRAGMA integrity_check"), [["ok"]])
        (rid, reps, cmd, e, u), = self.sql(
            "SELECT id, repetitions, command_line, energy_j, uncertainty_j FROM runs")
        self.assertEqual((reps, cmd), ("2", "sleep 0.25"))
        want = sum(r["totals"]["total"]["energy_j"] for r in doc["runs"])
        self.assertAlmostEqual(float(e), want, places=9)
        self.assertAlmostEqual(float(u), sum(r["totals"]["total"]["uncertainty_j"]
                                             for r in doc["runs"]), places=9)
        counts = dict(self.sql("SELECT type, count(*) FROM windows GROUP BY type"))
        self.assertEqual(int(counts["run"]), 2)
        self.assertEqual(int(counts["interval"]), len(doc["intervals"]))
        # Each interval's domains, to the joule the JSON gave.
        rows = self.sql("SELECT w.name, e.name, e.energy_j FROM windows w JOIN energies e "
                        "ON e.window_id = w.id WHERE w.type = 'interval' AND e.is_total = 0")
        got = {(w, d): float(v) for w, d, v in rows}
        for iv in doc["intervals"]:
            for d in iv["domains"]:
                self.assertAlmostEqual(got[(iv["name"], d["name"])], d["energy_j"], places=9)
        # ... with what each domain is, and the totals, as the JSON gave them.
        rows = self.sql("SELECT w.name, w.repetition, e.is_total, e.name, "
                        "ifnull(e.kind, '-'), ifnull(e.device, '-'), ifnull(e.backend, '-'), "
                        "ifnull(e.method, '-'), ifnull(e.is_primary, '-'), e.uncertainty_j "
                        "FROM windows w JOIN energies e ON e.window_id = w.id "
                        "WHERE w.type = 'interval'")
        got = {(r[0], r[2], r[3]): r for r in rows}
        n = 0
        for iv in doc["intervals"]:
            for d in iv["domains"]:
                r = got[(iv["name"], "0", d["name"])]
                self.assertEqual(r[1], str(iv["run"]))
                self.assertEqual(r[4:9], [d["kind"], d["device"], d["backend"], d["method"],
                                          "1" if d["primary"] else "0"])
                self.assertAlmostEqual(float(r[9]), d["uncertainty_j"], places=9)
                n += 1
            for name, t in iv["totals"].items():
                r = got[(iv["name"], "1", name)]
                self.assertEqual(r[4:9], ["-"] * 5)
                self.assertAlmostEqual(float(r[9]), t["uncertainty_j"], places=9)
                n += 1
        self.assertEqual(len(rows), n)
        # show --json gives the document back, intervals included.
        shown = json.loads(self.run_cli("show", "--json", rid).stdout)
        self.assertEqual(shown["id"], int(rid))
        self.assertEqual(shown["identity"], doc["identity"])
        self.assertEqual(shown["runs"], doc["runs"])
        self.assertEqual(shown["intervals"], doc["intervals"])
        text = self.run_cli("show", rid)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("run %s: sleep 0.25" % rid, text.stdout)

    def test_series_in_history(self):
        _, doc = self.run_json("--series", cmd=("sleep", "0.2"))
        n = sum(len(s["t_ns"]) for s in doc["series"])
        self.assertEqual(self.sql("SELECT count(*) FROM series"), [[str(n)]])
        shown = json.loads(self.run_cli("show", "--json", "1").stdout)
        self.assertEqual(shown["series"], doc["series"])

    def test_no_history(self):
        proc = self.run_cli("run", "--backends", "rapl", "--no-history", "--", "true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.exists(self.db))
        self.assertNotIn("Recorded as run", proc.stderr)
        hist = self.run_cli("history", "--json")
        self.assertEqual((hist.returncode, json.loads(hist.stdout)), (0, []))

    def test_twenty_concurrent_runs_all_recorded(self):
        procs = [subprocess.Popen([binary("JOULESTAT"), "run", "--backends", "rapl", "-q",
                                   "--", "sh", "-c", "exit %d" % (i % 3)],
                                  env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for i in range(20)]
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, i % 3, err)
            self.assertEqual(err, "")
        self.assertEqual(self.sql("PRAGMA integrity_check"), [["ok"]])
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT id) FROM runs"),
                         [["20", "20"]])
        self.assertEqual(self.sql("SELECT exit_status, count(*) FROM runs "
                                  "GROUP BY exit_status ORDER BY 1"),
                         [["0", "7"], ["1", "7"], ["2", "6"]])
        self.assertEqual(self.sql("SELECT count(*) FROM windows WHERE type = 'run'"),
                         [["20"]])

    def test_wal_is_folded_into_the_file(self):
        # No run checkpoints on close (it would sync twice): the WAL grows a few
        # pages a run until one finds it past 64 pages and folds it back.
        wal = self.db + "-wal"
        sizes = []
        for _ in range(14):
            proc = self.run_cli("run", "--backends", "rapl", "-q", "--", "true")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            sizes.append(os.path.getsize(wal) if os.path.exists(wal) else 0)
        frame = 4096 + 24
        self.assertLess(max(sizes), (64 + 32) * frame + 32, sizes)
        self.assertTrue(any(b < a for a, b in zip(sizes, sizes[1:])), sizes)
        self.assertEqual(self.sql("SELECT count(*) FROM runs"), [["14"]])
        self.assertEqual(self.sql("PRAGMA integrity_check"), [["ok"]])

    def indexes(self):
        return [r[0] for r in self.sql("SELECT name FROM sqlite_master WHERE type = 'index' "
                                       "ORDER BY name")]

    def test_migrates_an_old_file_and_refuses_a_newer_one(self):
        os.makedirs(os.path.dirname(self.db))
        subprocess.run([SQLITE3, self.db], input=SCHEMA_V1, text=True, check=True)
        self.run_json("--region", "FR", cmd=("true",))
        self.assertEqual(self.sql("PRAGMA user_version"), [["4"]])
        rows = self.sql("SELECT id, hostname, co2e_g IS NOT NULL FROM runs ORDER BY id")
        self.assertEqual(rows, [["1", "old", "0"], ["2", socket.gethostname(), "1"]])
        self.assertEqual(self.indexes(), ["energies_window", "series_run", "windows_run"])
        self.sql("PRAGMA user_version = 99")
        proc = self.run_cli("run", "--backends", "rapl", "--", "true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("not recorded in the history", proc.stderr)
        self.assertIn("newer than this joulestat", proc.stderr)
        self.assertEqual(self.sql("SELECT count(*) FROM runs"), [["2"]])

    def test_migrates_a_version_2_file(self):
        # Version 2 (carbon columns, series) had an index on the runs' start and
        # one on their host; version 3 drops both. The runs, their windows and
        # the series stay, and the sqlite3 shell reads the file as before.
        os.makedirs(os.path.dirname(self.db))
        v2 = SCHEMA_V1.replace("PRAGMA user_version = 1;", SCHEMA_V2_STEP)
        subprocess.run([SQLITE3, self.db], input=v2, text=True, check=True)
        self.assertIn("runs_host", self.indexes())
        _, doc = self.run_json("-I", "50", "--series", cmd=("sleep", "0.2"))
        self.assertEqual(self.sql("PRAGMA user_version"), [["4"]])
        self.assertEqual(self.sql("PRAGMA integrity_check"), [["ok"]])
        self.assertEqual(self.indexes(), ["energies_window", "series_run", "windows_run"])
        self.assertEqual(self.sql("SELECT id, hostname, energy_j, co2e_g FROM runs "
                                  "ORDER BY id")[0], ["1", "old", "10.0", "0.5"])
        self.assertEqual(self.sql("SELECT run_id, count(*) FROM series GROUP BY run_id"),
                         [["1", "1"], ["2", str(sum(len(s["t_ns"]) for s in doc["series"]))]])
        self.assertEqual(self.sql("SELECT count(*) FROM windows WHERE run_id = 2 AND "
                                  "type = 'interval'"), [[str(len(doc["intervals"]))]])
        listed = json.loads(self.run_cli("history", "--json", "--host", "old").stdout)
        self.assertEqual([r["id"] for r in listed], [1])
        shown = json.loads(self.run_cli("show", "--json", "2").stdout)
        self.assertEqual(shown["series"], doc["series"])

    def test_every_reader_fails_on_an_unreadable_file(self):
        # A file that is no database (or a newer one) is a failure of every
        # subcommand that reads the history, never an empty history.
        os.makedirs(os.path.dirname(self.db))
        with open(self.db, "w") as f:
            f.write("garbage\n" * 200)
        out = os.path.join(self.tmp, "export.out")
        for args in (("history",), ("history", "--json"), ("export",),
                     ("export", "--format", "json"), ("export", "-o", out), ("show", "1"),
                     ("compare", "1", "2")):
            with self.subTest(args=args):
                proc = self.run_cli(*args)
                self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
                self.assertIn("file is not a database", proc.stderr)
                self.assertNotIn("[]", proc.stdout)
                self.assertNotIn("id,start", proc.stdout)
        self.assertFalse(os.path.exists(out))
        # No history yet is no failure of history and export.
        os.remove(self.db)
        for args in (("history",), ("history", "--json"), ("export",)):
            with self.subTest(none=args):
                self.assertEqual(self.run_cli(*args).returncode, 0)

    def test_history_filters_and_export(self):
        for cmd in (("sleep", "0.05"), ("true",), ("sleep", "0.1")):
            self.run_json(cmd=cmd)
        listed = json.loads(self.run_cli("history", "--json").stdout)
        self.assertEqual([r["command"] for r in listed], ["sleep 0.05", "true", "sleep 0.1"])
        self.assertEqual([r["id"] for r in json.loads(
            self.run_cli("history", "--json", "--command", "sleep").stdout)], [1, 3])
        self.assertEqual([r["id"] for r in json.loads(
            self.run_cli("history", "--json", "-n", "1").stdout)], [3])
        self.assertEqual(json.loads(self.run_cli("history", "--json", "--host",
                                                 "no-such-host").stdout), [])
        self.assertEqual(json.loads(self.run_cli("history", "--json", "--since",
                                                 "2999-01-01").stdout), [])
        self.assertEqual(len(json.loads(self.run_cli("history", "--json", "--until",
                                                     "2999-01-01").stdout)), 3)
        bad = self.run_cli("history", "--since", "yesterday")
        self.assertEqual(bad.returncode, 2)
        # Days and times that do not exist are refused too (compared as text they
        # matched nothing, or everything, silently).
        for when in ("2026-13-01", "2026-02-30", "2026-12-02T25:00:00Z", "2026-12-01T22:61Z"):
            for cmd in ("history", "export"):
                bad = self.run_cli(cmd, "--since", when)
                self.assertEqual(bad.returncode, 2, (cmd, when, bad.stderr))
        self.assertEqual(self.run_cli("history", "--until", "2024-02-29").returncode, 0)
        rows = list(csv.DictReader(io.StringIO(self.run_cli("export").stdout)))
        self.assertEqual([r["id"] for r in rows], ["1", "2", "3"])
        for r, l in zip(rows, listed):
            self.assertAlmostEqual(float(r["energy_j"]), l["energy_j"], places=9)
        out = os.path.join(self.tmp, "all.json")
        proc = self.run_cli("export", "--format", "json", "-o", out, "--command", "sleep")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out) as f:
            docs = json.load(f)
        self.assertEqual([d["id"] for d in docs], [1, 3])
        self.assertEqual(docs[0]["command"], ["sleep", "0.05"])

    def test_history_marks_a_partial_run(self):
        # A run whose device was lost leaves out what it used: history's
        # table says so as run and show do, not only its JSON.
        for _ in range(2):
            self.run_json(cmd=("true",))
        self.sql("UPDATE runs SET partial = 1, document = json_set(document, '$.partial', "
                 "json('true')) WHERE id = 2")
        lines = self.run_cli("history").stdout.splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertFalse(lines[1].endswith("[partial]"), lines[1])
        self.assertTrue(lines[2].endswith("  [partial]"), lines[2])
        self.assertEqual([r["partial"] for r in json.loads(self.run_cli("history", "--json")
                                                           .stdout)], [False, True])
        self.assertIn(", partial", self.run_cli("show", "2").stdout)


class UnrecordedRunTest(HistoryCase):
    """A history that cannot be written changes nothing else: the run is
    measured, printed and ends as with --no-history, with one warning."""

    def run_failing(self, env, want):
        out = os.path.join(self.tmp, "out.json")
        args = ("run", "--backends", "rapl", "--json", out, "-r", "2", "-I", "50", "--",
                "sh", "-c", "sleep 0.1; exit 3")
        proc = self.run_cli(*args, env=env)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
        self.assertEqual(warnings, ["joulestat: warning: the run is not recorded in the "
                                    "history: " + want])
        self.assertNotIn("Recorded as run", proc.stderr)
        self.assertIn("Energy of 'sh -c sleep 0.1; exit 3'", proc.stderr)
        with open(out) as f:
            doc = json.load(f)
        self.assertEqual([r["exit_status"] for r in doc["runs"]], [3, 3])
        self.assertTrue(doc["intervals"])
        for r in doc["runs"]:
            self.assertGreater(r["totals"]["total"]["energy_j"], 0)
            self.assertGreaterEqual(r["duration_s"], 0.1)
        # The same run without the history: the same outputs, less the warning.
        plain = self.run_cli(*args[:1], "--no-history", *args[1:], env=env)
        self.assertEqual(plain.returncode, 3, plain.stderr)
        with open(out) as f:
            doc2 = json.load(f)
        self.assertEqual(sorted(doc2), sorted(doc))
        self.assertEqual([d["name"] for d in doc2["runs"][0]["domains"]],
                         [d["name"] for d in doc["runs"][0]["domains"]])
        def shape(text):
            # The table after the interval rows (how many there are depends
            # on the timing), its numbers and columns' widths left out.
            lines = text.splitlines()
            start = next(i for i, line in enumerate(lines) if line.startswith(" Energy of"))
            return [re.sub(r"\s+", " ", re.sub(r"[0-9.]+", "N", line))
                    for line in lines[start:] if "warning" not in line]
        self.assertEqual(shape(proc.stderr), shape(plain.stderr))

    def test_directory_cannot_be_made(self):
        under = os.path.join(self.tmp, "a-file")
        with open(under, "w") as f:
            f.write("x")
        self.run_failing(dict(self.env, XDG_DATA_HOME=under),
                         under + "/joulestat/history.db: cannot make its directory: "
                         "Not a directory")

    def test_corrupt_file(self):
        os.makedirs(os.path.dirname(self.db))
        with open(self.db, "w") as f:
            f.write("garbage\n" * 500)
        self.run_failing(self.env, "history: file is not a database")
        with open(self.db) as f:
            self.assertEqual(f.read(), "garbage\n" * 500)

    def test_newer_schema(self):
        self.run_json(cmd=("true",))
        self.sql("PRAGMA user_version = 99")
        self.run_failing(self.env, "history: schema version 99 is newer than this "
                         "joulestat's (4): use a newer joulestat, or set XDG_DATA_HOME "
                         "elsewhere")
        self.assertEqual(self.sql("SELECT count(*) FROM runs"), [["1"]])

    @unittest.skipIf(os.geteuid() == 0, "root writes into a read-only directory")
    def test_read_only_directory(self):
        os.makedirs(self.data)
        os.chmod(self.data, 0o500)
        self.addCleanup(os.chmod, self.data, 0o700)
        self.run_failing(self.env, self.db + ": cannot make its directory: "
                         "Permission denied")

    def test_locked_while_the_command_runs(self):
        # Another writer holds the database from before the command starts
        # until after it ends: the run is recorded once the lock is gone.
        self.run_json(cmd=("true",))
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        lock = subprocess.Popen([SQLITE3, self.db], stdin=subprocess.PIPE, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lock.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n")
        lock.stdin.flush()
        self.assertEqual(lock.stdout.readline().strip(), "locked")
        run = subprocess.Popen([binary("JOULESTAT"), "run", "--backends", "rapl", "--",
                                "sh", "-c", "read x < %s" % fifo],
                               env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        with open(fifo, "w") as f:  # opens once the command reads: it runs
            f.write("go\n")
        lock.communicate("COMMIT;\n", timeout=30)
        _, err = run.communicate(timeout=60)
        self.assertEqual(run.returncode, 0, err)
        self.assertIn("Recorded as run 2 in the history", err)
        self.assertEqual(self.sql("SELECT count(*) FROM runs"), [["2"]])


class CompareTest(HistoryCase):
    def compare(self, a, b):
        proc = self.run_cli("compare", "--json", str(a), str(b))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def test_compare_leaves_out_a_repetition_cut_short(self):
        # A repetition a signal cut short (interrupted in the document) is
        # left out of compare's mean, as `run -r` leaves it out of its own.
        docs = [self.run_json("-r", "3", cmd=("sleep", "0.1"))[1] for _ in range(2)]
        self.assertEqual(self.compare(1, 2)["a"]["repetitions"], 3)
        self.sql("UPDATE runs SET document = json_set(document, '$.runs[1].interrupted', "
                 "json('true')) WHERE id = 1")
        c = self.compare(1, 2)
        self.assertEqual((c["a"]["repetitions"], c["b"]["repetitions"]), (2, 3))
        kept = [docs[0]["runs"][i]["totals"]["total"]["energy_j"] for i in (0, 2)]
        self.assertAlmostEqual(c["a"]["energy_j"], sum(kept) / 2, places=6)

    def test_compare_says_what_is_significant(self):
        docs = [self.run_json("-r", "3", cmd=("sleep", s))[1] for s in ("0.3", "0.1", "0.1")]
        means = [sum(r["totals"]["total"]["energy_j"] for r in d["runs"]) / 3 for d in docs]
        c = self.compare(1, 2)
        # 0.2 s less at the simulator's 60 W: some 12 J less, far outside.
        self.assertAlmostEqual(c["difference_j"], means[1] - means[0], places=9)
        self.assertLess(c["difference_j"], -8)
        self.assertTrue(c["less"])
        self.assertTrue(c["significant"])
        self.assertEqual(c["a"]["repetitions"], 3)
        self.assertIsNotNone(c["uncertainty_spread_j"])
        self.assertGreaterEqual(c["uncertainty_j"], c["uncertainty_accuracy_j"])
        # The two terms as they enter the total: they recombine to it, and
        # the spread's is twice the standard error of the means' difference.
        self.assertAlmostEqual(c["uncertainty_j"], math.hypot(c["uncertainty_accuracy_j"],
                                                              c["uncertainty_spread_j"]),
                               places=9)
        totals = [[r["totals"]["total"]["energy_j"] for r in d["runs"]] for d in docs[:2]]
        se = math.sqrt(sum(statistics.variance(t) / len(t) for t in totals))
        self.assertAlmostEqual(c["standard_error_j"], se, places=9)
        self.assertAlmostEqual(c["uncertainty_spread_j"], 2 * se, places=9)
        self.assertIn("twice the standard error of the repetitions, \u00b1%.3g J"
                      % c["uncertainty_spread_j"], self.run_cli("compare", "1", "2").stdout)
        # The same command twice: inside the uncertainty.
        c = self.compare(2, 3)
        self.assertLess(abs(c["difference_j"]), c["uncertainty_j"])
        self.assertFalse(c["significant"])
        text = self.run_cli("compare", "1", "2").stdout
        self.assertIn("less than A", text)
        self.assertIn(": significant", text)
        missing = self.run_cli("compare", "1", "99")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no run 99", missing.stderr)


class CarbonTest(HistoryCase):
    def test_region_pue_price(self):
        proc, doc = self.run_json("--region", "de", "--pue", "1.2", "--price", "0.3",
                                  "--csv", os.path.join(self.tmp, "out.csv"))
        c = doc["carbon"]
        e = sum(r["totals"]["total"]["energy_j"] for r in doc["runs"])
        u = sum(r["totals"]["total"]["uncertainty_j"] for r in doc["runs"])
        self.assertEqual((c["region"], c["intensity_g_per_kwh"], c["pue"]), ("DE", 381, 1.2))
        self.assertIn("Ember", c["source"])
        self.assertIn("2023", c["source"])
        self.assertAlmostEqual(c["co2e_g"], e * 1.2 * 381 / 3.6e6, places=12)
        self.assertAlmostEqual(c["cost"], e * 1.2 * 0.3 / 3.6e6, places=12)
        # Never more certain than the energy it comes from.
        self.assertGreaterEqual(c["co2e_uncertainty_g"] / c["co2e_g"], u / e * (1 - 1e-9))
        self.assertIn("PUE 1.2", proc.stderr)
        self.assertIn("Cost:", proc.stderr)
        with open(os.path.join(self.tmp, "out.csv")) as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            self.assertEqual(r["hostname"], socket.gethostname())
            self.assertAlmostEqual(float(r["co2e_g"]),
                                   float(r["energy_j"]) * 1.2 * 381 / 3.6e6, places=12)
            self.assertAlmostEqual(float(r["co2e_uncertainty_g"]),
                                   float(r["uncertainty_j"]) * 1.2 * 381 / 3.6e6, places=12)
        self.assertEqual(self.sql("SELECT round(co2e_g, 12), round(cost, 12) FROM runs"),
                         [[str(round(c["co2e_g"], 12)), str(round(c["cost"], 12))]])

    def test_where_the_intensity_comes_from(self):
        _, doc = self.run_json("--region", "FR", "--carbon-intensity", "100")
        c = doc["carbon"]
        self.assertEqual((c["intensity_g_per_kwh"], c["source"]), (100, "--carbon-intensity"))
        self.assertTrue(c["pue_default"])
        self.assertEqual(c["pue"], 1.0)
        env = dict(self.env, JOULESTAT_REGION="SE")
        proc, doc = self.run_json(env=env)
        self.assertEqual(doc["carbon"]["region"], "SE")
        self.assertIn("(the default: no PUE given)", proc.stderr)
        conf = os.path.join(self.tmp, "config", "joulestat")
        os.makedirs(conf)
        with open(os.path.join(conf, "config"), "w") as f:
            f.write("# site\nregion = US-CAMX\npue = 1.5\n")
        _, doc = self.run_json()
        self.assertEqual((doc["carbon"]["region"], doc["carbon"]["pue"]), ("US-CAMX", 1.5))
        self.assertIn("eGRID", doc["carbon"]["source"])
        # The environment wins over the file, the command line over both.
        _, doc = self.run_json(env=env)
        self.assertEqual(doc["carbon"]["region"], "SE")
        _, doc = self.run_json("--region", "NO", env=env)
        self.assertEqual(doc["carbon"]["region"], "NO")
        # An intensity set elsewhere never overrides the command line's region,
        # nor the file's intensity the environment's region.
        _, doc = self.run_json("--region", "FR",
                               env=dict(self.env, JOULESTAT_CARBON_INTENSITY="900"))
        self.assertEqual((doc["carbon"]["region"], doc["carbon"]["intensity_g_per_kwh"]),
                         ("FR", 56))
        with open(os.path.join(conf, "config"), "a") as f:
            f.write("carbon_intensity = 700\n")
        _, doc = self.run_json(env=env)
        self.assertEqual((doc["carbon"]["region"], doc["carbon"]["intensity_g_per_kwh"]),
                         ("SE", 41))
        _, doc = self.run_json()
        self.assertEqual((doc["carbon"]["region"], doc["carbon"]["intensity_g_per_kwh"]),
                         (None, 700))

    def test_bad_settings(self):
        for args, what in ((["--region", "XX"], "no carbon intensity is known"),
                           (["--pue", "0.5"], "--pue wants"),
                           (["--price", "0.3"], "goes with a carbon intensity"),
                           (["--carbon-intensity", "-1"], "--carbon-intensity wants"),
                           # strtod's other forms are no figure anyone meant
                           (["--carbon-intensity", "0x10"], "--carbon-intensity wants a decimal"),
                           (["--pue", "0x1"], "--pue wants a decimal"),
                           (["--region", "FR", "--price", "inf"], "--price wants a decimal"),
                           (["--region", "FR", "--price", " 0.3"], "--price wants a decimal")):
            proc = self.run_cli("run", "--backends", "rapl", *args, "--", "true")
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn(what, proc.stderr)
        proc = self.run_cli("run", "--backends", "rapl", "--", "true")
        self.assertNotIn("carbon", json.dumps(proc.stderr).lower())

    def test_config_file_with_an_unknown_key(self):
        # A misspelt key is refused as a bad value is, with its line, not
        # read as no setting (a run reported without the carbon asked for).
        conf = os.path.join(self.tmp, "config", "joulestat")
        os.makedirs(conf)
        for text, what in (("Region = FR\n", "config:1: unknown key 'Region' (keys are lower "
                                             "case: 'region')"),
                           ("# site\nregion = FR\ncarbon-intensity = 50\n",
                            "config:3: unknown key 'carbon-intensity'"),
                           ("region FR\n", "config:1: 'region FR' is not a setting"),
                           ("pue = 0x1\nregion = FR\n", "pue wants a decimal")):
            with open(os.path.join(conf, "config"), "w") as f:
                f.write(text)
            with self.subTest(text=text):
                proc = self.run_cli("run", "--backends", "rapl", "--", "true")
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(what, proc.stderr)
        self.assertFalse(os.path.exists(self.db))  # nothing was run nor recorded
        with open(os.path.join(conf, "config"), "w") as f:
            f.write("\n  # site\nregion = FR  # France\n\npue=1.1\n")
        _, doc = self.run_json()
        self.assertEqual((doc["carbon"]["region"], doc["carbon"]["pue"]), ("FR", 1.1))


if __name__ == "__main__":
    unittest.main()
