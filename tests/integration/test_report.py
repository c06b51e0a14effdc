"""joulestat report: a run's JSON drawn as SVG and as one self-contained HTML
page. What is drawn is read back from the SVG (its plot's scales and each
mark's geometry) and held to the figures of the JSON it came from: the
fixtures in tests/fixtures/report (tests/fixtures/report/make.py), a run
against the powercap simulator, and a long series of ten devices. Headless
Chromium (Debian's `chromium`) renders the page and the figure, and the
screenshot is decoded (zlib, no imaging library) and must show the plot."""
import glob
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, PowercapSim, binary, measure, run_joulestat  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "fixtures", "report")
SVG = "{http://www.w3.org/2000/svg}"
# The palette's first two colours: the first and second device.
BLUE, ORANGE = (0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e)


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


def report(src, out, *extra):
    proc = run_joulestat(["report", src, "-o", out] + list(extra))
    if proc.returncode:
        raise AssertionError("joulestat report failed (%d): %s" % (proc.returncode, proc.stderr))
    return proc


def key(domain):
    return (domain["name"], domain.get("source", ""))


def series_keys(doc):
    """(domain, source) of each series: the k-th series of a name is the k-th
    domain of that name, in the meter's order (docs/report.md)."""
    keys, seen = [], {}
    for s in doc["series"]:
        k = seen.get(s["domain"], 0)
        seen[s["domain"]] = k + 1
        same = [d for d in doc["runs"][0]["domains"] if d["name"] == s["domain"]]
        keys.append(key(same[k]) if k < len(same) else (s["domain"], ""))
    return keys


def path_segments(d):
    """A path's d ("M x y L x y ... M ...") as lists of (x, y), one per M."""
    segs = []
    for cmd, x, y in re.findall(r"([ML])\s*([-\d.]+)\s+([-\d.]+)", d):
        if cmd == "M":
            segs.append([])
        segs[-1].append((float(x), float(y)))
    return segs


class Figure:
    """An SVG figure read back: its scales and its marks."""

    def __init__(self, path):
        self.tree = ET.parse(path)  # valid XML, or this raises
        self.root = self.tree.getroot()
        self.area = self.one("rect", "plot-area")
        self.earea = self.one("rect", "energy-area")

    def all(self, tag, cls):
        return [e for e in self.root.iter(SVG + tag) if cls in e.get("class", "").split()]

    def one(self, tag, cls):
        found = self.all(tag, cls)
        assert len(found) == 1, "%d %s.%s" % (len(found), tag, cls)
        return found[0]

    def power_at(self, y):
        a = self.area
        top, h = float(a.get("y")), float(a.get("height"))
        lo, hi = float(a.get("data-p-lo-w")), float(a.get("data-p-hi-w"))
        return lo + (top + h - y) / h * (hi - lo)

    def seconds_at(self, x):
        a = self.area
        x0, w = float(a.get("x")), float(a.get("width"))
        lo, hi = float(a.get("data-t-lo-s")), float(a.get("data-t-hi-s"))
        return lo + (x - x0) / w * (hi - lo)

    def watts_per_px(self):
        a = self.area
        return (float(a.get("data-p-hi-w")) - float(a.get("data-p-lo-w"))) / float(a.get("height"))

    def joules_at(self, x):
        a = self.earea
        x0, w = float(a.get("x")), float(a.get("width"))
        lo, hi = float(a.get("data-e-lo-j")), float(a.get("data-e-hi-j"))
        return lo + (x - x0) / w * (hi - lo)

    def joules_per_px(self):
        a = self.earea
        return (float(a.get("data-e-hi-j")) - float(a.get("data-e-lo-j"))) / float(a.get("width"))

    def traces(self):
        """Lines by (domain, source): with --cross-validate a name has several."""
        return {(p.get("data-domain"), p.get("data-source")): p for p in self.all("path", "trace")}

    def bars(self, total):
        return [b for b in self.all("rect", "bar") if b.get("data-total") == str(int(total))]


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jst-report-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def out(self, name):
        return os.path.join(self.dir, name)

    def figure(self, name):
        svg = self.out(name + ".svg")
        report(os.path.join(FIXTURES, name + ".json"), svg)
        return Figure(svg)


