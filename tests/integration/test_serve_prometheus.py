"""joulestat serve scraped by Debian's real `prometheus`: the exporter runs
against sim/ (four simulated GPUs, one with a counter reset, and a powercap
tree of two packages), Prometheus scrapes it every second, and its HTTP API's
increase() of joulestat_energy_joules_total is held to the simulators' truth
within each domain's accuracy class; so are the per-kind and cluster sums the
docs give (docs/serve.md)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, PowercapSim  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import Exporter, combined_env, free_port  # noqa: E402

GPUS = 4
GPU_W = 300.0        # GPU k draws GPU_W x (1 - 0.05 k): distinct, so labels cannot mix
PKG_TRACE = "const:45"
RANGE_S = 6          # increase() over this many seconds of 1-s scrapes
RESET_S = 9.0        # GPU 1's counter restarts from 0 then, inside the range queried


def prom_query(base, query, at):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": "%.3f" % at})
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


@unittest.skipUnless(shutil.which("prometheus"), "prometheus is not installed (scripts/deps)")
class PrometheusScrapeTest(unittest.TestCase):
    def test_increase_matches_the_simulators_truth(self):
        with NvmlSim(gpus=GPUS, trace="const:%g" % GPU_W, reset="1@%g" % RESET_S) as nvml, \
                PowercapSim(packages=2, trace=PKG_TRACE) as pc, \
                tempfile.TemporaryDirectory() as d:
            # A fast sampler keeps a scraped figure within 50 ms of its scrape.
            # NVML's trace time starts after this: never earlier.
            self.launched = time.monotonic()
            with Exporter(combined_env(nvml, pc), "--period", "50") as ex:
                port = free_port()
                base = "http://127.0.0.1:%d" % port
                cfg = os.path.join(d, "prometheus.yml")
                with open(cfg, "w") as f:
                    f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                            "scrape_configs:\n  - job_name: joulestat\n"
                            "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                            % ex.port)
                log = open(os.path.join(d, "prometheus.log"), "w+")
                prom = subprocess.Popen(
                    ["prometheus", "--config.file=" + cfg,
                     "--storage.tsdb.path=" + os.path.join(d, "data"),
                     "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                    stdout=log, stderr=subprocess.STDOUT)
                try:
                    self._check(nvml, pc, ex, prom, base, log)
                finally:
                    prom.terminate()
                    try:
                        prom.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        prom.kill()
                        prom.wait()
                    log.close()
                self.assertEqual(ex.stop(), 0, ex.stderr)
            nvml.truth()
            pc.stop()
            self._against_truth(nvml, pc)

    def _check(self, nvml, pc, ex, prom, base, log):
        # Prometheus is up and has scraped enough once RANGE_S + 2 samples of
        # every series are in.
        deadline = time.monotonic() + 25
        while True:
            self.assertIsNone(prom.poll(), "prometheus exited")
            if time.monotonic() > deadline:
                log.seek(0)
                self.fail("prometheus did not scrape enough: " + log.read())
            try:
                got = prom_query(base, 'min(count_over_time(joulestat_energy_joules_total'
                                 '[1m]))', time.time())
            except OSError:
                got = []
            # Enough samples, and past the reset by a scrape or two, with the
            # reset still inside the range.
            if got and float(got[0]["value"][1]) >= RANGE_S + 2 and \
                    time.monotonic() - self.launched >= RESET_S + 2.5:
                break
            time.sleep(0.25)
        # Evaluate at an instant just past the last scrape, taken as both a
        # wall-clock and a monotonic time (the simulators' truth is monotonic).
        self.at_wall = time.time() - 0.5
        self.at_mono = time.monotonic() - 0.5
        q = prom_query(base, "increase(joulestat_energy_joules_total[%ds])" % RANGE_S,
                       self.at_wall)
        self.inc = {r["metric"]["domain"]: (float(r["value"][1]), r["metric"]) for r in q}
        acc = prom_query(base, "joulestat_accuracy_ratio", self.at_wall)
        self.acc = {r["metric"]["domain"]: float(r["value"][1]) for r in acc}
        up = prom_query(base, "up", self.at_wall)
        self.assertEqual([r["value"][1] for r in up], ["1"])
        jup = prom_query(base, "joulestat_up", self.at_wall)
        self.assertEqual({r["metric"]["backend"]: r["value"][1] for r in jup},
                         {"nvml": "1", "rapl": "1"})
        resets = prom_query(base, "resets(joulestat_energy_joules_total[1m])", self.at_wall)
        self.assertEqual({r["metric"]["domain"]: r["value"][1] for r in resets},
                         {d: "0" for d in self.inc}, "a counter went down")
        # The docs' sums: per kind, and the node's total of counted domains.
        by_kind = prom_query(base, 'sum by (kind) (increase(joulestat_energy_joules_total'
                             '{counted="1"}[%ds]))' % RANGE_S, self.at_wall)
        self.by_kind = {r["metric"]["kind"]: float(r["value"][1]) for r in by_kind}
        total = prom_query(base, 'sum by (job) (increase(joulestat_energy_joules_total'
                           '{counted="1"}[%ds]))' % RANGE_S, self.at_wall)
        self.assertEqual(len(total), 1)
        self.total = float(total[0]["value"][1])
        self._docs_queries(base)

    def _docs_queries(self, base):
        # Every PromQL block of docs/serve.md and every query of the Grafana
        # dashboard is valid PromQL and evaluates here; those without an @ in
        # the past find series.
        with open(os.path.join(REPO, "docs", "serve.md")) as f:
            blocks = re.findall(r"```promql\n(.*?)```", f.read(), re.S)
        self.assertGreaterEqual(len(blocks), 8)
        for q in blocks:
            got = prom_query(base, q.strip(), self.at_wall)
            if "@" not in q and "== 0" not in q:
                self.assertTrue(got, "docs/serve.md: no result for " + q)
        with open(os.path.join(REPO, "contrib", "grafana-joulestat.json")) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 10)
        for e in exprs:
            q = (e.replace("$__rate_interval", "4s").replace("$__range", "%ds" % RANGE_S)
                 .replace("$job", ".*").replace("$instance", ".*"))
            got = prom_query(base, q, self.at_wall)
            self.assertTrue(got, "contrib/grafana-joulestat.json: no result for " + e)
        for v in dash["templating"]["list"][1:]:
            self.assertIn("joulestat_up", v["definition"])

    def _against_truth(self, nvml, pc):
        end_ns = int(self.at_mono * 1e9)
        begin_ns = end_ns - RANGE_S * 1000000000
        # The reset fell inside the range: the counter was bridged, not restarted.
        self.assertLess(nvml.seconds(begin_ns), RESET_S)
        self.assertGreater(nvml.seconds(end_ns), RESET_S + 1)
        truth = {}
        for k in range(GPUS):
            truth["gpu%d" % k] = nvml.exact_truth(k, begin_ns, end_ns)
        for z in ("package-0", "package-1", "core-0", "uncore-0", "dram-0", "dram-1"):
            truth[z] = pc.window_truth(pc.zone(z), begin_ns, end_ns)
        for name, want in truth.items():
            got, labels = self.inc[name]
            acc = self.acc[name]
            self.assertEqual(acc, 0.05)  # the class of NVML's and RAPL's counters
            if os.environ.get("JST_TEST_VERBOSE"):
                print("%-10s prometheus %9.2f J  truth %9.2f J  %+.2f%%"
                      % (name, got, want, 100 * (got - want) / want))
            self.assertAlmostEqual(got, want, delta=acc * want,
                                   msg="%s: Prometheus says %.1f J, the truth is %.1f J"
                                   % (name, got, want))
        # GPU k draws 300 x (1 - 0.05 k): each label set holds its own GPU's figure.
        for k in range(GPUS):
            self.assertAlmostEqual(truth["gpu%d" % k], GPU_W * (1 - 0.05 * k) * RANGE_S,
                                   delta=0.5)
            self.assertEqual(self.inc["gpu%d" % k][1]["kind"], "gpu")
        self.assertEqual(self.inc["core-0"][1]["counted"], "0")
        gpus = sum(truth["gpu%d" % k] for k in range(GPUS))
        cpus = truth["package-0"] + truth["package-1"]
        drams = truth["dram-0"] + truth["dram-1"]
        self.assertAlmostEqual(self.by_kind["gpu"], gpus, delta=0.05 * gpus)
        self.assertAlmostEqual(self.by_kind["package"], cpus, delta=0.05 * cpus)
        self.assertAlmostEqual(self.by_kind["dram"], drams, delta=0.05 * drams)
        self.assertAlmostEqual(self.total, gpus + cpus + drams,
                               delta=0.05 * (gpus + cpus + drams))


if __name__ == "__main__":
    unittest.main()
