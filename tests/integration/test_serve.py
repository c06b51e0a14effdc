"""joulestat serve over HTTP against sim/: the text format and OpenMetrics as
the Accept header asks, every metric with its labels, values from the sampler
(never a device read per scrape), counters that never go down through a
device's counter reset, and clear errors for bad options. TLS and basic auth:
test_serve_webconfig.py."""
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, binary  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import Exporter, combined_env, parse, series  # noqa: E402

OM = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" \
     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"  # Prometheus 2.42's


class ServeTest(unittest.TestCase):
    # One exporter for most tests (each start measures the counters' refresh
    # for a second or two). GPU 2's counter restarts from 0 RESET_S after NVML
    # starts; a thread scrapes from the exporter's first answer until well
    # after that, while the other tests run.
    RESET_S = 6
    RECORD_UNTIL_S = RESET_S + 4

    @classmethod
    def setUpClass(cls):
        cls.nvml = NvmlSim(gpus=3, trace="const:300", reset="2@%d" % cls.RESET_S).__enter__()
        cls.pc = PowercapSim(packages=2, trace="const:45").__enter__()
        cls.env = combined_env(cls.nvml, cls.pc)
        cls.launched = time.monotonic()
        cls.ex = Exporter(cls.env, "--period", "50").__enter__()
        cls.record = []
        cls.recorder = threading.Thread(target=cls._record, daemon=True)
        cls.recorder.start()

    @classmethod
    def _record(cls):
        while time.monotonic() - cls.launched < cls.RECORD_UNTIL_S:
            status, _, body = cls.ex.scrape()
            if status == 200:
                cls.record.append((time.monotonic(),
                                   series(parse(body), "joulestat_energy_joules_total")))
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.recorder.join()
        cls.ex.__exit__(None, None, None)
        cls.pc.__exit__(None, None, None)
        cls.nvml.__exit__(None, None, None)

    def test_text_and_openmetrics(self):
        ex = self.ex
        status, ctype, body = ex.scrape()
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        self.assertNotIn("# EOF", body)
        self.assertNotIn("# UNIT", body)
        s = parse(body)
        energy = series(s, "joulestat_energy_joules_total")
        self.assertEqual(sorted(energy), sorted(
            ["gpu0", "gpu1", "gpu2", "package-0", "core-0", "uncore-0", "dram-0",
             "package-1", "core-1", "uncore-1", "dram-1"]))
        labels = dict(next(k[1] for k in s if k[0] == "joulestat_energy_joules_total"
                           and dict(k[1])["domain"] == "gpu1"))
        self.assertEqual(labels, {"domain": "gpu1", "kind": "gpu", "method": "counter",
                                  "device": "gpu:GPU-5a1c0000-0000-4000-8000-000000000001",
                                  "source": "energy-counter", "backend": "nvml",
                                  "counted": "1"})
        # The simulated GPU k draws 300 x (1 - 0.05 k) W; temperature 35 + P/10,
        # utilisation P / 700 W.
        power = series(s, "joulestat_power_watts")
        for k in range(3):
            p = 300 * (1 - 0.05 * k)
            self.assertAlmostEqual(power["gpu%d" % k], p, delta=1e-6)
            self.assertAlmostEqual(series(s, "joulestat_temperature_celsius")["gpu%d" % k],
                                   35 + p / 10, delta=1)
            self.assertAlmostEqual(series(s, "joulestat_utilization_ratio")["gpu%d" % k],
                                   p / 700, delta=0.01)
            self.assertGreater(series(s, "joulestat_clock_hertz")["gpu%d" % k], 3e8)
            self.assertEqual(series(s, "joulestat_power_limit_watts")["gpu%d" % k], 700)
        self.assertEqual(set(series(s, "joulestat_accuracy_ratio").values()), {0.05})
        # RAPL's gauge is the counter's rise over its last span of 100 ms or
        # more, each end placed on a latch the sampler saw between two reads:
        # a sampler preempted for 2 ms in one read moves it by 2%. Its bar is
        # the accuracy the exposition itself states for the domain (5%), not
        # a tighter one this machine's load decides.
        acc = series(s, "joulestat_accuracy_ratio")["package-0"]
        self.assertAlmostEqual(power["package-0"], 45, delta=acc * 45)
        self.assertEqual(series(s, "joulestat_up"), {"nvml": 1, "rapl": 1})
        self.assertEqual(series(s, "joulestat_energy_joules_total", counted="0").keys(),
                         {"core-0", "uncore-0", "core-1", "uncore-1"})

        status, ctype, om = ex.scrape(accept=OM)
        self.assertEqual(ctype, "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.assertTrue(om.endswith("# EOF\n"))
        self.assertIn("# TYPE joulestat_energy_joules counter\n"
                      "# UNIT joulestat_energy_joules joules\n", om)
        self.assertEqual(parse(om).keys(), parse(body).keys() - {
            k for k in parse(body) if k[0] == "joulestat_scrapes_total"} | {
            k for k in parse(om) if k[0] == "joulestat_scrapes_total"})
        # A q of 0 refuses OpenMetrics.
        _, ctype, _ = ex.scrape(accept="application/openmetrics-text;q=0,text/plain")
        self.assertTrue(ctype.startswith("text/plain"))

    def test_promtool_check_metrics(self):
        # promtool lints the text format as Prometheus's text parser reads it:
        # HELP and TYPE must name the sample (joulestat_energy_joules_total).
        _, _, body = self.ex.scrape()
        r = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                           capture_output=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        # promtool 2.42 reads OpenMetrics with the same text parser, to which
        # a counter's family (joulestat_energy_joules, as OpenMetrics names
        # it) is not its sample's: it says exactly that of the two counters
        # and nothing else (names, units, help of every other family pass).
        _, _, om = self.ex.scrape(accept=OM)
        self.assertIn("# TYPE joulestat_energy_joules counter\n", om)
        r = subprocess.run(["promtool", "check", "metrics"], input=om, text=True,
                           capture_output=True, timeout=30)
        self.assertEqual(sorted((r.stdout + r.stderr).splitlines()),
                         ["joulestat_energy_joules_total no help text",
                          "joulestat_scrapes_total no help text"])

    def test_scrapes_read_the_sampler_not_the_devices(self):
        # A sampler every 2 s: thirty scrapes in a burst see at most two
        # readings (one sampler tick may fall inside), where a device read per
        # scrape would show thirty values of a GPU drawing 300 W.
        with Exporter(self.env, "--period", "2000") as ex:
            # Before the sampler's first reading there is no age to show.
            deadline = time.monotonic() + 10
            while "gpu0" not in series(parse(ex.scrape()[2]), "joulestat_sample_age_seconds"):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)
            values, ages = [], []
            for _ in range(30):
                s = parse(ex.scrape()[2])
                values.append(series(s, "joulestat_energy_joules_total")["gpu0"])
                ages.append(series(s, "joulestat_sample_age_seconds")["gpu0"])
            self.assertLessEqual(len(set(values)), 2, values)
            self.assertEqual(values, sorted(values))
            self.assertTrue(all(0 <= a < 4.5 for a in ages), ages)

    def test_z_counters_never_go_down_through_a_reset(self):
        # Last (tests run by name), so that the others run while it records.
        # Every recorded scrape: no counter below the one before; GPU 2, whose
        # counter restarted, rising at its 270 W all along.
        self.recorder.join()
        rec = self.record
        self.assertLess(rec[0][0] - self.launched, self.RESET_S - 0.5,
                        "the exporter answered too late to see the reset")
        self.assertGreater(rec[-1][0] - self.launched, self.RESET_S + 2)
        for (_, a), (_, b) in zip(rec, rec[1:]):
            for d in a:
                self.assertGreaterEqual(b[d], a[d], d)
        dt = rec[-1][0] - rec[0][0]
        gained = rec[-1][1]["gpu2"] - rec[0][1]["gpu2"]
        self.assertAlmostEqual(gained / dt, 270, delta=270 * 0.05)

    def test_paths_and_methods(self):
        ex = self.ex
        base = ex.url[:-len("/metrics")]
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            self.assertIn(b"/metrics", r.read())
        for path, method, code in (("/nope", "GET", 404), ("/metrics", "POST", 405)):
            req = urllib.request.Request(base + path, method=method, data=b"" if
                                         method == "POST" else None)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(e.exception.code, code)

    def test_ipv6_and_cross_validation(self):
        # Every method of each GPU as its own series (source tells them
        # apart; only the counter is counted), served on IPv6's loopback.
        with Exporter(self.env, "--cross-validate", listen="[::1]:0") as ex:
            self.assertTrue(ex.url.startswith("http://[::1]:"), ex.url)
            s = parse(ex.scrape()[2])  # parse() refuses a duplicate series
            gpu0 = {dict(k[1])["source"]: dict(k[1])["counted"] for k in s
                    if k[0] == "joulestat_energy_joules_total" and
                    dict(k[1])["domain"] == "gpu0"}
            self.assertEqual(gpu0, {"energy-counter": "1", "instant-power": "0",
                                    "average-power": "0"})
            req = urllib.request.Request(ex.url, method="HEAD")
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual((r.status, r.read()), (200, b""))

    def test_bad_options(self):
        for args, want in ((["--listen", "9100"], "expected HOST:PORT"),
                           (["--listen", "::1:9100"], "brackets"),
                           (["--listen", "127.0.0.1:70000"], "0 to 65535"),
                           (["--listen", "no.such.host.invalid:9100"], "cannot resolve"),
                           (["--web-config", "/nonexistent.yml"], "cannot open"),
                           (["extra"], "unexpected argument")):
            p = subprocess.run([binary("JOULESTAT"), "serve"] + args, env=self.env,
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(want, p.stderr, args)

    def test_port_in_use(self):
        ex = self.ex
        p = subprocess.run([binary("JOULESTAT"), "serve", "--listen",
                            "127.0.0.1:%d" % ex.port], env=self.env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen on 127.0.0.1:%d" % ex.port, p.stderr)


if __name__ == "__main__":
    unittest.main()
