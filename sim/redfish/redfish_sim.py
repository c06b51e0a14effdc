#!/usr/bin/python3
"""A Redfish BMC on loopback for the redfish backend's tests: HTTPS (a
certificate the test makes), a power trace, and the knobs a real BMC turns.

The BMC updates its reading every --refresh seconds: the value on show is the
mean power of the trace over the refresh that ended last (as BMCs average their
samples). The trace's instant 0 is the CLOCK_MONOTONIC time written to the
ready file, so a test computes the truth of any window with jst-sim-truth.

    redfish_sim.py --cert C --key K --ready FILE [--trace const:300]
        [--refresh 1] [--chassis 1] [--schema power|env|both] [--energy]
        [--user U:P] [--stall S+D] [--slow S+D] [--errors S+D] [--die S] [--garbage S+D]
        [--trace-from-first-request]

The faults' times count from the first request (joulestat's probe).

Traces: const:W, steps:W1,W2,...@S and file:PATH (sim/common/trace.h).
"""
import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Trace:
    def __init__(self, spec):
        kind, _, rest = spec.partition(":")
        if kind == "const":
            self.starts, self.levels, self.cycle = [0.0], [float(rest)], None
        elif kind == "steps":
            watts, _, step = rest.partition("@")
            self.levels = [float(w) for w in watts.split(",")]
            self.starts = [i * float(step) for i in range(len(self.levels))]
            self.cycle = float(step) * len(self.levels)
        elif kind == "file":
            # Lines "SECONDS WATTS", times rising from 0; the last level holds.
            self.starts, self.levels, self.cycle = [], [], None
            with open(rest) as f:
                for line in f:
                    if line.strip() and not line.lstrip().startswith("#"):
                        t, w = line.split()
                        self.starts.append(float(t))
                        self.levels.append(float(w))
        else:
            raise SystemExit("redfish_sim: trace %r: want const:W, steps:W,...@S or file:PATH"
                             % spec)

    def _energy_in(self, t):
        """Energy from 0 to t within one cycle (or the whole trace)."""
        e = 0.0
        for i, (s, w) in enumerate(zip(self.starts, self.levels)):
            end = self.starts[i + 1] if i + 1 < len(self.starts) else float("inf")
            if t <= s:
                break
            e += w * (min(t, end) - s)
        return e

    def energy_to(self, t):
        """Energy (J) from 0 to t."""
        t = max(t, 0.0)
        if self.cycle is None:
            return self._energy_in(t)
        whole, rem = divmod(t, self.cycle)
        return whole * self._energy_in(self.cycle) + self._energy_in(rem)


def window(spec):
    if not spec:
        return None
    s, _, d = spec.partition("+")
    return float(s), float(d)


