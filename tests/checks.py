"""Shared by the Python test drivers (tests/*/test_*.py): numbered checks that print "ok - NAME" or
"FAIL - NAME" with the detail that explains the failure, and one closing "N passed, N failed" line
whose exit status is 1 on any failure, so a driver cannot report success after a failed check."""
import sys

passed = failed = 0


def check(name, cond, detail=""):
    """Records one check; returns cond so callers can stop a scenario early."""
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAIL - {name}")
        if detail != "":
            print("  " + str(detail).replace("\n", "\n  "))
    return cond


def finish(code_if_ok=0):
    """Prints the closing line and exits: 1 if any check failed, otherwise code_if_ok (77 tells
    meson the test was skipped)."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else code_if_ok)
