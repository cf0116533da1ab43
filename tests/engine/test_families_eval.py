#!/usr/bin/env python3
"""Issue 15: `ablab eval` reports bits per byte for every model family on the same text, so families
with different tokenizers compare by bytes. Runs every reference folder of tests/fixtures/ref/models
(two a command, as the lab's two arms) and checks each row: the family it loaded, the text it scored, and numbers that
agree with each other (bpb = sum_nll / (bytes ln 2), byte perplexity = 2^bpb)."""
import json, math, os, subprocess, sys, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "fixtures", "ref", "models")
CORPUS = os.path.join(HERE, "..", "fixtures", "shared", "corpus", "tinystories_sample.txt")
ARCH = {"gemma3_text": "gemma3_text", "gpt_neox-parallel": "gpt_neox", "gpt_neox-sequential": "gpt_neox",
        "llama-head-dim": "llama", "llama-rope-linear": "llama", "llama-rope-llama3": "llama",
        "llama-smollm-tied": "llama", "phi": "phi", "qwen2": "qwen2", "qwen2-tied": "qwen2", "qwen3": "qwen3"}

folders = sorted(d for d in os.listdir(REF) if os.path.isdir(os.path.join(REF, d)))
check("every reference family is known to this test", set(folders) == set(ARCH), sorted(set(folders) ^ set(ARCH)))
with tempfile.TemporaryDirectory() as tmp:
    text = os.path.join(tmp, "text.txt")
    data = open(CORPUS, encoding="utf-8").read()[:3000]
    open(text, "w", encoding="utf-8").write(data)
    # eval takes two models a run (the two arms of the lab): pair the families up
    rows, out = {}, {}
    for i in range(0, len(folders), 2):
        pair = folders[i:i + 2]
        args = [BIN, "eval", "--text", text, "--format", "json", "--no-record"]
        for d in pair:
            args += ["--model", os.path.join(REF, d)]
        p = subprocess.run(args, capture_output=True, text=True, timeout=300)
        check(f"eval {' + '.join(pair)} exits 0", p.returncode == 0, p.stderr[-2000:])
        out = json.loads(p.stdout) if p.returncode == 0 else {"results": []}
        rows.update({os.path.basename(r["model"].rstrip("/")): r for r in out["results"]})
    check("one row per family", sorted(rows) == folders, sorted(rows))
    nbytes = len(data.encode("utf-8"))
    check(f"eval read the whole text ({nbytes} bytes)", out.get("bytes") == nbytes, out.get("bytes"))
    for d in folders:
        r = rows.get(d)
        if not r:
            continue
        check(f"{d}: loaded as {ARCH[d]}", r["arch"] == ARCH[d], r["arch"])
        bpb = r["bits_per_byte"]
        check(f"{d}: scored tokens of the text", r["tokens"] > 100, r["tokens"])
        check(f"{d}: bits per byte is finite and positive ({bpb})", math.isfinite(bpb) and bpb > 0, bpb)
        want = r["sum_nll"] / (nbytes * math.log(2))
        check(f"{d}: bpb = sum_nll / (bytes ln 2)", abs(bpb - want) < 1e-5 * max(1, want), (bpb, want))
        check(f"{d}: byte perplexity = 2^bpb", abs(r["byte_ppl"] - 2 ** bpb) < 1e-4 * r["byte_ppl"], (r["byte_ppl"], 2 ** bpb))
finish()
