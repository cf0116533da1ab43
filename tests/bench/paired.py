#!/usr/bin/env python3
"""ablab and llama.cpp side by side: the same GGUF files, the same threads, the same minutes.

For each round, each file and each thread count, llama.cpp and `ablab bench` measure pp512 and tg128
one right after the other, alternating which goes first. llama.cpp is its own `llama-bench` built from
source on this machine (`--llama-bench PATH`; the default is /tmp/llama.cpp/build/bin/llama-bench:
CMake Release, -DGGML_NATIVE=ON, no BLAS); its build commit, from llama-bench's own JSON, is printed
with the table. Without it, node-llama-cpp's prebuilt CPU build (tests/bench/llamacpp_pp_tg.mjs,
`--node-modules`) is the fallback, and the table says so: it is slower than a native build here. The ratio ablab / llama.cpp is taken within each such pair, so
the VM's minute-to-minute swings (10-30 %) cancel; the table gives the median ratio over the rounds,
its range, and the median tokens/s of each.

Files: the random-weight models with a tokenizer added (llama.cpp refuses a GGUF without one):
  build/src/ablab convert --model /tmp/gpt2-124m.gguf --out /tmp/gpt2-124m-tok.gguf \\
      --tokenizer ../shared/tokenizers/gpt2/tokenizer.json
  build/src/ablab convert --model /tmp/scratch.gguf --out /tmp/scratch-tok.gguf \\
      --tokenizer ../shared/tokenizers/llama2/tokenizer.bin
  then --quant copies of each (-tok-f16.gguf, -tok-q8_0.gguf, ... for every type in --quants).
  paired.py makes any that are missing.

ablab's side runs with --bound: each decode row also gives ablab's tokens/s as a share of the decode bound
(read bandwidth measured in that same call / bytes a step reads), the issue's "85 % of the bound" column.
GPT-2 XL: --shapes gpt2-xl --quants q8_0,q4_k_m --tests tg128 (its f32 file is 6.5 GB).

usage: tests/bench/paired.py [--rounds 3] [--reps 2] [--quants f32,f16,q8_0,q4_0,q4_k_m]
                             [--llama-bench /tmp/llama.cpp/build/bin/llama-bench | --node-modules DIR]
"""
import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {"gpt2-124m": (50257, "tokenizers/gpt2/tokenizer.json"), "scratch": (32000, "tokenizers/llama2/tokenizer.bin"),
          "gpt2-xl": (50257, "tokenizers/gpt2/tokenizer.json")}
