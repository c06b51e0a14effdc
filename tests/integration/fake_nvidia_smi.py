#!/usr/bin/env python3
"""A stand-in `nvidia-smi` for tests/integration/test_validate_gpu.py: the GPU of
sim/nvml seen through nvidia-smi's query interface, drawing a constant power.

Only reading queries are answered, as scripts/validate-gpu uses them:

    nvidia-smi -i N --query-gpu=F[,F...] --format=csv[,noheader][,nounits] [-lms MS | -l S]

Once (no -lms/-l): one line of values. Logging (-lms/-l): the header (unless
noheader), then a row every period, flushed, until killed. Values are computed
at the row's instant t (wall-clock) from the power P(t) (see below):
power.draw and power.draw.instant are P(t) in W (no 1-second averaging);
total_energy_consumption is base + the exact integral of P since this process
started, in mJ; timestamp is t in local time as nvidia-smi prints it
(YYYY/MM/DD HH:MM:SS.mmm).

Anything else (an option that changes the GPU, an unknown option) is refused with
exit status 2, so a test sees it. Environment:

  JSTSIM_NVML_GPUS            how many GPUs (as the simulator; default 1)
  JSTSIM_NVML_TRACE           const:W sets P (as the simulator; default 300)
  FAKE_NVIDIA_SMI_POWER_W     P, overriding the trace; GPU k draws P x (1 - 0.05 k)
  FAKE_NVIDIA_SMI_STEP        FILE:W: once FILE exists and starts with a wall-clock time T
                              (seconds since the epoch, as `date +%s.%N` prints), the
                              power is W (x (1 - 0.05 k)) from T on
  FAKE_NVIDIA_SMI_FIELDS      comma list of the fields this "driver" knows (default: all
                              below); others are "not a valid field", exit status 2
  FAKE_NVIDIA_SMI_NA          comma list of known fields whose value is [N/A]
  FAKE_NVIDIA_SMI_LOG         append each invocation's argv to this file (JSON, a line each)
"""
import datetime
import json
import os
import sys
import time

NAME = "NVIDIA H100 80GB HBM3 (sim)"
DRIVER = "550.54.15-sim"
BASE_MJ = 123456789
UNITS = {"power.draw": "W", "power.draw.instant": "W", "power.draw.average": "W",
         "total_energy_consumption": "mJ"}


def fail(msg, status=2):
    print(msg)
    sys.exit(status)


def base_power_w():
    p = os.environ.get("FAKE_NVIDIA_SMI_POWER_W")
    if p is None:
        trace = os.environ.get("JSTSIM_NVML_TRACE", "const:300")
        p = trace.split(":", 1)[1] if trace.startswith("const:") else "300"
    return float(p)


def step():
    """(T, W) of FAKE_NVIDIA_SMI_STEP once its file holds T, else None."""
    spec = os.environ.get("FAKE_NVIDIA_SMI_STEP")
    if not spec:
        return None
    path, _, watts = spec.rpartition(":")
    try:
        with open(path) as f:
            return float(f.read().split()[0]), float(watts)
    except (OSError, ValueError, IndexError):
        return None


class Gpu:
    def __init__(self, index, started):
        self.index = index
        self.scale = 1 - 0.05 * index
        self.started = started

    def power_w(self, t):
        s = step()
        return self.scale * (s[1] if s and t >= s[0] else base_power_w())

    def energy_j(self, t):
        """Exact integral of the power from this process's start to t."""
        p0, s = base_power_w(), step()
        e = p0 * (t - self.started)
        if s:
            e += (s[1] - p0) * max(0.0, t - max(s[0], self.started))
        return self.scale * e

    def value(self, field, t, units):
        if field in os.environ.get("FAKE_NVIDIA_SMI_NA", "").split(","):
            return "[N/A]"
        if field == "timestamp":
            return datetime.datetime.fromtimestamp(t).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        if field == "name":
            return NAME
        if field == "uuid":
            return "GPU-5a1c0000-0000-4000-8000-%012x" % self.index
        if field == "driver_version":
            return DRIVER
        if field == "index":
            return str(self.index)
        if field.startswith("power.draw"):
            text = "%.2f" % self.power_w(t)
        elif field == "total_energy_consumption":
            text = "%d" % (BASE_MJ + 1000003 * self.index + self.energy_j(t) * 1000)
        else:
            raise AssertionError(field)
        return text + " " + UNITS[field] if units else text


def main(argv):
    log = os.environ.get("FAKE_NVIDIA_SMI_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(argv) + "\n")
    index, fields, fmt, period = None, None, None, None
    args = list(argv)
    while args:
        a = args.pop(0)
        key, eq, val = a.partition("=")
        if key in ("-i", "--id", "--query-gpu", "--format", "-lms", "--loop-ms", "-l", "--loop"):
            if not eq:
                if not args:
                    fail("Option %s needs an argument." % a)
                val = args.pop(0)
            if key in ("-i", "--id"):
                index = val
            elif key == "--query-gpu":
                fields = val.split(",")
            elif key == "--format":
                fmt = val.split(",")
            elif key in ("-lms", "--loop-ms"):
                period = int(val) / 1000.0
            else:
                period = float(val)
        else:
            fail("fake nvidia-smi: refuses %r (it answers reading queries only)" % a)
    if fields is None or fmt is None or fmt[0] != "csv":
        fail("fake nvidia-smi: needs --query-gpu=... --format=csv[,...]")
    gpus = int(os.environ.get("JSTSIM_NVML_GPUS", "1"))
    indices = range(gpus) if index is None else [int(index)] if index.isdigit() else []
    if not indices or indices[0] >= gpus:
        fail("No devices were found", 6)
    known = os.environ.get("FAKE_NVIDIA_SMI_FIELDS")
    known = known.split(",") if known else ["timestamp", "name", "uuid", "driver_version",
                                           "index"] + list(UNITS)
    for f in fields:
        if f not in known:
            fail('Field "%s" is not a valid field to query.' % f)
    units = "nounits" not in fmt
    if "noheader" not in fmt:
        print(", ".join(f + (" [%s]" % UNITS[f] if f in UNITS and units else "")
                        for f in fields), flush=True)

    started = time.time()
    selected = [Gpu(i, started) for i in indices]

    def rows():
        t = time.time()
        for gpu in selected:
            print(", ".join(gpu.value(f, t, units) for f in fields), flush=True)

    if period is None:
        rows()
        return
    next_t = time.monotonic()
    while True:
        rows()
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))


if __name__ == "__main__":
    main(sys.argv[1:])
