"""joulestat serve's basic auth under a flood of failed logins (sim/nvml):
one peer (127.0.0.1) on 48 keep-alive connections sends wrong passwords in a
loop while Prometheus (127.0.0.2) scrapes with the right one. bcrypt ran on
the serving thread: each scrape waited behind every wrong password queued
(cost 10, some 70 ms each: 9 to 12 s with 64 connections, past Prometheus's
10 s scrape timeout). Now a password is hashed by workers, at most
JST_AUTH_PER_PEER (2) at a time for one address, the rest of that peer's
answered 429 at once, and a refused password is answered from memory.

The bound: the scrape's own check waits for at most the flood's 2 hashes
on 2 workers, then its own: about 2 x 70 ms alone, where the old code's
wait grew with the flood (48 queued hashes, 3 s and more). 2 s leaves a
factor of 10 for a loaded 2-core machine and is still 5 times inside
Prometheus's timeout."""
import crypt
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import AuthFlood, Exporter, timed_scrape  # noqa: E402

BOUND_S = 2.0
CONNS = 48


class AuthFloodTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="jst-flood-")
        hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))
        cls.cfg = os.path.join(cls.dir.name, "web.yml")
        with open(cls.cfg, "w") as f:
            f.write("basic_auth_users:\n  prometheus: '%s'\n" % hashed)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def flood_then_scrape(self, vary):
        with NvmlSim(gpus=2) as nvml, \
                Exporter(nvml.env(), "--no-estimate", "--web-config", self.cfg) as ex:
            with AuthFlood(ex.port, "prometheus", "wrong", CONNS, vary=vary,
                           pause=0.05) as flood:
                # Until every connection has had an answer: the flood is on.
                deadline = time.monotonic() + 20
                while sum(flood.responses.values()) < CONNS:
                    self.assertLess(time.monotonic(), deadline, flood.responses)
                    time.sleep(0.05)
                # The first check of the right password (a hash), then one
                # from memory.
                first = timed_scrape(ex.port, ("prometheus", "s3cret"))
                again = timed_scrape(ex.port, ("prometheus", "s3cret"))
                wrong = timed_scrape(ex.port, ("prometheus", "nope"))
            self.assertEqual(first[1], 200)
            self.assertEqual(again[1], 200)
            self.assertEqual(wrong[1], 401)  # its own budget: checked, refused
            self.assertLess(first[0], BOUND_S, flood.responses)
            self.assertLess(again[0], BOUND_S, flood.responses)
            self.assertEqual(ex.stop(), 0, ex.stderr)
            return flood.responses

    def test_a_repeated_wrong_password(self):
        # Refused once by a hash, then from memory: nothing but 401s, and
        # far more of them than 2 workers could hash (some 28 a second).
        r = self.flood_then_scrape(vary=False)
        self.assertIn(401, r)

    def test_a_new_wrong_password_each_time(self):
        # No cache can answer: the peer's budget of 2 checks at a time is
        # spent and the rest of its requests get 429 without a hash.
        r = self.flood_then_scrape(vary=True)
        self.assertGreater(r.get(429, 0), 0, r)
        self.assertGreater(r.get(401, 0), 0, r)


if __name__ == "__main__":
    unittest.main()
