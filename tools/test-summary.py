#!/usr/bin/env python3
"""Prints, after `meson test`, each test program's own summary lines (cmocka's "[  PASSED  ] N
test(s)." / "[  FAILED  ]", the python drivers' "N passed, N failed") and one closing line
"N passed, N failed, N skipped" over the individual test cases, so a CI log shows what ran."""
import json, re, sys

log = sys.argv[1]
cases_pass = cases_fail = cases_skip = 0
progs = {"OK": 0, "FAIL": 0, "SKIP": 0}
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
    print(f"  {d['name']:<40} {res:<5} {'; '.join(shown)}")
print(f"programs: {progs['OK']} ok, {progs['FAIL']} failed, {progs['SKIP']} skipped")
print(f"{cases_pass} passed, {cases_fail} failed, {cases_skip} skipped")
