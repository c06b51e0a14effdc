#!/usr/bin/python3
"""A basic-auth flood against `joulestat serve` (BENCHMARKS.md, section 13):
one peer (127.0.0.1) on CONNS keep-alive connections sends user:wrong in a
loop while another (127.0.0.2) scrapes with the right password; prints the
scrapes' times alone and under the flood, and what the flood was answered.

  bench/serve_auth_flood.py [--conns 64] [--cost 10] [--vary] [--tls] [--scrapes 5]

JOULESTAT names the binary (default: the newest build*/src/cli/joulestat)."""
import argparse
import crypt
import os
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import AuthFlood, Exporter, timed_scrape  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--cost", type=int, default=10)
    ap.add_argument("--vary", action="store_true", help="a new wrong password each request")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--scrapes", type=int, default=5)
    ap.add_argument("--settle", type=float, default=2.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, NvmlSim(gpus=2) as nvml:
        hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << a.cost))
        text = "basic_auth_users:\n  prometheus: '%s'\n" % hashed
        ctx = None
        if a.tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                            "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", os.path.join(d, "key.pem"), "-out",
                            os.path.join(d, "cert.pem")], check=True, capture_output=True)
            text = "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n" + text
            ctx = ssl.create_default_context(cafile=os.path.join(d, "cert.pem"))
        cfg = os.path.join(d, "web.yml")
        with open(cfg, "w") as f:
            f.write(text)
        with Exporter(nvml.env(), "--no-estimate", "--web-config", cfg) as ex:
            alone = [timed_scrape(ex.port, ("prometheus", "s3cret"), context=ctx)
                     for _ in range(a.scrapes)]
            print("alone: first %.3f s, then %s" % (alone[0][0], " ".join(
                "%.3f" % t for t, _ in alone[1:])))
            with AuthFlood(ex.port, "prometheus", "wrong", a.conns, vary=a.vary,
                           context=ctx) as flood:
                time.sleep(a.settle)
                under = [timed_scrape(ex.port, ("prometheus", "s3cret"), context=ctx)
                         for _ in range(a.scrapes)]
                time.sleep(0.5)
            print("under a flood of %d connections%s%s: %s s (status %s)" % (
                a.conns, " (a new password each)" if a.vary else "", " over TLS" if a.tls
                else "", " ".join("%.3f" % t for t, _ in under),
                sorted({s for _, s in under})))
            print("flood answered:", dict(sorted(flood.responses.items())))


if __name__ == "__main__":
    main()
