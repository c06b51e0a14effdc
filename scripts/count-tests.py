#!/usr/bin/env python3
"""Count test cases across meson test logs: cmocka and unittest report their
own cases; any other test counts as one. Prints 'N passed, N failed' last and
exits 1 when anything failed or nothing ran."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print(f"missing test log {path}: {e}")
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        skip = t.get("result") == "SKIP"
        cm_run = re.findall(r"\[=+\] (\d+) test\(s\) run", out)
        cm_fail = re.findall(r"\[  FAILED  \] (\d+) test\(s\)", out)
        py_run = re.findall(r"^Ran (\d+) tests?", out, re.M)
        py_bad = re.search(r"^FAILED \((.*)\)", out, re.M)
        if skip:
            continue
        if cm_run:
            n = sum(map(int, cm_run))
            f = sum(map(int, cm_fail))
        elif py_run:
            n = sum(map(int, py_run))
            f = 0
            if py_bad:
                f = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", py_bad.group(1)))
        else:
            n, f = 1, 0 if ok else 1
        if not ok and f == 0:
            f = 1  # crashed or timed out after its cases reported
            n = max(n, 1)
        passed += max(n - f, 0)
        failed += f
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
