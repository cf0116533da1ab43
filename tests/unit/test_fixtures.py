#!/usr/bin/env python3
"""The copies of shared data in tests/fixtures/shared are what tests/fixtures/README.md says: every
file listed in shared.sha256 is there with that hash, nothing unlisted is, the stand-in links
resolve inside the repository, and, when ../shared is present, each copy equals its original."""
import hashlib, os

from checks import check, finish

FIX = os.environ["TEST_DATA_DIR"]
SHARED = os.environ.get("SHARED_DIR", "")
ROOT = os.path.realpath(os.environ["ABLAB_SRC"])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


listed = {}
for line in open(os.path.join(FIX, "shared.sha256"), encoding="utf-8"):
    digest, rel = line.split(None, 1)
    listed[rel.strip()] = digest
check("shared.sha256 lists the copies", len(listed) > 10, len(listed))

bad = [rel for rel, d in listed.items() if not os.path.isfile(os.path.join(FIX, rel)) or sha256(os.path.join(FIX, rel)) != d]
check("every listed copy is there with its hash", not bad, bad)

on_disk = set()
for top in ("shared", "standin"):
    for dirpath, _, files in os.walk(os.path.join(FIX, top)):
        for f in files:
            on_disk.add(os.path.relpath(os.path.join(dirpath, f), FIX))
links = {rel for rel in on_disk if os.path.islink(os.path.join(FIX, rel))}
check("no unlisted file in shared/ or standin/ (links aside)", on_disk - links <= set(listed), sorted(on_disk - links - set(listed)))
outside = [rel for rel in links if not os.path.realpath(os.path.join(FIX, rel)).startswith(os.path.join(ROOT, "assets") + os.sep)
           or not os.path.isfile(os.path.join(FIX, rel))]
check("stand-in links resolve to the shipped models in assets/", links and not outside, (sorted(links), outside))

if SHARED and os.path.isdir(SHARED):
    differ = []
    for rel in listed:
        orig = os.path.join(SHARED, rel.split("/", 1)[1])
        if not os.path.isfile(orig) or sha256(orig) != listed[rel]:
            differ.append(rel)
    check(f"each copy equals its original in {SHARED}", not differ, differ)
else:
    print(f"# part not run: needs shared/* (the originals, to compare the copies with); SHARED_DIR={SHARED or 'unset'}")
finish()
