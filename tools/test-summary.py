#!/usr/bin/env python3
"""Prints, after `meson test`, each test program's own summary lines (cmocka's "[  PASSED  ] N
test(s)." / "[  FAILED  ]", the python drivers' "N passed, N failed") and closing lines over the
individual test cases, so a CI log shows what ran:
    N passed, N failed, N skipped
and, when anything was skipped or left out, why, grouped by reason. A test says why in a line
"# skipped: needs shared/FILE ..." before it skips, or "# part not run: needs shared/FILE ..." when
it ran without one of its parts (tests/fixture.h, tests/checks.py); a whole program that exits 77
counts as one skip with its "SKIP: ..." or "skipped: ..." line as the reason."""
import json, re, sys
from collections import Counter

log = sys.argv[1]
cases_pass = cases_fail = cases_skip = 0
progs = {"OK": 0, "FAIL": 0, "SKIP": 0}
skip_why = Counter()     # reason -> skipped tests
part_why = Counter()     # reason -> tests that ran without a part
NEEDS = re.compile(r"^# (skipped|part not run): needs (shared/\S+?),? ")


def cmocka_skips(out, name):
    """Reasons of the cmocka tests skipped in one program's output: the last "# skipped: needs"
    line printed between a test's "[ RUN      ]" and its "[  SKIPPED ]" line."""
    why, running = None, False
    for l in out.splitlines():
        if l.startswith("[ RUN      ]"):
            why, running = None, True
            continue
        m = NEEDS.match(l)
        if m:
            if m.group(1) == "skipped":
                why = f"needs {m.group(2)}"
            else:
                part_why[f"needs {m.group(2)}"] += 1
        if running and re.match(r"^\[  SKIPPED \] \w+$", l):
            skip_why[why or f"{name}: gave no reason"] += 1
        if re.match(r"^\[ +(OK|FAILED|SKIPPED|ERROR) +\]", l):
            running = False


for line in open(log, encoding="utf-8", errors="replace"):
    d = json.loads(line)
    res = d["result"]
    progs[res if res in progs else "FAIL"] += 1
    out = (d.get("stdout") or "") + "\n" + (d.get("stderr") or "")
    shown = []
    for l in out.splitlines():
        if re.match(r"^\[  (PASSED|FAILED|SKIPPED) +\]", l) or re.match(r"^\d+ passed, \d+ failed", l) \
                or l.startswith("[==========] tests: "):
            shown.append(l.strip())
        m = re.match(r"^\[  PASSED  \] (\d+) test", l)
        if m: cases_pass += int(m.group(1))
        m = re.match(r"^\[  FAILED  \] (\d+) test", l)
        if m: cases_fail += int(m.group(1))
        m = re.match(r"^\[  SKIPPED \] (\d+) test", l)
        if m: cases_skip += int(m.group(1))
        m = re.match(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", l)
        if m:
            cases_pass += int(m.group(1)); cases_fail += int(m.group(2)); cases_skip += int(m.group(3) or 0)
    if res not in ("OK", "SKIP") and not shown:
        cases_fail += 1
    if res == "SKIP":
        # a whole program skipped (exit 77): one skip, its reason from its own message
        cases_skip += 1
        reason = None
        for l in out.splitlines():
            m = NEEDS.match(l)
            if m and m.group(1) == "skipped":
                reason = f"needs {m.group(2)}"
        if reason is None:
            said = [l.lstrip("# ").strip() for l in out.splitlines() if re.search(r"skip", l, re.I)]
            reason = said[-1] if said else None
        skip_why[f"{d['name']}: {reason or 'gave no reason'}"] += 1
        for l in out.splitlines():
            m = NEEDS.match(l)
            if m and m.group(1) == "part not run":
                part_why[f"needs {m.group(2)}"] += 1
    else:
        cmocka_skips(out, d["name"])   # and the parts not run, of cmocka and python drivers alike
    print(f"  {d['name']:<40} {res:<5} {'; '.join(shown)}")
print(f"programs: {progs['OK']} ok, {progs['FAIL']} failed, {progs['SKIP']} skipped")
print(f"{cases_pass} passed, {cases_fail} failed, {cases_skip} skipped")
for why, n in sorted(skip_why.items(), key=lambda x: (-x[1], x[0])):
    print(f"  skipped {n}: {why}")
for why, n in sorted(part_why.items(), key=lambda x: (-x[1], x[0])):
    print(f"  ran without a part, {n}: {why}")
if skip_why or part_why:
    print("  (the shared files live in ../shared beside the clone, or SHARED_DIR; tests/fixtures/README.md)")
