"""joulestat serve's web-config file (Prometheus's format) against sim/: TLS
and basic auth with bcrypt hashes, checked with a real client and promtool's
own reading of the same files; files refused with a clear error; and the
systemd unit in contrib/, verified by systemd-analyze."""
import crypt
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, binary  # noqa: E402
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import Exporter  # noqa: E402


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
            self.assertEqual(p.returncode, 2, text + p.stderr)
            self.assertIn(want, p.stderr, text)

    def openssl_pair(self, cert, key):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", os.path.join(self.dir, key), "-out",
                        os.path.join(self.dir, cert)], check=True, capture_output=True,
                       timeout=60)

    def test_refused_before_the_meter_opens(self):
        # Each was accepted, the meter opened, then libmicrohttpd failed with
        # a GnuTLS error and "cannot listen", exit 1; or (the short hash) the
        # user was refused every password in silence. Now exit 2, naming the
        # file and the key, and before the meter opens (its explanation of
        # the simulated GPU, or any serving line, never comes).
        self.openssl_pair("cert.pem", "key.pem")
        self.openssl_pair("other.pem", "otherkey.pem")
        tls = "tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
        cases = (
            (tls % ("key.pem", "cert.pem"),
             "tls_server_config.cert_file %s/key.pem: not a PEM certificate" % self.dir),
            (tls % ("cert.pem", "cert.pem"),
             "tls_server_config.key_file %s/cert.pem: not an unencrypted PEM private key"
             % self.dir),
            (tls % ("cert.pem", "otherkey.pem"),
             "key_file %s/otherkey.pem is not the key of cert_file %s/cert.pem"
             % (self.dir, self.dir)),
            (tls % ("cert.pem", "key.pem") + "  min_version: TLS13\n  max_version: TLS12\n",
             "min_version TLS13 is above max_version TLS12"),
            ("basic_auth_users:\n  u: $2b$04$short\n", "u's hash '$2b$04$short' is not a "
             "whole bcrypt hash"),
        )
        for text, want in cases:
            # (promtool check web-config reads neither the files nor the hashes.)
            path = self.write("bad.yml", text)
            p = subprocess.run([binary("JOULESTAT"), "serve", "--listen", "127.0.0.1:0",
                                "--web-config", path], env=self.env, capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, 2, text + p.stderr)
            self.assertIn("--web-config %s" % path, p.stderr)
            self.assertIn(want, p.stderr, text)
            self.assertNotIn("cannot listen", p.stderr)
            self.assertEqual(p.stderr.count("\n"), 1, p.stderr)  # one line, nothing after
        # The pair itself is served.
        with Exporter(self.env, "--web-config", self.write("good.yml", tls % (
                "cert.pem", "key.pem"))) as ex:
            ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "cert.pem"))
            self.assertEqual(ex.scrape(context=ctx)[0], 200)


if __name__ == "__main__":
    unittest.main()
