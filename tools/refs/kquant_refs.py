#!/usr/bin/env python3
"""llama.cpp's references for the 4/5-bit and k-quant types (issue 17): what llama-quantize writes and
what llama.cpp computes on it, for tests/gguf/test_kquant.py.

Needs a native llama.cpp build (llama-quantize; commit c392e509 was used) and LCLOGITS, a ten-line
program over llama.h that writes the logits of every position: `lclogits MODEL.gguf OUT THREADS
id,id,...` -> [T][V] little-endian float32 (llama_batch with logits on for every token, n_ctx = n_batch
= n_ubatch = T, default context parameters otherwise; not committed here, as no llama.cpp code is).

    python3 tools/refs/kquant_refs.py --llama-bin /tmp/llama.cpp/build/bin --lclogits /tmp/lcl/lclogits \\
        [--ablab build/src/ablab] [--write]      # the shipped scratch-shakespeare; --write: the fixtures
    python3 tools/refs/kquant_refs.py ... --model /tmp/gpt2-124m-f32.gguf   # any other f32 GGUF: the table

--self also runs llama.cpp on each file one token per llama_decode (LCLOGITS with LC_SEQ=1 in its
environment decodes that way; the KV cache carries the positions) and prints how far llama.cpp's own
two ways of computing the same logits lie apart, against the file's own error: the floor for any
engine whose float additions are not llama.cpp's, in llama.cpp's order, bit for bit.

For every preset: llama-quantize the f32 file ablab writes, check that `ablab convert --quant` writes
the same bytes, and compare ablab's logits on that file with llama.cpp's: mean |ablab - llama.cpp|
against the file's own error (mean |llama.cpp on it - llama.cpp on f32|) and the share of positions
whose top token agrees. --write stores, per preset, the sha256 of llama-quantize's file, llama.cpp's
top token at every position and its logits at every position for a fixed subset of the vocabulary
(every SUB_STRIDE-th id): tests/fixtures/ref/kquant/scratch-shakespeare.json and .f32.
"""
import argparse, hashlib, json, os, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESETS = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k"]
TEXT = ("ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet is the sun. "
        "Arise, fair sun, and kill the envious moon, who is already sick and pale with grief, that thou her "
        "maid art far more fair than she.")
SUB_STRIDE = 64


def sh(*args, env=None):
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if p.returncode:
        sys.exit(f"{' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p.stdout


def floats(path):
    with open(path, "rb") as f:
        d = f.read()
    return struct.unpack(f"<{len(d) // 4}f", d)


def rows(a, V):
    return [a[i * V:(i + 1) * V] for i in range(len(a) // V)]


def argmax(r):
    return max(range(len(r)), key=r.__getitem__)


def mad(x, y):
    n = sum(len(r) for r in x)
    return sum(abs(p - q) for r, s in zip(x, y) for p, q in zip(r, s)) / n


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--lclogits", required=True)
    ap.add_argument("--ablab", default=os.path.join(ROOT, "build/src/ablab"))
    ap.add_argument("--model", help="an f32 GGUF written by ablab convert (default: the shipped scratch model)")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--ids", help="token ids a,b,c (default: TEXT under the model's tokenizer)")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--self", action="store_true", help="also llama.cpp one token at a time against its batch")
    a = ap.parse_args()
    env = dict(os.environ, LD_LIBRARY_PATH=a.llama_bin)
    tmp = tempfile.mkdtemp()
    src = os.path.join(ROOT, "assets/models/scratch-shakespeare")
    f32 = a.model or os.path.join(tmp, "f32.gguf")
    if not a.model:
        sh(a.ablab, "convert", "--model", src, "--out", f32)
    ids = a.ids.split(",") if a.ids else sh(a.ablab, "tokenize", "--model", src if not a.model else f32, TEXT).split()
    idarg = ",".join(ids)
    lf = os.path.join(tmp, "lc-f32.bin")
    sh(a.lclogits, f32, lf, a.threads, idarg, env=env)
    ref = floats(lf)
    V = len(ref) // len(ids)
    ref = rows(ref, V)
    out = {"text": TEXT, "ids": [int(i) for i in ids], "vocab": V, "sub_stride": SUB_STRIDE,
           "llama_cpp": "c392e509", "presets": {}}
    blobs = [[r[j] for j in range(0, V, SUB_STRIDE)] for r in ref]
    print(f"{'preset':8} {'bytes':>10} {'same bytes':>10} {'own error':>10} {'|ablab-llama.cpp|':>18} {'ratio':>6} {'top-1':>6}"
          + (f" {'|llama.cpp seq-batch|':>22} {'ratio':>6}" if a.self else ""))
    for p in PRESETS:
        lq = os.path.join(tmp, f"lc-{p}.gguf")
        sh(os.path.join(a.llama_bin, "llama-quantize"), f32, lq, p.upper(), env=env)
        same = "-"
        if not a.model:
            aq = os.path.join(tmp, f"ab-{p}.gguf")
            sh(a.ablab, "convert", "--model", src, "--out", aq, "--quant", p)
            same = "yes" if sha256(aq) == sha256(lq) else "NO"
        ll, al = os.path.join(tmp, f"lc-{p}.bin"), os.path.join(tmp, f"ab-{p}.bin")
        sh(a.lclogits, lq, ll, a.threads, idarg, env=env)
        sh(a.ablab, "logits", "--model", lq, "--ids", idarg, "--out", al, "--threads", a.threads)
        lc, ab = rows(floats(ll), V), rows(floats(al), V)
        own, diff = mad(lc, ref), mad(ab, lc)
        top = sum(argmax(x) == argmax(y) for x, y in zip(ab, lc)) / len(lc)
        line = f"{p:8} {os.path.getsize(lq):>10} {same:>10} {own:>10.4g} {diff:>18.4g} {diff / own:>6.3f} {100 * top:>5.1f}%"
        if a.self:
            sl = os.path.join(tmp, f"lc-{p}-seq.bin")
            sh(a.lclogits, lq, sl, a.threads, idarg, env=dict(env, LC_SEQ="1"))
            selfd = mad(rows(floats(sl), V), lc)
            line += f" {selfd:>22.4g} {selfd / own:>6.3f}"
        print(line)
        out["presets"][p] = {"sha256": sha256(lq), "bytes": os.path.getsize(lq), "top": [argmax(r) for r in lc],
                             "own_error": own, "ablab_vs_llama_cpp": diff}
        blobs += [[r[j] for j in range(0, V, SUB_STRIDE)] for r in lc]
    if a.write:
        d = os.path.join(ROOT, "tests/fixtures/ref/kquant")
        os.makedirs(d, exist_ok=True)
        out["logits_file"] = "scratch-shakespeare.f32"
        out["logits_layout"] = "[1 + presets][positions][vocab / sub_stride] float32: f32 first, then presets in order"
        out["preset_order"] = PRESETS
        with open(os.path.join(d, "scratch-shakespeare.json"), "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        with open(os.path.join(d, "scratch-shakespeare.f32"), "wb") as f:
            for r in blobs:
                f.write(struct.pack(f"<{len(r)}f", *r))
        print("wrote", d)


if __name__ == "__main__":
    main()
