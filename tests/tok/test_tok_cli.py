#!/usr/bin/env python3
"""Drives `ablab tokenize` and `ablab detokenize` on the golden tokenizers (tests/fixtures: the
Hugging Face ones, and GPT-2's files as the shipped gpt2-mini carries them)."""
import json, os, subprocess, sys

from checks import check, finish, need_shared

BIN = os.environ["ABLAB_BIN"]

def run(*args, stdin=None):
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# usage errors need no data
rc, out, err = run("tokenize", "hello")
check("tokenize without --model/--tokenizer: exit 2", rc == 2 and "--model" in err, (rc, err))
rc, out, err = run("tokenize", "--model", "/nonexistent", "--tokenizer", "/x", "hi")
check("both --model and --tokenizer: exit 2", rc == 2, (rc, err))
rc, out, err = run("detokenize", "--model", "/nonexistent")
check("detokenize without ids: exit 2", rc == 2 and "IDS" in err, (rc, err))
rc, out, err = run("tokenize", "--model", "/nonexistent/folder", "hi")
check("missing model: exit 1 with the path", rc == 1 and "/nonexistent/folder" in err, (rc, err))
rc, out, err = run("help", "tokenize")
check("help tokenize", rc == 0 and out.startswith("usage: ablab tokenize"), out)

NAMES = ["gpt2-tokenizer", "spm-bpe-tokenizer", "bytelevel-bpe-tokenizer"]
FOLDERS = dict(zip(NAMES, need_shared(*(f"golden/{n}" for n in NAMES))))
llama, stories = need_shared("golden/llama-tiny-gqa", "models/stories260K/stories260K.bin")

for name in NAMES:
    model = FOLDERS[name]
    gold = json.load(open(os.path.join(model, "encode_golden.json")))
    # each call loads the tokenizer (GPT-2's 3.5 MB JSON is slow under ASan): a few entries here, all in test_tokenizer
    gold = gold[:1] if name == "gpt2-tokenizer" else gold[:4]
    ok_enc = ok_dec = True
    for g in gold:
        rc, out, err = run("tokenize", "--model", model, "-", stdin=g["text"].encode())
        ok_enc &= rc == 0 and [int(x) for x in out.split()] == g["ids"]
        if g["ids"]:
            rc, out, err = run("detokenize", "--model", model, *map(str, g["ids"]))
            ok_dec &= rc == 0 and out == g["decoded"] + "\n"
    check(f"{name}: tokenize matches the golden entries (stdin)", ok_enc)
    check(f"{name}: detokenize matches the golden entries", ok_dec)

m = FOLDERS["bytelevel-bpe-tokenizer"]  # small: quick to load, even under ASan
rc, out, err = run("tokenize", "--model", m, "Hello", "world")
check("several TEXT words are joined by spaces", out == "40 69 353 79 293 276 76 68\n", out)
rc, out, err = run("tokenize", "--tokenizer", os.path.join(FOLDERS["gpt2-tokenizer"], "vocab.json"), "--json", "Hello world")
check("--json with --tokenizer vocab.json", rc == 0 and json.loads(out) == {"ids": [15496, 995], "tokens": ["Hello", "\u0120world"]}, out)
rc, out, err = run("detokenize", "--model", m, "40,69,353", "79")
check("comma-separated ids", out == "Hello\n", out)
rc, out, err = run("detokenize", "--model", m, "99999")
check("id past the vocabulary: exit 1", rc == 1 and "99999" in err, (rc, err))
a, b = run("tokenize", "--model", m, "a")[1].split(), run("tokenize", "--model", m, "b")[1].split()
rc, out, err = run("tokenize", "--model", m, "a<|endoftext|>b")
check("special tokens in the text are recognised", out.split() == a + ["0"] + b, out)
rc, out, err = run("tokenize", "--model", m, "-", stdin=b"caf\xc3")
check("invalid UTF-8 on stdin: U+FFFD as Python's errors='replace'", rc == 0 and out == run("tokenize", "--model", m, "caf\ufffd")[1], out)

rc, out, err = run("tokenize", "--model", llama, "--special", "Hello")
rc2, out2, _ = run("tokenize", "--model", llama, "Hello")
check("llama folder: template adds nothing", rc == 0 and out == out2, (out, out2))

rc, out, err = run("tokenize", "--model", stories, "--special", "Once upon a time")
check("llama2.c model: tok512.bin beside it, BOS with --special", out == "1 403 407 261 378\n", (out, err))
rc, out, err = run("tokenize", "--model", stories, "Once upon a time")
check("llama2.c without --special: no BOS", out == "403 407 261 378\n", out)
rc, out, err = run("tokenize", "--model", stories, "--json", "Once")
check("llama2.c --json", rc == 0 and json.loads(out)["ids"] == [403], out)
rc, out, err = run("detokenize", "--model", stories, "1", "403", "407", "261", "378")
check("llama2.c detokenize drops the space after BOS", out == "<s>Once upon a time\n", out)

finish()
