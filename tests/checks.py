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


def shared_file(rel):
    """The path of a data file (or folder) named by its place in the project's shared folder
    (../shared, $SHARED_DIR), or None. Looked for as tests/fixture.h does: a byte-identical copy in
    tests/fixtures/shared/, then $SHARED_DIR, then a stand-in in tests/fixtures/standin/."""
    import os
    data, shared = os.environ.get("TEST_DATA_DIR", ""), os.environ.get("SHARED_DIR", "")
    for base in (os.path.join(data, "shared") if data else "", shared, os.path.join(data, "standin") if data else ""):
        if base and os.path.exists(os.path.join(base, rel)):
            return os.path.join(base, rel)
    return None


def say_missing(what, rel):
    """Prints which shared file a skipped test ("skipped") or a part of one ("part not run")
    needs, in the form tools/test-summary.py groups."""
    import os
    print(f"# {what}: needs shared/{rel}, which is too large to ship in tests/fixtures and absent from "
          f"SHARED_DIR ({os.environ.get('SHARED_DIR') or 'unset'})")


def need_shared(*rels):
    """The paths of rels; when one is nowhere, names it and exits 77 (skipped)."""
    paths = []
    for rel in rels:
        p = shared_file(rel)
        if p is None:
            say_missing("skipped", rel)
            finish(77)
        paths.append(p)
    return paths
