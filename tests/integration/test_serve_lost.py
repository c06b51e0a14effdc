"""joulestat serve when a device is lost while it serves (sim/nvml's GPU 1
answers GPU_IS_LOST from LOST_S on): scrapes go on answering at once,
joulestat_up of its backend turns 0 within the staleness limit (5 sampler
periods, at least 2 s), the lost GPU's gauges (power, telemetry) leave the
exposition, its counter stays at its last value and the other GPU's goes on
rising."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nvml_sim import NvmlSim  # noqa: E402
from serve_helpers import Exporter, parse, series  # noqa: E402

LOST_S = 4


class LostDeviceTest(unittest.TestCase):
    def test_lost_gpu(self):
        with NvmlSim(gpus=2, trace="const:300", lost="1@%d" % LOST_S) as nvml:
            launched = time.monotonic()
            with Exporter(nvml.env(), "--no-estimate") as ex:
                s = parse(ex.scrape()[2])
                self.assertLess(time.monotonic() - launched, LOST_S - 0.5, "started too late")
                self.assertEqual(series(s, "joulestat_up"), {"nvml": 1})
                # Down within LOST_S + 2 s of staleness (+ slack for a busy machine).
                deadline = launched + LOST_S + 8
                while True:
                    t0 = time.monotonic()
                    status, _, body = ex.scrape()
                    self.assertEqual(status, 200)
                    self.assertLess(time.monotonic() - t0, 1.0, "a scrape waited on the device")
                    s = parse(body)
                    if series(s, "joulestat_up")["nvml"] == 0:
                        break
                    self.assertLess(time.monotonic(), deadline, "joulestat_up stayed 1")
                    time.sleep(0.1)
                self.assertGreater(time.monotonic() - launched, LOST_S)
                e1 = series(s, "joulestat_energy_joules_total")
                self.assertGreater(series(s, "joulestat_sample_age_seconds")["gpu1"], 2)
                # Its last reading is not power drawn now: its gauges are
                # gone, so sum(joulestat_power_watts{counted="1"}) is the
                # live GPU's 300 W alone (it kept the lost one's 300 W too).
                for gauge in ("joulestat_power_watts", "joulestat_temperature_celsius",
                              "joulestat_utilization_ratio", "joulestat_clock_hertz",
                              "joulestat_power_limit_watts"):
                    self.assertNotIn("gpu1", series(s, gauge), gauge)
                    self.assertIn("gpu0", series(s, gauge), gauge)
                self.assertAlmostEqual(sum(series(s, "joulestat_power_watts",
                                                  counted="1").values()), 300, delta=1)
                time.sleep(0.5)
                e2 = series(parse(ex.scrape()[2]), "joulestat_energy_joules_total")
                self.assertEqual(e2["gpu1"], e1["gpu1"])  # held, not dropped
                self.assertGreater(e1["gpu1"], 0)
                self.assertAlmostEqual(e2["gpu0"] - e1["gpu0"], 0.5 * 300, delta=60)
                self.assertEqual(ex.stop(), 0, ex.stderr)


class IdlePeerTest(unittest.TestCase):
    def test_a_peer_holding_connections_does_not_block_scrapes(self):
        # One peer (127.0.0.2) opens 100 connections and sends only the start of
        # a request: it was given every slot (64), and a scrape waited for the
        # 10 s timeout. It now gets a share, and Prometheus's scrape is served.
        import socket
        with NvmlSim(gpus=1) as nvml, Exporter(nvml.env(), "--no-estimate") as ex:
            idle = []
            try:
                for _ in range(100):
                    c = socket.socket()
                    c.bind(("127.0.0.2", 0))
                    try:
                        c.connect(("127.0.0.1", ex.port))
                        c.sendall(b"GET /m")
                    except OSError:
                        pass  # refused once its share is taken
                    idle.append(c)
                t0 = time.monotonic()
                status, _, _ = ex.scrape()
                self.assertEqual(status, 200)
                self.assertLess(time.monotonic() - t0, 3.0)
            finally:
                for c in idle:
                    c.close()
            self.assertEqual(ex.stop(), 0, ex.stderr)


if __name__ == "__main__":
    unittest.main()
