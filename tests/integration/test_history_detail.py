"""A run kept in the history gives back what its JSON said: `show --json ID`
and `export --format json` equal `run --json` field by field (every -I row,
every field of each domain and total, the series), `report ID` draws what
`report FILE.json` draws, and a file of the previous schema still opens and
shows its runs. Against sim/nvml (2 GPUs, a counter reset), sim/powercap and
the real sqlite3 shell."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import EmptyMachine, PowercapSim, measure, run_joulestat  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402
from test_attrib import ProcfsSim  # noqa: E402

SQLITE3 = shutil.which("sqlite3")
SVG = "{http://www.w3.org/2000/svg}"

# What schema 4 added to energies (and series.seq): dropped, they leave a file
# of schema 3.
V4_COLUMNS = ("source", "note", "parent", "peak_power_w", "samples", "short_window", "bridged",
              "temperature_max_c", "utilization_mean_pct", "clock_mean_mhz", "power_limit_w",
              "parts", "estimated", "counted")
# The fields an interval's domain had in the history before schema 4.
V3_DOMAIN = ("name", "kind", "device", "backend", "method", "primary", "accuracy", "energy_j",
             "uncertainty_j", "avg_power_w", "partial")
V3_TOTAL = ("accuracy", "energy_j", "uncertainty_j", "avg_power_w", "partial")


def marks(svg):
    """What a report's figure draws of the run: each power line's path, each
    band's place, each bar's extent."""
    root = ET.parse(svg).getroot()

    def of(tag, cls, *attrs):
        return [tuple(e.get(a) for a in attrs) for e in root.iter(SVG + tag)
                if cls in e.get("class", "").split()]

    return {
        "traces": sorted(of("path", "trace", "data-domain", "data-source", "d")),
        "intervals": of("rect", "interval", "x", "width"),
        "bars": of("rect", "bar", "data-name", "x", "width"),
    }


@unittest.skipUnless(SQLITE3, "the sqlite3 shell is not installed (scripts/deps)")
class DetailTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="jst-histd-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = os.path.join(self.tmp, "data")
        self.db = os.path.join(self.data, "joulestat", "history.db")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def nvml_run(self, *extra):
        """2 GPUs whose power steps; GPU 1's counter restarts while the command
        runs (a bridged row); -I 100 against a 100 ms counter (short rows)."""
        with NvmlSim(gpus=2, trace="steps:150,420,80,300@0.2", reset="1@1.5") as sim:
            self.env = sim.env(XDG_DATA_HOME=self.data,
                               XDG_CONFIG_HOME=os.path.join(self.tmp, "config"))
            proc, doc = measure(["sleep", "1.5"], self.env, backends="nvml",
                                extra=["-I", "100", "-q"] + list(extra))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return doc

    def cli(self, *args):
        proc = run_joulestat(list(args), env=self.env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def sql(self, query):
        out = subprocess.run([SQLITE3, "-separator", "|", self.db, query], capture_output=True,
                             text=True, check=True).stdout
        return [line.split("|") for line in out.splitlines()]

    def assert_same_run(self, got, want, rid):
        """got (show --json) is want (run --json) with "id" added: nothing
        else differs, row by row and field by field."""
        self.assertEqual(got.get("id"), rid)
        self.assertEqual(sorted(set(got) - {"id"}), sorted(want))
        self.assertEqual(len(got.get("intervals", [])), len(want.get("intervals", [])))
        for i, (g, w) in enumerate(zip(got.get("intervals", []), want.get("intervals", []))):
            self.assertEqual(sorted(g), sorted(w), "intervals[%d]" % i)
            for k, (gd, wd) in enumerate(zip(g["domains"], w["domains"])):
                for field in wd:
                    self.assertEqual(gd.get(field, "<missing>"), wd[field],
                                     "intervals[%d].domains[%d].%s" % (i, k, field))
                self.assertEqual(sorted(gd), sorted(wd), "intervals[%d].domains[%d]" % (i, k))
            self.assertEqual(len(g["domains"]), len(w["domains"]))
            for name, wt in w["totals"].items():
                self.assertEqual(g["totals"].get(name), wt, "intervals[%d].totals.%s" % (i, name))
            self.assertEqual(sorted(g["totals"]), sorted(w["totals"]))
            for field in ("name", "run", "begin_ns", "end_ns", "duration_s", "partial"):
                self.assertEqual(g[field], w[field], "intervals[%d].%s" % (i, field))
        for key in want:
            self.assertEqual(got[key], want[key], key)

    def test_show_and_export_give_back_what_run_json_wrote(self):
        doc = self.nvml_run("--series")
        rows = [d for iv in doc["intervals"] for d in iv["domains"]]
        # The run has what the history used to lose: short and bridged rows,
        # a note, telemetry, the totals' parts.
        self.assertTrue(any(d["short_window"] for d in rows))
        # The reset falls in the run unless the machine is so loaded that the
        # meter's start outlasts it: then no row is bridged either.
        bridged = any(d["bridged"] for d in doc["runs"][0]["domains"])
        self.assertEqual(any(d["bridged"] for d in rows), bridged)
        self.assertTrue(any(d["note"] for d in rows if d["bridged"]) or not bridged)
        self.assertTrue(all(d["source"] == "energy-counter" for d in rows))
        self.assertTrue(any(d["samples"] > 0 for d in rows))
        self.assertTrue(any(d["temperature_max_c"] is not None for d in rows))
        self.assertEqual({iv["totals"]["total"]["parts"] for iv in doc["intervals"]}, {2})
        shown = json.loads(self.cli("show", "--json", "1"))
        self.assert_same_run(shown, doc, 1)
        exported = json.loads(self.cli("export", "--format", "json"))
        self.assertEqual(len(exported), 1)
        self.assert_same_run(exported[0], doc, 1)
        # The relational tables hold the same, for queries.
        (n_short, n_bridged), = self.sql(
            "SELECT sum(e.short_window), sum(e.bridged) FROM windows w JOIN energies e ON "
            "e.window_id = w.id WHERE w.type = 'interval' AND e.is_total = 0")
        self.assertEqual(int(n_short), sum(d["short_window"] for d in rows))
        self.assertEqual(int(n_bridged), sum(d["bridged"] for d in rows))

    def test_a_core_is_told_from_its_package(self):
        """sim/powercap: each package's subzones name it as their parent, in
        every row."""
        with PowercapSim(packages=2) as sim:
            self.env = sim.env(XDG_DATA_HOME=self.data,
                               XDG_CONFIG_HOME=os.path.join(self.tmp, "config"))
            proc, doc = measure(["sleep", "0.4"], self.env, extra=["-I", "100", "-r", "2", "-q"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for iv in doc["intervals"]:
            names = {d["name"] for d in iv["domains"]}
            parents = {d["parent"] for d in iv["domains"] if d["parent"]}
            self.assertEqual(parents, {"package-0", "package-1"})
            self.assertTrue(parents <= names)
        self.assert_same_run(json.loads(self.cli("show", "--json", "1")), doc, 1)

    def test_a_runs_note_and_attribution_are_kept(self):
        """The estimate on a busy machine (sim/procfs): the run's note says it
        covers every process, and --pid attributes a share; both kept."""
        with EmptyMachine() as m, ProcfsSim("1001:2:0", cpus=8, other=4) as pf:
            self.env = m.env(JOULESTAT_PROCFS_ROOT=pf.root, XDG_DATA_HOME=self.data,
                             XDG_CONFIG_HOME=os.path.join(self.tmp, "config"))
            proc, doc = measure(["sleep", "0.3"], self.env, backends=None,
                                extra=["--pid", "1001", "-q"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("covers every process", doc["runs"][0]["note"])
        self.assertIn("attribution", doc["runs"][0])
        self.assert_same_run(json.loads(self.cli("show", "--json", "1")), doc, 1)

    def test_report_id_draws_what_the_file_draws(self):
        # Each GPU's line: its -I rows' power; or its series, one a method
        # with --cross-validate (three series of one name).
        for rid, extra, lines in ((1, (), 2), (2, ("--series", "--cross-validate"), 6)):
            doc = self.nvml_run(*extra)
            src = self.path("run%d.json" % rid)
            with open(src, "w") as f:
                json.dump(doc, f)
            by_file, by_id = self.path("file%d.svg" % rid), self.path("id%d.svg" % rid)
            self.cli("report", src, "-o", by_file)
            self.cli("report", str(rid), "-o", by_id)
            want, got = marks(by_file), marks(by_id)
            self.assertEqual(len(want["traces"]), lines)
            self.assertEqual(len(want["intervals"]), len(doc["intervals"]))
            self.assertEqual(got, want, extra)
            if "--series" in extra:
                shown = json.loads(self.cli("show", "--json", str(rid)))
                self.assertEqual(shown["series"], doc["series"])
            with open(by_id, encoding="utf-8") as f:
                self.assertNotIn("no power readings", f.read())

    def test_a_file_of_schema_3_opens_and_shows_its_runs(self):
        doc = self.nvml_run()
        # The file as schema 3 left it: the columns migration 4 adds dropped.
        self.sql("; ".join("ALTER TABLE energies DROP COLUMN " + c for c in V4_COLUMNS) +
                 "; ALTER TABLE series DROP COLUMN seq; PRAGMA user_version = 3")
        self.assertEqual(self.sql("PRAGMA user_version"), [["3"]])
        shown = json.loads(self.cli("show", "--json", "1"))
        self.assertEqual(self.sql("PRAGMA user_version"), [["4"]])
        self.assertEqual(self.sql("PRAGMA integrity_check"), [["ok"]])
        # The run's document whole; its rows with the fields kept then.
        for key in ("runs", "identity", "command", "exit_status"):
            self.assertEqual(shown[key], doc[key], key)
        self.assertEqual(len(shown["intervals"]), len(doc["intervals"]))
        for g, w in zip(shown["intervals"], doc["intervals"]):
            for gd, wd in zip(g["domains"], w["domains"]):
                self.assertEqual(gd, {k: wd[k] for k in V3_DOMAIN})
            for name, wt in w["totals"].items():
                self.assertEqual(g["totals"][name], {k: wt[k] for k in V3_TOTAL})
        self.assertIn("run 1:", self.cli("show", "1"))
        # The report finds each old row's domain by the run's: it draws the
        # rows' power as from the run's own file.
        src = self.path("old.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        self.cli("report", src, "-o", self.path("file.svg"))
        self.cli("report", "1", "-o", self.path("old.svg"))
        self.assertEqual(marks(self.path("old.svg")), marks(self.path("file.svg")))
        # A run recorded after the migration is kept whole.
        doc2 = self.nvml_run()
        self.assert_same_run(json.loads(self.cli("show", "--json", "2")), doc2, 2)


if __name__ == "__main__":
    unittest.main()