class SeriesTest(Tmp):
    """--series with --cross-validate, -I bands, identity and carbon."""

    def setUp(self):
        super().setUp()
        self.doc = fixture("xval_series")
        self.fig = self.figure("xval_series")

    def test_the_svg_has_both_panels_every_domain_and_every_band(self):
        root = self.fig.root
        self.assertEqual(root.tag, SVG + "svg")
        self.assertEqual(self.fig.one("g", "power-panel").get("data-source"), "series")
        self.assertEqual(sorted(self.fig.traces()), sorted(series_keys(self.doc)))
        self.assertEqual(len(self.fig.all("g", "legend")), len(self.doc["series"]))
        self.assertEqual(len(self.fig.all("rect", "interval")), len(self.doc["intervals"]))
        self.assertEqual(len(self.fig.all("rect", "run")), len(self.doc["runs"]))
        names = [(b.get("data-name"), b.get("data-source")) for b in self.fig.bars(False)]
        self.assertEqual(sorted(names), sorted(key(d) for d in self.doc["runs"][0]["domains"]))
        self.assertEqual([b.get("data-name") for b in self.fig.bars(True)],
                         ["total", "gpu", "cpu"])
        self.assertEqual(len(self.fig.all("g", "accuracy-bar")), 6)

    def test_each_line_passes_through_every_reading_of_its_series(self):
        traces = self.fig.traces()
        t0 = self.doc["runs"][0]["begin_ns"]
        tol_w = self.fig.watts_per_px() * 0.02  # coordinates are written to 0.01 px
        for s, k in zip(self.doc["series"], series_keys(self.doc)):
            segs = path_segments(traces[k].get("d"))
            points = [p for seg in segs for p in seg]
            readings = [(t, p) for t, p in zip(s["t_ns"], s["power_w"]) if p is not None]
            self.assertEqual(len(points), len(readings), s["domain"])
            for (x, y), (t, p) in zip(points, readings):
                self.assertAlmostEqual(self.fig.power_at(y), p, delta=tol_w)
                self.assertAlmostEqual(self.fig.seconds_at(x), (t - t0) / 1e9, delta=0.001)
            # A null power is a gap: the line is lifted over it.
            gaps = sum(1 for a, b in zip(s["power_w"], s["power_w"][1:]) if a is None and b is not None)
            self.assertEqual(len(segs), 1 + gaps, s["domain"])
        self.assertEqual(len(path_segments(traces[("gpu0", "instant-power")].get("d"))), 2)

    def test_bars_and_whiskers_are_the_energies_and_their_uncertainty(self):
        figures = {key(d): d for d in self.doc["runs"][0]["domains"]}
        figures.update({(k, ""): t for k, t in self.doc["runs"][0]["totals"].items()})
        jpp = self.fig.joules_per_px()
        whiskers = self.fig.all("g", "accuracy-bar")
        for bar, whisker in zip(self.fig.all("rect", "bar"), whiskers):
            fig = figures[(bar.get("data-name"), bar.get("data-source"))]
            x0, w = float(bar.get("x")), float(bar.get("width"))
            self.assertAlmostEqual(self.fig.joules_at(x0), 0, delta=jpp * 0.02)
            self.assertAlmostEqual(self.fig.joules_at(x0 + w), fig["energy_j"], delta=jpp * 0.02)
            line = whisker.find(SVG + "line")
            self.assertAlmostEqual(self.fig.joules_at(float(line.get("x1"))),
                                   fig["energy_j"] - fig["uncertainty_j"], delta=jpp * 0.02)
            self.assertAlmostEqual(self.fig.joules_at(float(line.get("x2"))),
                                   fig["energy_j"] + fig["uncertainty_j"], delta=jpp * 0.02)

    def test_a_devices_methods_are_overlaid_in_its_colour(self):
        traces = self.fig.traces()
        counter, power = traces[("gpu0", "energy-counter")], traces[("gpu0", "instant-power")]
        self.assertEqual(counter.get("stroke"), power.get("stroke"))
        self.assertNotEqual(counter.get("stroke"), traces[("package-0", "energy-counter")].get("stroke"))
        self.assertEqual(counter.get("stroke-dasharray"), "none")
        self.assertNotEqual(power.get("stroke-dasharray"), "none")
        self.assertEqual(power.get("data-primary"), "0")
        # Bars: the cross-check right under the counted figure of its device
        # (it came last in the JSON), over the band of that figure's ±.
        names = [(b.get("data-name"), b.get("data-source")) for b in self.fig.bars(False)]
        self.assertEqual(names, [("gpu0", "energy-counter"), ("gpu0", "instant-power"),
                                 ("package-0", "energy-counter")])
        band = self.fig.one("rect", "xval-band")
        gpu0 = self.doc["runs"][0]["domains"][0]
        jpp = self.fig.joules_per_px()
        x0, w = float(band.get("x")), float(band.get("width"))
        self.assertAlmostEqual(self.fig.joules_at(x0), gpu0["energy_j"] - gpu0["uncertainty_j"],
                               delta=jpp * 0.02)
        self.assertAlmostEqual(self.fig.joules_at(x0 + w),
                               gpu0["energy_j"] + gpu0["uncertainty_j"], delta=jpp * 0.02)

    def test_interval_bands_span_their_intervals(self):
        t0 = self.doc["runs"][0]["begin_ns"]
        for band, iv in zip(self.fig.all("rect", "interval"), self.doc["intervals"]):
            x0, w = float(band.get("x")), float(band.get("width"))
            self.assertAlmostEqual(self.fig.seconds_at(x0), (iv["begin_ns"] - t0) / 1e9, delta=0.001)
            self.assertAlmostEqual(self.fig.seconds_at(x0 + w), (iv["end_ns"] - t0) / 1e9, delta=0.001)

    def test_the_html_page_is_self_contained_and_carries_the_identity(self):
        page = self.out("r.html")
        report(os.path.join(FIXTURES, "xval_series.json"), page)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        # Nothing to fetch: no script, link, image, frame, stylesheet import or URL.
        for needle in ("<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import",
                       "http://", "https://"):
            self.assertNotIn(needle, text.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        ident = self.doc["identity"]
        for value in (ident["hostname"], ident["cpu_model"], ident["gpus"][0], ident["start"],
                      ident["end"], ident["driver_versions"]["nvml"], "cross_validate"):
            self.assertIn(value, text)
        self.assertIn("0.0073 g CO<sub>2</sub>e ± 0.0004 g", text)
        self.assertIn("python3 train.py --epochs 3", text)
        # The figure inline is the same as the SVG written alone.
        svg = self.out("r.svg")
        report(os.path.join(FIXTURES, "xval_series.json"), svg)
        with open(svg, encoding="utf-8") as f:
            alone = f.read()
        self.assertIn(alone.split("\n", 1)[1], text)


class RepeatIntervalsTest(Tmp):
    """-r 3 with -I rows: steps of each row's average power, a band per row
    and per run, bars at the mean of the runs with a dot per run."""

    def setUp(self):
        super().setUp()
        self.doc = fixture("repeat_intervals")
        self.fig = self.figure("repeat_intervals")

    def test_steps_are_each_intervals_average_power(self):
        self.assertEqual(self.fig.one("g", "power-panel").get("data-source"), "intervals")
        tol = self.fig.watts_per_px() * 0.02
        for (name, _), path in self.fig.traces().items():
            segs = path_segments(path.get("d"))
            self.assertEqual(len(segs), len(self.doc["runs"]), name)  # lifted between runs
            points = [p for seg in segs for p in seg]
            ivs = self.doc["intervals"]
            self.assertEqual(len(points), 2 * len(ivs))
            for k, iv in enumerate(ivs):
                want = [d for d in iv["domains"] if d["name"] == name][0]["avg_power_w"]
                for x, y in points[2 * k:2 * k + 2]:
                    self.assertAlmostEqual(self.fig.power_at(y), want, delta=tol)

    def test_bars_are_the_mean_of_the_runs_with_each_run_dotted(self):
        jpp = self.fig.joules_per_px()
        dots = self.fig.all("circle", "run-dot")
        self.assertEqual(len(dots), 3 * len(self.fig.all("rect", "bar")))
        for bar in self.fig.bars(False):
            runs = [[d for d in r["domains"] if d["name"] == bar.get("data-name")][0]
                    for r in self.doc["runs"]]
            mean = sum(d["energy_j"] for d in runs) / len(runs)
            x0, w = float(bar.get("x")), float(bar.get("width"))
            self.assertAlmostEqual(self.fig.joules_at(x0 + w), mean, delta=jpp * 0.02)
            self.assertEqual(bar.get("data-runs"), "3")
            mine = sorted(float(d.get("data-energy-j")) for d in dots
                          if abs(float(d.get("cy")) - float(bar.get("y")) - 7) < 1)
            self.assertEqual(len(mine), 3)
            for got, want in zip(mine, sorted(d["energy_j"] for d in runs)):
                self.assertAlmostEqual(got, want, places=6)
        self.assertEqual(len(self.fig.all("rect", "interval")), 12)
        self.assertEqual(len(self.fig.all("rect", "run")), 3)

    def test_a_file_without_identity_says_so(self):
        page = self.out("r.html")
        report(os.path.join(FIXTURES, "repeat_intervals.json"), page)
        with open(page, encoding="utf-8") as f:
            self.assertIn("No identity in this file", f.read())


class TextTest(Tmp):
    def test_hostile_text_stays_text(self):
        doc = fixture("hostile")
        evil = doc["command"][2]
        shown = "".join(c for c in evil if ord(c) >= 0x20)  # XML cannot hold other controls
        svg, page = self.out("h.svg"), self.out("h.html")
        report(os.path.join(FIXTURES, "hostile.json"), svg)
        report(os.path.join(FIXTURES, "hostile.json"), page)
        # The figure: well-formed, and the note is the note, not markup.
        fig = Figure(svg)
        titles = ["".join(t.itertext()) for t in fig.root.iter(SVG + "title")]
        self.assertIn("package-0: 90.25 ± 4.5 J (class 5%)", titles)

        class Collect(html.parser.HTMLParser):
            def __init__(self):
                super().__init__()
                self.tags, self.where, self.text = [], [], {}

            def handle_starttag(self, tag, attrs):
                self.tags.append(tag)
                self.where.append(tag)

            def handle_endtag(self, tag):
                if self.where and self.where[-1] == tag:
                    self.where.pop()

            def handle_data(self, data):
                key = self.where[-1] if self.where else ""
                self.text[key] = self.text.get(key, "") + data

        p = Collect()
        with open(page, encoding="utf-8") as f:
            p.feed(f.read())
        self.assertNotIn("script", p.tags)
        self.assertEqual(p.tags.count("head"), 1)
        self.assertEqual(p.tags.count("body"), 1)
        # The page's title is the whole command, as text (the first <title>: the
        # SVG's own come after it).
        self.assertTrue(p.text["title"].startswith("joulestat report: sh -c " + shown))
        self.assertIn("sh -c " + shown, p.text["code"])
        self.assertIn("host" + shown, p.text["td"])
        self.assertIn(shown, p.text["td"])  # the note, in the domains table


class LongSeriesTest(Tmp):
    def test_ten_devices_of_twenty_thousand_readings_keep_their_peaks(self):
        n, step = 20000, 10_000_000
        t = [1_000_000_000 + i * step for i in range(n)]
        series, domains = [], []
        for g in range(10):
            kind = "gpu" if g < 8 else "package"
            name = "gpu%d" % g if g < 8 else "package-%d" % (g - 8)
            power = [100.0 + g + (i % 7) for i in range(n)]
            power[1234 + g * 1000] = 700.0 + g  # one reading's spike
            power[5000 + g] = None
            series.append({"domain": name, "kind": kind, "t_ns": t, "energy_j": [0.0] * n,
                           "power_w": power})
            domains.append({"name": name, "kind": kind, "device": name, "backend": "sim",
                            "method": "counter", "accuracy": 0.05, "energy_j": 200.0 + g,
                            "uncertainty_j": 10.0, "primary": True})
        doc = {"joulestat": "0.1.0", "command": ["x"], "series": series,
               "runs": [{"name": "run-1", "begin_ns": t[0], "end_ns": t[-1], "domains": domains,
                         "totals": {}}]}
        src = self.out("long.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        report(src, self.out("long.svg"))
        fig = Figure(self.out("long.svg"))
        width = float(fig.area.get("width"))
        for s in series:
            path = fig.traces()[(s["domain"], "")]
            self.assertEqual(path.get("data-readings"), str(n))
            points = [p for seg in path_segments(path.get("d")) for p in seg]
            # Thinned to the lowest and highest reading of each pixel column
            # (the gap splits one column in two)...
            self.assertLessEqual(len(points), 2 * (width + 2) + 2)
            self.assertGreater(len(points), width)
            # ...which keeps the spike and the floor.
            powers = [fig.power_at(y) for _, y in points]
            readings = [p for p in s["power_w"] if p is not None]
            tol = fig.watts_per_px() * 0.02
            self.assertAlmostEqual(max(powers), max(readings), delta=tol)
            self.assertAlmostEqual(min(powers), min(readings), delta=tol)
            self.assertEqual(len(path_segments(path.get("d"))), 2)  # the null


def sim_nvml():
    path = os.environ.get("SIM_NVML")
    if path:
        return path
    found = glob.glob(os.path.join(REPO, "build*", "sim", "nvml", "libnvidia-ml.so.1"))
    if not found:
        raise unittest.SkipTest("SIM_NVML not set and no build*/sim/nvml/libnvidia-ml.so.1")
    return max(found, key=os.path.getmtime)


class RealRunTest(Tmp):
    def test_a_run_against_the_simulator_is_drawn_as_measured(self):
        with PowercapSim(packages=2, trace="const:50") as sim:
            proc, doc = measure(["sleep", "0.5"], sim.env(), extra=["-I", "100", "-r", "2", "-q"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        src = self.out("run.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        report(src, self.out("run.svg"))
        fig = Figure(self.out("run.svg"))
        self.assertEqual(len(fig.all("rect", "interval")), len(doc["intervals"]))
        self.assertEqual(len(fig.all("rect", "run")), 2)
        jpp = fig.joules_per_px()
        for bar in fig.bars(False):
            figs = [[d for d in r["domains"] if key(d) == (bar.get("data-name"), bar.get("data-source"))][0]
                    for r in doc["runs"]]
            mean = sum(d["energy_j"] for d in figs) / len(figs)
            self.assertGreater(mean, 0)
            x0, w = float(bar.get("x")), float(bar.get("width"))
            self.assertAlmostEqual(fig.joules_at(x0 + w), mean, delta=jpp * 0.02)
        self.assertEqual(sorted(fig.traces()), sorted(key(d) for d in doc["runs"][0]["domains"]))

    def test_the_counted_column_is_the_totals_rule(self):
        """psys and a die's cores are shown but not in the total: the page's
        "counted" column says so, as the run's own "counted" does (it once
        printed "yes" for every primary domain)."""
        with PowercapSim(packages=1, psys=True, dies=2, trace="const:50") as sim:
            proc, doc = measure(["sleep", "0.3"], sim.env(), extra=["-q"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        src = self.out("psys.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        report(src, self.out("psys.html"))
        with open(self.out("psys.html")) as f:
            page = f.read()
        rows = {}
        for row in re.findall(r"<tr><td>(.*?)</tr>", page, re.S):
            cells = re.findall(r"<td>(.*?)</td>", "<td>" + row)
            if len(cells) > 6:
                rows[cells[0]] = cells[6]
        domains = doc["runs"][0]["domains"]
        self.assertIn("psys", rows, page)
        for d in domains:
            self.assertEqual(rows[d["name"]], "yes" if d["counted"] else "no", d["name"])
        self.assertEqual(rows["psys"], "no")
        self.assertIn("yes", rows.values())
        counted = sum(d["energy_j"] for d in domains if d["counted"])
        self.assertAlmostEqual(doc["runs"][0]["totals"]["total"]["energy_j"], counted, delta=1e-6)

    def test_a_cross_validated_run_overlays_each_gpus_methods(self):
        """sim/nvml, two GPUs, --cross-validate: each GPU's counter, instant
        and average power are three domains of one name, drawn in one colour,
        dashed apart, their steps each interval's average power."""
        env = dict(os.environ, JOULESTAT_NVML_LIBRARY=sim_nvml(), JSTSIM_NVML_GPUS="2",
                   JSTSIM_NVML_TRACE="steps:150,420,80,300@0.2")
        proc, doc = measure(["sleep", "0.6"], env, backends="nvml",
                            extra=["--cross-validate", "-I", "200", "-q"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        src = self.out("xv.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        report(src, self.out("xv.svg"))
        fig = Figure(self.out("xv.svg"))
        domains = doc["runs"][0]["domains"]
        self.assertEqual(sorted(fig.traces()), sorted(key(d) for d in domains))
        self.assertEqual(len(domains), 6)
        tol = fig.watts_per_px() * 0.02
        for gpu in ("gpu0", "gpu1"):
            mine = [d for d in domains if d["name"] == gpu]
            self.assertEqual(len(mine), 3)
            lines = [fig.traces()[key(d)] for d in mine]
            self.assertEqual(len({p.get("stroke") for p in lines}), 1, gpu)
            self.assertEqual(len({p.get("stroke-dasharray") for p in lines}), 3, gpu)
            for d, path in zip(mine, lines):
                self.assertEqual(path.get("data-primary"), "1" if d["primary"] else "0")
                points = [p for seg in path_segments(path.get("d")) for p in seg]
                want = [[x for x in iv["domains"] if key(x) == key(d)][0]["avg_power_w"]
                        for iv in doc["intervals"]]
                self.assertEqual(len(points), 2 * len(want))
                for k, w in enumerate(want):
                    self.assertAlmostEqual(fig.power_at(points[2 * k][1]), w, delta=tol)
            self.assertEqual(len([b for b in fig.all("rect", "xval-band")
                                  if b.get("data-device") == mine[0]["device"]]), 1)
        self.assertNotEqual(fig.traces()[("gpu0", "energy-counter")].get("stroke"),
                            fig.traces()[("gpu1", "energy-counter")].get("stroke"))


class HistoryTest(Tmp):
    def test_a_run_id_draws_the_recorded_run(self):
        """`report ID` draws what the history recorded: the same figure as
        the run's own --json file."""
        env = dict(os.environ, XDG_DATA_HOME=self.out("data"))
        with PowercapSim(packages=1, trace="const:40") as sim:
            env.update(sim.env())
            proc, doc = measure(["sleep", "0.3"], env, extra=["--series", "-q"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        listed = run_joulestat(["history", "--json"], env=env)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        runs = json.loads(listed.stdout)
        self.assertEqual(len(runs), 1)
        src = self.out("run.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        report(src, self.out("file.svg"))
        proc = run_joulestat(["report", str(runs[0]["id"]), "-o", self.out("id.svg")], env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        by_file, by_id = Figure(self.out("file.svg")), Figure(self.out("id.svg"))
        self.assertEqual(sorted(by_id.traces()), sorted(by_file.traces()))
        self.assertGreater(len(by_id.traces()), 0)
        self.assertEqual([b.get("width") for b in by_id.bars(False)],
                         [b.get("width") for b in by_file.bars(False)])

    def test_an_unknown_run_id_is_named(self):
        env = dict(os.environ, XDG_DATA_HOME=self.out("empty"))
        proc = run_joulestat(["report", "42", "-o", self.out("x.svg")], env=env)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no run 42", proc.stderr)
        proc = run_joulestat(["report", "forty-two", "-o", self.out("x.svg")], env=env)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("neither a file nor a run id", proc.stderr)


class ErrorsTest(Tmp):
    def write(self, name, text):
        path = self.out(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def fails(self, args, rc, *needles):
        proc = run_joulestat(["report"] + args)
        self.assertEqual(proc.returncode, rc, proc.stderr)
        for n in needles:
            self.assertIn(n, proc.stderr)
        return proc

    def test_bad_input_is_named_and_the_output_kept(self):
        out = self.write("keep.html", "previous\n")
        bad = self.write("bad.json", '{"runs": [')
        self.fails([bad, "-o", out], 1, "bad.json:1:")
        doc = fixture("xval_series")
        doc["series"][1]["power_w"].pop()
        self.fails([self.write("short.json", json.dumps(doc)), "-o", out], 1,
                   "series[1].", "differ in length")
        doc = fixture("xval_series")
        doc["series"][0]["t_ns"][5] = 0
        self.fails([self.write("back.json", json.dumps(doc)), "-o", out], 1,
                   "series[0].t_ns[5]: goes back in time")
        doc = fixture("repeat_intervals")
        doc["runs"][1]["domains"][0]["energy_j"] = "12"
        self.fails([self.write("str.json", json.dumps(doc)), "-o", out], 1,
                   "runs[1].domains[0].energy_j: not a number")
        self.fails([self.write("other.json", '{"backends": []}'), "-o", out], 1,
                   "not the JSON of `joulestat run`")
        self.fails([self.write("arr.json", "[]"), "-o", out], 1, "not a JSON object")
        self.fails([self.dir, "-o", out], 1, "Is a directory")
        with open(out) as f:
            self.assertEqual(f.read(), "previous\n")

    def test_a_run_id_not_recorded_writes_nothing(self):
        self.fails(["424242", "-o", self.out("x.html")], 1, "no run 424242")
        self.assertFalse(os.path.exists(self.out("x.html")))

    def test_usage(self):
        for args in (["report", "--help"], ["help", "report"], ["report", "x.json", "-h"]):
            proc = run_joulestat(args)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("usage: joulestat report", proc.stdout)
        self.fails([], 2, "give the run")
        self.fails(["a.json", "b.json"], 2, "one run at a time")
        self.fails(["--format", "pdf", "a.json"], 2, "html or svg")
        self.fails([os.path.join(FIXTURES, "xval_series.json"), "-o",
                    self.out("no/such/dir/x.html")], 1, "no/such/dir")

    def test_stdin_to_stdout_and_format(self):
        with open(os.path.join(FIXTURES, "xval_series.json"), "rb") as f:
            proc = subprocess.run([binary("JOULESTAT"), "report", "--format", "svg", "-"],
                                  stdin=f, capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(ET.fromstring(proc.stdout).tag, SVG + "svg")
        report(os.path.join(FIXTURES, "xval_series.json"), self.out("fig.txt"), "--format", "svg")
        Figure(self.out("fig.txt"))
        report(os.path.join(FIXTURES, "xval_series.json"), self.out("page.svg"), "--format",
               "html")
        with open(self.out("page.svg")) as f:
            self.assertTrue(f.read().startswith("<!DOCTYPE html>"))


def png_rgb(path):
    """Width, height and rows of (r, g, b) bytes of an 8-bit, non-interlaced
    RGB or RGBA PNG (what Chromium writes), by zlib and the PNG filters."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w, h = 8, [], 0, 0
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and interlace == 0 and color in (2, 6), (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif ctype == b"IDAT":
            idat.append(chunk)
        elif ctype == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows, i = [], 0
    for _ in range(h):
        ft, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if ft == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif ft == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif ft == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif ft == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return w, h, rows


def census(rows, x0, x1, colours):
    """Over columns [x0, x1): the share of pixels that are not white, and how
    many pixels lie within 24 of each colour."""
    inked, near, total = 0, [0] * len(colours), 0
    for row in rows:
        for x in range(x0, x1):
            r, g, b = row[3 * x:3 * x + 3]
            total += 1
            if r < 235 or g < 235 or b < 235:
                inked += 1
                for k, (cr, cg, cb) in enumerate(colours):
                    if abs(r - cr) <= 24 and abs(g - cg) <= 24 and abs(b - cb) <= 24:
                        near[k] += 1
    return inked / total, near


@unittest.skipIf(shutil.which("chromium") is None,
                 "chromium is not installed (scripts/deps installs it)")
class ChromiumTest(Tmp):
    def test_chromium_draws_the_page_and_the_figure(self):
        src = os.path.join(FIXTURES, "xval_series.json")
        report(src, self.out("report.html"))
        report(src, self.out("report.svg"))
        # One browser start for both: the page in a frame, the SVG as an image.
        with open(self.out("both.html"), "w") as f:
            f.write('<!DOCTYPE html><html><body style="margin:0;background:#fff">'
                    '<iframe src="report.html" style="position:absolute;left:0;top:0;'
                    'width:1000px;height:1400px;border:0"></iframe>'
                    '<img src="report.svg" style="position:absolute;left:1000px;top:0">'
                    '</body></html>')
        args = ["chromium", "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--disable-background-networking",
                "--user-data-dir=" + self.out("profile"), "--window-size=2000,1400",
                # Half the pixels each way: a quarter to decode in Python.
                "--force-device-scale-factor=0.5",
                "--screenshot=" + self.out("shot.png"), "file://" + self.out("both.html")]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses root
        env = dict(os.environ, HOME=self.dir)
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        w, h, rows = png_rgb(self.out("shot.png"))
        self.assertEqual((w, h), (1000, 700))
        # The page: text, tables and the figure; the figure alone beside it.
        for x0, x1, what in ((0, 500, "report.html"), (500, 1000, "report.svg")):
            inked, (blue, orange) = census(rows, x0, x1, (BLUE, ORANGE))
            with self.subTest(what=what, inked=inked, blue=blue, orange=orange):
                self.assertGreater(inked, 0.02, "blank")
                # gpu0's bar alone is some 140 x 6 pixels; package-0's 40 x 6.
                self.assertGreater(blue, 500, "no gpu0 line or bar")
                self.assertGreater(orange, 150, "no package-0 line or bar")


if __name__ == "__main__":
    unittest.main(verbosity=2)
