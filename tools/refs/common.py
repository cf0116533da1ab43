"""Shared helpers for the reference generators in tools/refs/.

Every generator runs on CPU in float32 with fixed seeds. Paths come from the environment:
  REFS_IN   folder with the inputs (copies of shared/golden models, tokenizers, corpus, templates)
  REFS_OUT  folder that receives tests/fixtures/ref/ (the generators write <group>/<name>/ under it)
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch

IN = os.environ.get("REFS_IN", ".refwork/in")
OUT = os.environ.get("REFS_OUT", "/tmp/refout")

N_GREEDY = 24


def setup():
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def versions():
    import importlib
    out = {"python": sys.version.split()[0]}
    for mod in ("torch", "transformers", "tokenizers", "safetensors", "peft", "sentencepiece", "numpy", "jinja2"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except Exception as e:  # noqa: BLE001 - a missing package is recorded, not fatal
            out[mod] = f"unavailable ({type(e).__name__})"
    return out


def jiggle(model, seed, emb_std=1.0, w_std=0.1, head_std=0.2, bias_std=0.1, norm_std=0.25, gemma_norm_base=0.0):
    """Overwrite every parameter with seeded random values.

    Norm weights become base + N(0, norm_std) where base is 1 (LayerNorm, RMSNorm) or gemma_norm_base
    for Gemma's (1 + w) RMSNorm; norm biases and linear biases N(0, bias_std); the input embedding N(0, emb_std);
    an untied head N(0, head_std); every other matrix N(0, w_std)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(p, std):
        return std * torch.randn(p.shape, generator=g, dtype=torch.float32)

    done = set()
    with torch.no_grad():
        for mname, mod in model.named_modules():
            cls = type(mod).__name__
            if "Norm" not in cls:
                continue
            base = gemma_norm_base if cls.startswith("Gemma") else 1.0
            for pname, p in mod.named_parameters(recurse=False):
                if pname == "weight":
                    p.copy_(base + rnd(p, norm_std))
                else:
                    p.copy_(rnd(p, bias_std))
                done.add(id(p))
        emb = model.get_input_embeddings().weight
        out_emb = model.get_output_embeddings()
        head = out_emb.weight if out_emb is not None else None
        for name, p in model.named_parameters():
            if id(p) in done:
                continue
            if p is emb:
                std = emb_std
            elif head is not None and p is head:
                std = head_std
            elif p.dim() == 1:
                std = bias_std
            else:
                std = w_std
            p.copy_(rnd(p, std))
            done.add(id(p))
    return model


@torch.no_grad()
def logits_of(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=x).logits[0].float().cpu()


@torch.no_grad()
def greedy(model, ids, n=N_GREEDY):
    """Greedy argmax decoding by full recomputation (no cache, no stop at EOS)."""
    seq = list(ids)
    new = []
    for _ in range(n):
        nxt = int(logits_of(model, seq)[-1].argmax())
        seq.append(nxt)
        new.append(nxt)
    return new


def write_golden(folder, ids, logits, greedy_ids, extra=None):
    os.makedirs(folder, exist_ok=True)
    arr = logits.numpy().astype("<f4")
    arr.tofile(os.path.join(folder, "logits.f32"))
    top5 = [int(i) for i in torch.topk(logits[-1], 5).indices]
    g = {
        "input_ids": [int(i) for i in ids],
        "logits_shape": list(arr.shape),
        "logits_file": "logits.f32",
        "greedy_new_ids": [int(i) for i in greedy_ids],
        "logits_last_top5": top5,
    }
    if extra:
        g.update(extra)
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(g, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return g


def max_abs(a, b):
    return float((a - b).abs().max())


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


PROMPT_TEXT = (
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
    "with her friends, and every evening her grandmother told her a story about seven dragons, "
    "a brave knight and a wizard who lived in a tower by the sea."
)


def prompt_ids(tok, n=40, bos=None):
    ids = tok.encode(PROMPT_TEXT, add_special_tokens=False)
    if bos is not None:
        ids = [bos] + ids
    assert len(ids) >= n, f"prompt too short: {len(ids)} tokens"
    return ids[:n]


def np_ok():
    return np.__version__
