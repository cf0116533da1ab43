#!/usr/bin/env python3
"""The shipped default models pass the reference check path: `ablab logits` equals the logits
PyTorch computed when they were trained (tests/fixtures/default-models/, written by
tools/train/train.py) within 1e-3, and greedy generation gives PyTorch's greedy ids."""
import json, os, struct, subprocess, sys, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
FIX = os.path.join(os.environ["TEST_DATA_DIR"], "default-models")


for name in ("scratch-shakespeare", "gpt2-mini"):
    model = os.path.join(ASSETS, "models", name)
    g = json.load(open(os.path.join(FIX, name, "golden.json")))
    T, V = g["logits_shape"]
    ref = open(os.path.join(FIX, name, "logits.f32"), "rb").read()
    check(f"{name}: fixture has [T,V] floats", len(ref) == T * V * 4, len(ref))
    ids = ",".join(map(str, g["input_ids"]))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.f32")
        p = subprocess.run([BIN, "logits", "--model", model, "--ids", ids, "--out", out],
                           capture_output=True, text=True, timeout=300)
        check(f"{name}: ablab logits runs", p.returncode == 0, p.stderr)
        if p.returncode != 0:
            continue
        ours = open(out, "rb").read()
        check(f"{name}: ablab logits writes [T,V] floats", len(ours) == len(ref), len(ours))
        a = struct.unpack(f"<{T*V}f", ours)
        b = struct.unpack(f"<{T*V}f", ref)
        worst = max(abs(x - y) for x, y in zip(a, b))
        check(f"{name}: logits within 1e-3 of PyTorch (max diff {worst:.2e})", worst <= 1e-3, worst)
    p = subprocess.run([BIN, "generate", "--model", model, "--ids", ids, "--greedy",
                        "--max-tokens", str(len(g["greedy_new_ids"])), "--json"],
                       capture_output=True, text=True, timeout=300)
    try:
        got = json.loads(p.stdout)["ids"]
    except Exception as ex:
        got = f"{ex}: {p.stdout!r} {p.stderr!r}"
    check(f"{name}: greedy ids equal PyTorch's", got == g["greedy_new_ids"], got)

finish()
