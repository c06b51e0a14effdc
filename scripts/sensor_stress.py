#!/usr/bin/python3
"""How the sensor model copes with slow driver reads and jittered latches, on the
NVML simulator (JSTSIM_NVML_READ_US, JSTSIM_NVML_LATCH_JITTER_MS): for each
configuration, a meter opened through the Python package, how long it took to
settle, the refresh it learnt, and the coverage of the stated ± over windows of a
sweep of lengths against the simulator's exact truth.

    scripts/sensor_stress.py [--windows N] [TICK_MS:READ_US[:SPREAD]:JITTER_MS ...]

Needs a build (build/ by default, or $JOULESTAT_BUILD) with the Python package."""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
BUILD = os.environ.get("JOULESTAT_BUILD", os.path.join(HERE, "..", "build"))
os.environ.setdefault("JOULESTAT_PYPKG", os.path.join(BUILD, "bindings", "python"))
os.environ.setdefault("JOULESTAT_NVML_SIM", os.path.join(BUILD, "sim", "nvml",
                                                         "libnvidia-ml.so.1"))


def one(tick, read, jitter, windows):
    from common import truth_energy
    d = tempfile.mkdtemp(prefix="jst-stress-")
    env = {"JSTSIM_NVML_GPUS": "1", "JSTSIM_NVML_TRACE": "const:300",
           "JSTSIM_NVML_COUNTER_TICK_MS": str(tick), "JSTSIM_NVML_READ_US": read,
           "JSTSIM_NVML_LATCH_JITTER_MS": str(jitter),
           "JSTSIM_NVML_TRUTH": os.path.join(d, "t.json"),
           "JOULESTAT_SYSFS_ROOT": d, "JOULESTAT_DEVFS_ROOT": d}
    os.environ.update(env)
    sys.path.insert(0, os.environ["JOULESTAT_PYPKG"])
    import joulestat
    t0 = time.monotonic()
    m = joulestat.Meter(backends="nvml", nvml_library=os.environ["JOULESTAT_NVML_SIM"],
                        settle=False, allow_estimate=False)
    try:
        m.settle(4000)
        settled = "settled"
    except joulestat.JoulestatError as e:
        settled = f"not settled ({e})"
    t_settle = time.monotonic() - t0
    dom = [x for x in m.domains() if x["name"] == "gpu0"][0]
    res = []
    lengths = [0.003, 0.011, 0.037, 0.08, 0.15, 0.33]
    for i in range(windows):
        ln = lengths[i % len(lengths)]
        w = m.window("w")
        w.__enter__()
        time.sleep(ln)
        w.__exit__(None, None, None)
        ms = w.measurement
        g = [x for x in ms.domains if x.name == "gpu0"][0]
        res.append((ms.begin_ns, ms.end_ns, g.energy, g.uncertainty))
        nogrid = "no latch grid" in (g.note or "")
    m.close()
    import json
    truth = json.load(open(os.path.join(d, "t.json")))
    inside = 0
    worst = 0
    for b, e, en, u in res:
        t = truth_energy("const:300", (b - truth["start_ns"]) * 1e-9,
                         (e - truth["start_ns"]) * 1e-9)
        inside += abs(en - t) <= u
        if abs(en - t) > u and os.environ.get("STRESS_VERBOSE"):
            print(f"  missed: {(e - b) * 1e-6:.3f} ms window, {en:.4f} ± {u:.4f} J, "
                  f"truth {t:.4f} J")
        worst = max(worst, abs(en - t) / u if u else float("inf"))
    print(f"tick {tick:>3} ms read {read:>8} us jitter {jitter:>2} ms: {settled} in "
          f"{t_settle:.2f} s, refresh {dom['refresh_s'] * 1e3:.2f} ms"
          f"{' (no grid)' if nogrid else ''}, coverage "
          f"{inside}/{len(res)}, worst |error|/± {worst:.2f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=60)
    ap.add_argument("configs", nargs="*")
    a = ap.parse_args()
    configs = a.configs or ["100:0:0", "100:500:0", "100:1000:0", "10:500:0", "100:0:20",
                            "100:0:40"]
    import subprocess
    for c in configs:
        p = c.split(":")
        tick, read, jitter = p[0], p[1] if len(p) < 4 else p[1] + ":" + p[2], p[-1]
        # One process each: the simulator reads its settings at init.
        r = subprocess.run([sys.executable, __file__, "--one", tick, read, jitter,
                            str(a.windows)], env=os.environ)
        if r.returncode:
            print(f"{c}: failed ({r.returncode})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
