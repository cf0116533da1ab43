#!/usr/bin/env python3
"""ablab against the llama.cpp anchors of ../shared/perf/README.md, robust to a noisy machine.

These VMs vary 10-30 % from one minute to the next, so one `ablab bench` run says little. This
script runs the whole matrix (GPT-2 124M and the scratch shape; F32, F16, Q8_0; 1 and 2 threads;
pp512 and tg128) ROUNDS times, one precision after another in each round so that every cell is
sampled at several moments, and prints a markdown table: the median over the rounds of each
run's mean, the range, the llama.cpp figure, their ratio, and tg128 as a percentage of the
decode bound, both the perf README's and the one measured in the same run (`--bound`).

usage: tests/bench/compare.py [--ablab build/src/ablab] [--rounds 5] [--dir /tmp] [--reps 3]
The random-weight models are made with build/tests/make_random_gguf when missing.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# ../shared/perf/README.md: llama.cpp b4747, CPU build, random weights: (pp512, tg128, decode bound)
# per threads; the bound is that README's read bandwidth over the bytes a token reads.
ANCHORS = {
    ("gpt2-124m", "f32"): {1: (460, 48.1, 72), 2: (780, 80.1, 134)},
    ("gpt2-124m", "f16"): {1: (545, 94.3, 139), 2: (978, 114.6, 280)},
    ("gpt2-124m", "q8_0"): {1: (490, 152.6, 270), 2: (831, 166.5, 603)},
    ("scratch", "f32"): {1: (309, 31.8, 54), 2: (552, 60.0, 98)},
    ("scratch", "f16"): {1: (370, 67.8, 103), 2: (635, 83.7, 201)},
    ("scratch", "q8_0"): {1: (318, 116.3, 195), 2: (522, 129.0, 384)},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ablab", default="build/src/ablab")
    ap.add_argument("--maker", default="build/tests/make_random_gguf")
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()

    models = {}
    for shape in ("gpt2-124m", "scratch"):
        path = os.path.join(a.dir, shape + ".gguf")
        if not os.path.exists(path):
            subprocess.run([a.maker, shape, path], check=True)
        models[shape] = path

    cells = {}  # (shape, quant, threads, test) -> [tokens/s per round]
    bounds = {}  # (shape, quant, threads) -> [decode bound per round]
    info = {}
    started = time.strftime("%Y-%m-%d %H:%M")
    loads = [os.getloadavg()[0]]
    for r in range(a.rounds):
        for quant in ("f32", "f16", "q8_0"):
            cmd = [a.ablab, "bench", "--model", models["gpt2-124m"], "--model", models["scratch"], "-p", "512",
                   "-n", "128", "-t", "1,2", "-r", str(a.reps), "--quant", quant, "--bound", "--format", "json",
                   "--no-record"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            for row in json.loads(out):
                shape = os.path.splitext(row["model"])[0]
                key = (shape, quant, row["threads"], row["test"])
                cells.setdefault(key, []).append(row["tokens_per_s"])
                if row["test"].startswith("tg"):
                    bounds.setdefault((shape, quant, row["threads"]), []).append(row["decode_bound_tok_s"])
                info = row
            loads.append(os.getloadavg()[0])
        print(f"# round {r + 1}/{a.rounds} done", file=sys.stderr)

    print(f"Measured {started}, {a.rounds} rounds x -r {a.reps}; CPU {info.get('cpu')}, OpenBLAS core "
          f"{info.get('openblas_core')}, kernels {info.get('kernels')}, build {info.get('build')}; "
          f"1-minute load average {min(loads):.2f}-{max(loads):.2f}.\n")
    print("| model | dtype | threads | test | ablab t/s (median) | range over rounds | llama.cpp | ratio | "
          "decode bound (perf README) | % of it | bound measured here (median) | % of it |")
    print("|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
    worst = None
    for (shape, quant), per_t in ANCHORS.items():
        for t in (1, 2):
            for ti, test in enumerate(("pp512", "tg128")):
                v = cells.get((shape, quant, t, test), [])
                if not v:
                    continue
                med = statistics.median(v)
                ref = per_t[t][ti]
                ratio = med / ref
                worst = ratio if worst is None else min(worst, ratio)
                bound = pct = abound = apct = ""
                if test == "tg128":
                    b = statistics.median(bounds[(shape, quant, t)])
                    bound, pct = f"{b:.0f}", f"{100 * med / b:.0f} %"
                    abound, apct = f"{per_t[t][2]}", f"{100 * med / per_t[t][2]:.0f} %"
                print(f"| {shape} | {quant} | {t} | {test} | {med:.1f} | {min(v):.1f}-{max(v):.1f} | {ref} | "
                      f"{ratio:.2f}x | {abound} | {apct} | {bound} | {pct} |")
    if worst is not None:
        print(f"\nLowest ratio: {worst:.2f}x")


if __name__ == "__main__":
    main()