DEFAULT_SHAPES = "gpt2-124m,scratch"  # gpt2-xl on request: 6.5 GB of f32 to make, minutes per round


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ablab", default="build/src/ablab")
    ap.add_argument("--maker", default="build/tests/make_random_gguf")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--llama-bench", default="/tmp/llama.cpp/build/bin/llama-bench")
    ap.add_argument("--llama-commit", help="llama.cpp's commit, when its build does not know it (a git archive)")
    ap.add_argument("--node-modules", default="/tmp/lcpp/node_modules")
    ap.add_argument("--quants", default="f32,f16,q8_0")
    ap.add_argument("--shapes", default=DEFAULT_SHAPES)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--tests", default="pp512,tg128", help="pp512, tg128 or both")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()

    files = []
    for shape in a.shapes.split(","):
        vocab, tok = SHAPES[shape]
        raw = os.path.join(a.dir, shape + ".gguf")
        base = os.path.join(a.dir, shape + "-tok.gguf")
        if not os.path.exists(raw):
            run([a.maker, shape, raw])
        if not os.path.exists(base):
            run([a.ablab, "convert", "--model", raw, "--out", base, "--tokenizer", os.path.join(a.shared, tok)])
        for q in a.quants.split(","):
            f = base if q == "f32" else os.path.join(a.dir, f"{shape}-tok-{q}.gguf")
            if not os.path.exists(f):
                run([a.ablab, "convert", "--model", base, "--out", f, "--quant", q])
            files.append((shape, q, vocab, f))

    env = dict(os.environ, NODE_PATH=a.node_modules)
    native = os.access(a.llama_bench, os.X_OK)
    anchor = {}
    pairs = {}  # (shape, q, t, test) -> [(ablab, llama.cpp)]
    bounds = {}  # (shape, q, t) -> [ablab tg / the decode bound ablab bench --bound measured in the same call]
    tests = a.tests.split(",")
    n_p = "512" if "pp512" in tests else "0"
    n_g = "128" if "tg128" in tests else "0"
    loads = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M")
    for r in range(a.rounds):
        for shape, q, vocab, f in files:
            for t in (int(x) for x in a.threads.split(",")):
                got = {}
                order = ("llama.cpp", "ablab") if (r + t) % 2 == 0 else ("ablab", "llama.cpp")
                for who in order:
                    if who == "ablab":
                        out = run([a.ablab, "bench", "--model", f, "-p", n_p, "-n", n_g, "-t", str(t), "-r",
                                   str(a.reps), "--format", "csv", "--no-record", "--bound"])
                        rows = list(csv.DictReader(io.StringIO(out)))
                        for c in rows:
                            got[("ablab", c["test"])] = float(c["tokens_per_s_mean"])
                            if c["test"].startswith("tg") and float(c["decode_bound_tok_s"] or 0) > 0:
                                bounds.setdefault((shape, q, t), []).append(
                                    float(c["tokens_per_s_mean"]) / float(c["decode_bound_tok_s"]))
                    elif native:
                        out = run([a.llama_bench, "-m", f, "-p", n_p, "-n", n_g, "-t", str(t), "-r", str(a.reps),
                                   "-o", "json"])
                        for row in json.loads(out):
                            test = f"pp{row['n_prompt']}" if row["n_gen"] == 0 else f"tg{row['n_gen']}"
                            got[("llama.cpp", test)] = float(row["avg_ts"])
                            anchor = {k: row.get(k) for k in ("build_commit", "build_number", "cpu_info", "backends")}
                    else:
                        out = run(["node", os.path.join(HERE, "llamacpp_pp_tg.mjs"), f, "-V", str(vocab), "-p", "512",
                                   "-n", "128", "-t", str(t), "-r", str(a.reps)], env)
                        for line in out.splitlines():
                            c = line.split(",")
                            if len(c) == 5:
                                got[("llama.cpp", c[2])] = float(c[3])
                for test in tests:
                    pairs.setdefault((shape, q, t, test), []).append((got[("ablab", test)], got[("llama.cpp", test)]))
                loads.append(os.getloadavg()[0])
        print(f"# round {r + 1}/{a.rounds} done", file=sys.stderr)

    if native:
        commit = anchor.get("build_commit")
        if commit in (None, "unknown"):
            commit = a.llama_commit or "unknown (its build has no git data: give --llama-commit)"
        who = (f"llama.cpp: native llama-bench {a.llama_bench}, commit {commit}, backends {anchor.get('backends')}, CPU {anchor.get('cpu_info')}")
    else:
        who = "llama.cpp: node-llama-cpp's PREBUILT CPU binary (fallback; slower than a native build here)"
    print(f"Measured {started}, {a.rounds} rounds, -r {a.reps} each side, pairs alternating who goes first; "
          f"1-minute load average {min(loads):.2f}-{max(loads):.2f}.\n{who}\n")
    print("| model | dtype | threads | test | ablab t/s (median) | llama.cpp t/s (median) | ratio (median of pairs) | "
          "ratio range | ablab decode / bound |")
    print("|---|---|---:|---|---:|---:|---:|---|---:|")
    worst = None
    for (shape, q, t, test), v in pairs.items():
        ratios = [x / y for x, y in v]
        med = statistics.median(ratios)
        worst = med if worst is None else min(worst, med)
        b = bounds.get((shape, q, t)) if test.startswith("tg") else None
        share = f"{100 * statistics.median(b):.0f} %" if b else ""
        print(f"| {shape} | {q} | {t} | {test} | {statistics.median(x for x, _ in v):.1f} | "
              f"{statistics.median(y for _, y in v):.1f} | {med:.2f}x | {min(ratios):.2f}-{max(ratios):.2f} | {share} |")
    print(f"\nLowest median ratio: {worst:.2f}x")


if __name__ == "__main__":
    main()