def inside(win, t):
    return win is not None and win[0] <= t < win[0] + win[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--trace", default="const:300")
    ap.add_argument("--refresh", type=float, default=1.0)
    ap.add_argument("--chassis", type=int, default=1)
    ap.add_argument("--schema", choices=("power", "env", "both"), default="power")
    ap.add_argument("--energy", action="store_true", help="EnvironmentMetrics.EnergykWh")
    ap.add_argument("--user", default="")
    ap.add_argument("--stall", default="", help="S+D: requests hang from S for D s")
    ap.add_argument("--slow", default="", help="S+D: requests from S for D s answered at S+D")
    ap.add_argument("--errors", default="", help="S+D: HTTP 503 from S for D s")
    ap.add_argument("--garbage", default="", help="S+D: bodies that are not JSON")
    ap.add_argument("--die", type=float, default=0, help="exit at S s")
    ap.add_argument("--trace-from-first-request", action="store_true",
                    help="the trace starts at the first request (READY.origin says when)")
    args = ap.parse_args()

    trace = Trace(args.trace)
    # The power supplies' rating: above the trace's peak, as on a real node.
    capacity = round(1.5 * max(trace.levels), -2)
    t0 = time.monotonic_ns()
    stall, errors, garbage = window(args.stall), window(args.errors), window(args.garbage)
    slow = window(args.slow)
    auth = ("Basic " + base64.b64encode(args.user.encode()).decode()) if args.user else None
    first = {"t": None}  # the first request: the faults' instant 0

    def now():
        return (time.monotonic_ns() - t0) / 1e9

    def since_first():
        if first["t"] is None:
            first["t"] = now()
            with open(args.ready + ".origin.tmp", "w") as f:
                json.dump({"t0_ns": t0 + int(first["t"] * 1e9)}, f)
            os.rename(args.ready + ".origin.tmp", args.ready + ".origin")
        return now() - first["t"]

    def shown(t):
        """(watts, kWh) on show at t: the last refresh's mean, its energy."""
        if args.trace_from_first_request:
            t -= first["t"] or 0.0
        k = int(t // args.refresh)
        hi = k * args.refresh
        if k <= 0:
            return trace.levels[0], 0.0
        e_hi = trace.energy_to(hi)
        return (e_hi - trace.energy_to(hi - args.refresh)) / args.refresh, e_hi / 3.6e6

    def doc(path, t):
        base = "/redfish/v1"
        if path in (base, base + "/"):
            return {"@odata.id": base, "Chassis": {"@odata.id": base + "/Chassis"}}
        if path == base + "/Chassis":
            return {"@odata.id": path, "Members@odata.count": args.chassis,
                    "Members": [{"@odata.id": "%s/Chassis/%d" % (base, i + 1)}
                                for i in range(args.chassis)]}
        parts = path[len(base):].strip("/").split("/")
        if len(parts) < 2 or parts[0] != "Chassis" or not parts[1].isdigit():
            return None
        i = int(parts[1])
        if not 1 <= i <= args.chassis:
            return None
        me = "%s/Chassis/%d" % (base, i)
        # Chassis 1 is the node; the others are enclosures inside it, unmetered.
        w, kwh = shown(t)
        if len(parts) == 2:
            d = {"@odata.id": me, "Id": str(i), "Name": "Chassis %d" % i}
            if i == 1 and args.schema in ("power", "both"):
                d["Power"] = {"@odata.id": me + "/Power"}
            if i == 1 and args.schema in ("env", "both"):
                d["EnvironmentMetrics"] = {"@odata.id": me + "/EnvironmentMetrics"}
            if i > 1:
                d["Links"] = {"ContainedBy": {"@odata.id": base + "/Chassis/1"}}
            return d
        if i == 1 and parts[2:] == ["Power"] and args.schema in ("power", "both"):
            return {"@odata.id": me + "/Power",
                    "PowerControl": [{"MemberId": "0", "PowerConsumedWatts": round(w, 3),
                                      "PowerCapacityWatts": capacity}]}
        if i == 1 and parts[2:] == ["EnvironmentMetrics"] and args.schema in ("env", "both"):
            d = {"@odata.id": me + "/EnvironmentMetrics", "PowerWatts": {"Reading": round(w, 3)}}
            if args.energy:
                d["EnergykWh"] = {"Reading": round(kwh, 9)}
            return d
        return None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, body, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            t, f = now(), since_first()
            if inside(stall, f):
                time.sleep(stall[0] + stall[1] - f)
                self.close_connection = True
                return
            if inside(slow, f):
                # A busy BMC: the answer comes, late, with the values of then.
                time.sleep(slow[0] + slow[1] - f)
                t = now()
            if auth and self.headers.get("Authorization") != auth:
                self.send(401, b'{"error": "unauthorized"}')
                return
            if inside(errors, f):
                self.send(503, b'{"error": "busy"}')
                return
            if inside(garbage, f):
                self.send(200, b'{"PowerControl": [{"PowerConsumedWatts": 12')
                return
            d = doc(self.path, t)
            if d is None:
                self.send(404, b'{"error": "not found"}')
                return
            self.send(200, json.dumps(d).encode())

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if args.die > 0:
        def die():
            while first["t"] is None or since_first() < args.die:
                time.sleep(0.01)
            os._exit(0)
        threading.Thread(target=die, daemon=True).start()
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": srv.server_address[1], "t0_ns": t0}, f)
    os.rename(tmp, args.ready)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
