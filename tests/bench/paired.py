#!/usr/bin/env python3
"""ablab and llama.cpp side by side: the same GGUF files, the same threads, the same minutes.

For each round, each file and each thread count, llama.cpp (tests/bench/llamacpp_pp_tg.mjs, through
node-llama-cpp's prebuilt CPU build) and `ablab bench` measure pp512 and tg128 one right after the
other, alternating which goes first. The ratio ablab / llama.cpp is taken within each such pair, so
the VM's minute-to-minute swings (10-30 %) cancel; the table gives the median ratio over the rounds,
its range, and the median tokens/s of each.

Files: the random-weight models with a tokenizer added (llama.cpp refuses a GGUF without one):
  build/src/ablab convert --model /tmp/gpt2-124m.gguf --out /tmp/gpt2-124m-tok.gguf \\
      --tokenizer ../shared/tokenizers/gpt2/tokenizer.json
  build/src/ablab convert --model /tmp/scratch.gguf --out /tmp/scratch-tok.gguf \\
      --tokenizer ../shared/tokenizers/llama2/tokenizer.bin
  then --quant f16 / q8_0 copies of each (-tok-f16.gguf, -tok-q8_0.gguf). paired.py makes any that
  are missing.

usage: tests/bench/paired.py [--rounds 3] [--reps 2] [--node-modules /tmp/lcpp/node_modules]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {"gpt2-124m": (50257, "tokenizers/gpt2/tokenizer.json"), "scratch": (32000, "tokenizers/llama2/tokenizer.bin")}


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
    ap.add_argument("--node-modules", default="/tmp/lcpp/node_modules")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()

    files = []
    for shape, (vocab, tok) in SHAPES.items():
        raw = os.path.join(a.dir, shape + ".gguf")
        base = os.path.join(a.dir, shape + "-tok.gguf")
        if not os.path.exists(raw):
            run([a.maker, shape, raw])
        if not os.path.exists(base):
            run([a.ablab, "convert", "--model", raw, "--out", base, "--tokenizer", os.path.join(a.shared, tok)])
        for q in ("f32", "f16", "q8_0"):
            f = base if q == "f32" else os.path.join(a.dir, f"{shape}-tok-{q}.gguf")
            if not os.path.exists(f):
                run([a.ablab, "convert", "--model", base, "--out", f, "--quant", q])
            files.append((shape, q, vocab, f))

    env = dict(os.environ, NODE_PATH=a.node_modules)
    pairs = {}  # (shape, q, t, test) -> [(ablab, llama.cpp)]
    loads = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M")
    for r in range(a.rounds):
        for shape, q, vocab, f in files:
            for t in (1, 2):
                got = {}
                order = ("llama.cpp", "ablab") if (r + t) % 2 == 0 else ("ablab", "llama.cpp")
                for who in order:
                    if who == "ablab":
                        out = run([a.ablab, "bench", "--model", f, "-p", "512", "-n", "128", "-t", str(t), "-r",
                                   str(a.reps), "--format", "csv", "--no-record"])
                        for line in out.splitlines()[1:]:
                            c = line.split(",")
                            got[("ablab", c[6])] = float(c[8])
                    else:
                        out = run(["node", os.path.join(HERE, "llamacpp_pp_tg.mjs"), f, "-V", str(vocab), "-p", "512",
                                   "-n", "128", "-t", str(t), "-r", str(a.reps)], env)
                        for line in out.splitlines():
                            c = line.split(",")
                            if len(c) == 5:
                                got[("llama.cpp", c[2])] = float(c[3])
                for test in ("pp512", "tg128"):
                    pairs.setdefault((shape, q, t, test), []).append((got[("ablab", test)], got[("llama.cpp", test)]))
                loads.append(os.getloadavg()[0])
        print(f"# round {r + 1}/{a.rounds} done", file=sys.stderr)

    print(f"Measured {started}, {a.rounds} rounds, -r {a.reps} each side, pairs alternating who goes first; "
          f"1-minute load average {min(loads):.2f}-{max(loads):.2f}.\n")
    print("| model | dtype | threads | test | ablab t/s (median) | llama.cpp t/s (median) | ratio (median of pairs) | "
          "ratio range |")
    print("|---|---|---:|---|---:|---:|---:|---|")
    worst = None
    for (shape, q, t, test), v in pairs.items():
        ratios = [x / y for x, y in v]
        med = statistics.median(ratios)
        worst = med if worst is None else min(worst, med)
        print(f"| {shape} | {q} | {t} | {test} | {statistics.median(x for x, _ in v):.1f} | "
              f"{statistics.median(y for _, y in v):.1f} | {med:.2f}x | {min(ratios):.2f}-{max(ratios):.2f} |")
    print(f"\nLowest median ratio: {worst:.2f}x")


if __name__ == "__main__":
    main()
