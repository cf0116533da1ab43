#!/usr/bin/env python3
"""Fill the "Samples from ablab generate" section of each default model's MODEL_CARD.md.

Runs the built `ablab` binary (no Python ML libraries needed) on every model that train.py
makes: checks the golden fixture (tokenizer ids, logits within 1e-3, 24 greedy ids), then
generates the card's sample prompts greedy and sampled, and writes them into the card next to
PyTorch's, saying where ablab's greedy text and PyTorch's agree.

    python3 tools/train/ablab_samples.py --ablab build/src/ablab
"""

import argparse
import array
import ast
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SECTION = "## Samples from ablab generate"
NEXT = "## Golden test fixture"


def recipes():
    """RECIPES from train.py, read without importing it (that would need torch)."""
    tree = ast.parse(open(os.path.join(HERE, "train.py"), encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RECIPES" for t in node.targets):
            # dict(...) calls and literals only: evaluate with nothing else in scope.
            return eval(compile(ast.Expression(node.value), "train.py", "eval"),
                        {"__builtins__": {}, "dict": dict})
    raise SystemExit("train.py: RECIPES not found")


def ablab(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"ablab {' '.join(args[:3])}...: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def check_golden(binary, model, golden_dir, tmp):
    g = json.load(open(os.path.join(golden_dir, "golden.json"), encoding="utf-8"))
    ids = [int(t) for t in ablab(binary, "tokenize", "--model", model, g["prompt"]).split()]
    if ids != g["input_ids"]:
        raise SystemExit(f"{model}: ablab tokenize {ids} != golden {g['input_ids']}")
    csv = ",".join(map(str, ids))
    ablab(binary, "logits", "--model", model, "--ids", csv, "--out", tmp, "--threads", "2")
    ours = array.array("f", open(tmp, "rb").read())
    ref = array.array("f", open(os.path.join(golden_dir, "logits.f32"), "rb").read())
    if sys.byteorder != "little":
        ours.byteswap()
        ref.byteswap()
    if len(ours) != len(ref):
        raise SystemExit(f"{model}: {len(ours)} logits, golden has {len(ref)}")
    diff = max(abs(a - b) for a, b in zip(ours, ref))
    gen = json.loads(ablab(binary, "generate", "--model", model, "--ids", csv, "--greedy",
                           "--max-tokens", "24", "--json", "--threads", "2"))
    return diff, gen["ids"] == g["greedy_new_ids"], len(ids)


def pytorch_greedy(card, i):
    """The PyTorch greedy text of prompt i, as train.py wrote it (the first text block)."""
    m = re.search(r"### Prompt %d: .*?\nGreedy:\n\n```text\n(.*?)\n```" % i, card, re.S)
    return m.group(1).replace("`\u200b``", "```") if m else None


def fence(text):
    return "```text\n" + text.replace("```", "`\u200b``") + "\n```"


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ablab", default=os.path.join(REPO, "build", "src", "ablab"))
    ap.add_argument("--models", default=os.path.join(REPO, "assets", "models"))
    ap.add_argument("--golden", default=os.path.join(REPO, "tests", "fixtures", "default-models"))
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--max-tokens", type=int, default=120)
    args = ap.parse_args()
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    version = ablab(args.ablab, "--version").strip()

    for name, r in recipes().items():
        model = os.path.join(args.models, name)
        card_path = os.path.join(model, "MODEL_CARD.md")
        card = open(card_path, encoding="utf-8").read()
        diff, greedy_ok, n_prompt = check_golden(args.ablab, model, os.path.join(args.golden, name),
                                                 f"/tmp/ablab-samples-{name}.f32")
        sampling = ["--temp", "0.8", "--top-k", "50", "--top-p", "1", "--min-p", "0",
                    "--repeat-penalty", "1"]
        out = [SECTION, ""]
        out.append(f"Made with `{version}` (repository commit {commit}) on the CPU, F16 weights upcast to "
                   f"float32: `ablab generate --model assets/models/{name} --prompt P --max-tokens "
                   f"{args.max_tokens}` with `--greedy`, and with `{' '.join(sampling)} --seed {args.seed}+i` "
                   "for the i-th prompt. ablab's sampler draws from its own random generator, so the sampled "
                   "text differs from PyTorch's; the greedy text should not. Unedited.\n")
        out.append(f"Golden check: ablab's token ids for the fixture prompt equal transformers' ({n_prompt} "
                   f"tokens), its logits are within {diff:.1e} of `logits.f32` (tolerance 1e-3), and its 24 "
                   f"greedy ids {'equal' if greedy_ok else 'DIFFER FROM'} the fixture's.\n")
        for i, p in enumerate(r["sample_prompts"]):
            g = json.loads(ablab(args.ablab, "generate", "--model", model, "--prompt", p, "--greedy",
                                 "--max-tokens", str(args.max_tokens), "--json", "--threads", "2"))
            s = json.loads(ablab(args.ablab, "generate", "--model", model, "--prompt", p, *sampling,
                                 "--seed", str(args.seed + i), "--max-tokens", str(args.max_tokens),
                                 "--json", "--threads", "2"))
            ours, theirs = p + g["text"], pytorch_greedy(card, i)
            if theirs is None:
                same = "no PyTorch greedy text to compare with"
            elif ours == theirs:
                same = "identical to PyTorch's greedy text above"
            else:
                k = common_prefix(ours, theirs)
                same = (f"agrees with PyTorch's for the first {k} characters, then differs (near-tied "
                        "logits can break either way in float32)")
            out.append(f"### Prompt {i}: {json.dumps(p)}\n")
            out.append(f"Greedy ({same}):\n")
            out.append(fence(ours))
            out.append("\nSampled:\n")
            out.append(fence(p + s["text"]))
            out.append("")
            print(f"{name} prompt {i}: greedy {same}")
        a, b = card.index(SECTION), card.index(NEXT)
        card = card[:a] + "\n".join(out) + "\n" + card[b:]
        with open(card_path, "w", encoding="utf-8") as f:
            f.write(card)
        print(f"{name}: logits max diff {diff:.2e}, greedy ids {'ok' if greedy_ok else 'DIFFER'}")


if __name__ == "__main__":
    main()
