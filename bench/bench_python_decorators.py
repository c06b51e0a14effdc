#!/usr/bin/env python3
"""What a decorator adds to a window from Python: per call of an empty
function, Meter.window(name).end() against @meter.measure and
@joulestat.track_energy(meter=...). The fastest of 7 rounds of 20000 calls
each (a busy machine disturbs the fastest least).

Run against the NVML simulator, after `make`:
  JOULESTAT_NVML_LIBRARY=build/sim/nvml/libnvidia-ml.so.1 JSTSIM_NVML_GPUS=1 \\
  PYTHONPATH=build/bindings/python /usr/bin/python3 bench/bench_python_decorators.py
"""
import time

import joulestat

ROUNDS, CALLS = 7, 20000


def main():
    m = joulestat.Meter(backends=["nvml"], settle=False)

    @m.measure
    def measured():
        pass

    @joulestat.track_energy(meter=m)
    def tracked():
        pass

    def window_pair():
        m.window("x").end()

    for name, fn in (("window pair", window_pair), ("meter.measure", measured),
                     ("track_energy", tracked)):
        best = []
        for _ in range(ROUNDS):
            t = time.perf_counter_ns()
            for _ in range(CALLS):
                fn()
            best.append((time.perf_counter_ns() - t) / CALLS)
        print(f"{name}: {min(best):.0f} ns/call")
    m.close()


if __name__ == "__main__":
    main()
