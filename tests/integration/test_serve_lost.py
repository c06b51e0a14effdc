"""joulestat serve when a device is lost while it serves (sim/nvml's GPU 1
answers GPU_IS_LOST from LOST_S on): scrapes go on answering at once,
joulestat_up of its backend turns 0 within the staleness limit (5 sampler
periods, at least 2 s), the lost GPU's gauges (power, telemetry) leave the
exposition, its counter stays at its last value and the other GPU's goes on
rising. A transient outage (sim/nvml's GPU 0 answering errors for 3 s): the
counter flat, then one step; the total the truth's."""
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


class OutageTest(unittest.TestCase):
    def test_transient_outage(self):
        # GPU 0 answers errors from 4 s for 3 s, at 300 W throughout: what
        # docs/serve.md says of an outage. The counter stands still, the age
        # grows past the staleness limit (then joulestat_up is 0 and the power
        # gauge gone), and when the GPU answers again the energy it counted
        # arrives in one step: the total over the run is the truth's.
        start, length = 4, 3
        with NvmlSim(gpus=1, trace="const:300", errors="0@%d+%d" % (start, length)) as nvml:
            launched = time.monotonic()
            with Exporter(nvml.env(), "--no-estimate") as ex:
                rec = []
                while time.monotonic() - launched < start + length + 2.5:
                    s = parse(ex.scrape()[2])
                    rec.append((time.monotonic(), s))
                    time.sleep(0.1)
                self.assertEqual(ex.stop(), 0, ex.stderr)
        self.assertLess(rec[0][0] - launched, start - 0.5, "started too late")
        energy = [series(s, "joulestat_energy_joules_total")["gpu0"] for _, s in rec]
        down = [(t, s) for t, s in rec if series(s, "joulestat_up")["nvml"] == 0]
        self.assertTrue(down, "joulestat_up never 0 in a 3 s outage")
        for t, s in down:
            self.assertGreater(series(s, "joulestat_sample_age_seconds")["gpu0"], 2)
            self.assertNotIn("gpu0", series(s, "joulestat_power_watts"))
        self.assertEqual(series(rec[-1][1], "joulestat_up")["nvml"], 1)
        self.assertIn("gpu0", series(rec[-1][1], "joulestat_power_watts"))
        # Flat for at least 2 s, then one step of most of the outage's energy.
        steps = [b - a for a, b in zip(energy, energy[1:])]
        self.assertGreater(max(steps), 300 * (length - 1))
        longest, run_start = 0, None
        for i in range(1, len(rec)):
            if energy[i] != energy[i - 1]:
                run_start = None
                continue
            run_start = rec[i - 1][0] if run_start is None else run_start
            longest = max(longest, rec[i][0] - run_start)
        self.assertGreater(longest, 1.5)
        # The total over the scrapes: 300 W x their span, within a sampler
        # period (100 ms) at each end plus a scrape's own latency.
        span = rec[-1][0] - rec[0][0]
        self.assertAlmostEqual(energy[-1] - energy[0], 300 * span, delta=300 * 0.3)


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
