"""joulestat serve over HTTP against sim/: the text format and OpenMetrics as
the Accept header asks, every metric with its labels, values from the sampler
(never a device read per scrape), counters that never go down, TLS and basic
auth from a Prometheus web-config file (checked by promtool too), and clear
errors for bad options and bad files."""
import crypt
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, PowercapSim, binary  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import Exporter, combined_env, parse, series  # noqa: E402

OM = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" \
     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"  # Prometheus 2.42's


class ServeTest(unittest.TestCase):
    # One exporter for most tests (each start measures the counters' refresh
    # for a second or two); GPU 2's counter restarts from 0 RESET_S after it starts.
    RESET_S = 4

    @classmethod
    def setUpClass(cls):
        cls.nvml = NvmlSim(gpus=3, trace="const:300", reset="2@%d" % cls.RESET_S).__enter__()
        cls.pc = PowercapSim(packages=2, trace="const:45").__enter__()
        cls.env = combined_env(cls.nvml, cls.pc)
        cls.launched = time.monotonic()
        cls.ex = Exporter(cls.env, "--period", "50").__enter__()

    @classmethod
    def tearDownClass(cls):
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
        self.assertAlmostEqual(power["package-0"], 45, delta=1)
        self.assertEqual(set(series(s, "joulestat_accuracy_ratio").values()), {0.05})
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

    def test_b_counters_never_go_down_through_a_reset(self):
        # GPU 2's counter restarts from 0 RESET_S after NVML starts: the
        # exported counter goes on rising at the GPU's power.
        ex = self.ex
        self.assertLess(time.monotonic() - self.launched, self.RESET_S,
                        "too late to see the reset")
        first = None
        last = {}
        while time.monotonic() - self.launched < self.RESET_S + 1.5:
            s = series(parse(ex.scrape()[2]), "joulestat_energy_joules_total")
            for d, v in s.items():
                self.assertGreaterEqual(v, last.get(d, 0), d)
            last = s
            first = first or (time.monotonic(), s)
            time.sleep(0.05)
        dt = time.monotonic() - first[0]
        gained = last["gpu2"] - first[1]["gpu2"]
        self.assertAlmostEqual(gained / dt, 270, delta=270 * 0.15)

    def test_paths_and_methods(self):
        ex = self.ex
        import urllib.request
        base = ex.url[:-len("/metrics")]
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            self.assertIn(b"/metrics", r.read())
        for path, method, code in (("/nope", "GET", 404), ("/metrics", "POST", 405)):
            req = urllib.request.Request(base + path, method=method, data=b"" if
                                         method == "POST" else None)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(e.exception.code, code)

    def test_a_bad_options(self):  # first (tests run by name): quick, before the reset
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


class ContribTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_systemd_unit(self):
        # The unit as shipped, with ExecStart pointed at this build: systemd
        # finds nothing to say about it (unknown keys and bad values are warnings).
        with open(os.path.join(REPO, "contrib", "joulestat.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/local/bin/joulestat serve --listen 127.0.0.1:9977\n", unit)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "joulestat.service")
            with open(path, "w") as f:
                f.write(unit.replace("/usr/local/bin/joulestat", os.path.abspath(
                    binary("JOULESTAT"))))
            p = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class WebConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jst-webcfg-")
        self.nvml = NvmlSim(gpus=1).__enter__()
        self.env = self.nvml.env()

    def tearDown(self):
        self.nvml.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def promtool_agrees(self, path, ok):
        if not shutil.which("promtool"):
            return
        p = subprocess.run(["promtool", "check", "web-config", path], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode == 0, ok, p.stdout + p.stderr)

    def test_tls_and_basic_auth(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout",
                        os.path.join(self.dir, "key.pem"), "-out",
                        os.path.join(self.dir, "cert.pem")], check=True, capture_output=True,
                       timeout=60)
        hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))
        self.assertTrue(hashed.startswith("$2"))
        # Relative paths are relative to the file, as Prometheus reads them.
        cfg = self.write("web.yml",
                         "# joulestat serve --web-config\n"
                         "tls_server_config:\n  cert_file: cert.pem\n  key_file: 'key.pem'\n"
                         "  min_version: TLS12\n"
                         "basic_auth_users:\n  alice: %s\n  \"bob\": \"%s\"  # same\n"
                         % (hashed, hashed))
        self.promtool_agrees(cfg, True)
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "cert.pem"))
        with Exporter(self.env, "--web-config", cfg) as ex:
            self.assertTrue(ex.url.startswith("https://127.0.0.1:"), ex.url)
            self.assertEqual(ex.scrape(context=ctx)[0], 401)
            self.assertEqual(ex.scrape(context=ctx, auth=("alice", "wrong"))[0], 401)
            self.assertEqual(ex.scrape(context=ctx, auth=("carol", "s3cret"))[0], 401)
            for user in ("alice", "bob", "alice"):  # the third from the verified cache
                status, _, body = ex.scrape(context=ctx, auth=(user, "s3cret"))
                self.assertEqual(status, 200)
                self.assertIn("joulestat_energy_joules_total{domain=\"gpu0\"", body)
            self.assertEqual(ex.scrape(context=ctx, auth=("alice", "s3cret!"))[0], 401)
            # Plain HTTP to a TLS port gets no metrics.
            import urllib.request
            with self.assertRaises(Exception):
                urllib.request.urlopen(ex.url.replace("https", "http"), timeout=5).read()

    def test_refused_files(self):
        cases = (
            ("tls_server_config:\n  cert_file: c.pem\n", "both cert_file and key_file", True),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: "
             "RequireAndVerifyClientCert\n", "does not verify client certificates", True),
            ("basic_auth_users:\n  alice: plain\n", "must be a bcrypt hash", False),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: SSL3\n",
             "not TLS10", False),
            ("nonsense:\n  a: b\n", "unknown key 'nonsense'", False),
            ("basic_auth_users:\n  - alice\n", "only mappings", False),
            ("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n",
             "cannot open", True),
        )
        for text, want, promtool_ok in cases:
            path = self.write("bad.yml", text)
            if not promtool_ok:  # files Prometheus refuses too
                self.promtool_agrees(path, False)
            p = subprocess.run([binary("JOULESTAT"), "serve", "--listen", "127.0.0.1:0",
                                "--web-config", path], env=self.env, capture_output=True,
                               text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, text)
            self.assertIn(want, p.stderr, text)


if __name__ == "__main__":
    unittest.main()
