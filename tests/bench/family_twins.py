#!/usr/bin/env python3
"""Decode speed of each new family against a llama-shaped twin of the same weight bytes.

For each published config in tests/fixtures/real-configs (the family) this writes a Hugging Face
folder of that shape and one of a llama with the same width, layers, heads, vocabulary and head
tying, whose SwiGLU width makes its MLP the same bytes (2/3 of a two-matrix MLP's width, to a
multiple of 32). Weights are a sparse file of F32 zeros (no disk; decode speed does not depend on
the values); `ablab bench --quant q8_0` converts them at load. The family should decode within 10 %
of its twin: its extra work (norms, biases, partial rotary, the fused qkv split, soft-capping) is
small next to streaming the weights.

usage: tests/bench/family_twins.py [NAME...] [-n 64] [-t 2] [-r 3]   (ABLAB_BIN or build/src/ablab)
"""
import argparse, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "engine"))
sys.path.insert(0, os.path.join(HERE, ".."))
os.environ.setdefault("ABLAB_BIN", os.path.join(HERE, "..", "..", "build", "src", "ablab"))
os.environ.setdefault("TEST_DATA_DIR", os.path.join(HERE, "..", "fixtures"))
from real_configs_lib import tensors, write_sparse  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("names", nargs="*", default=["pythia-410m", "qwen3-0.6b", "gemma-3-270m", "phi-2"])
ap.add_argument("-n", default="64")
ap.add_argument("-t", default="2")
ap.add_argument("-r", default="3")
a = ap.parse_args()
BIN = os.environ["ABLAB_BIN"]


def twin(c):
    mlp_mats = 2 if c["model_type"] in ("gpt_neox", "phi") else 3
    F = c["intermediate_size"] * mlp_mats // 3 // 32 * 32
    H = c["num_attention_heads"]
    return {"model_type": "llama", "hidden_size": c["hidden_size"], "intermediate_size": F,
            "num_hidden_layers": c["num_hidden_layers"], "num_attention_heads": H,
            "num_key_value_heads": c.get("num_key_value_heads", H), "head_dim": c.get("head_dim", c["hidden_size"] // H),
            "vocab_size": c["vocab_size"], "max_position_embeddings": 4096, "rms_norm_eps": 1e-6,
            "tie_word_embeddings": c.get("tie_word_embeddings", c["model_type"] == "gemma3_text")}


def folder(d, cfg):
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    write_sparse(os.path.join(d, "model.safetensors"), tensors(cfg))


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_STATE_HOME=tmp)
    print(f"| model | twin's SwiGLU width | tg{a.n} t/s family | tg{a.n} t/s twin | family / twin | same, per CPU second |")
    print("|---|---|---|---|---|---|")
    for name in a.names:
        with open(os.path.join(os.environ["TEST_DATA_DIR"], "real-configs", name, "config.json")) as f:
            cfg = json.load(f)
        fam, tw = os.path.join(tmp, name), os.path.join(tmp, name + "-twin")
        folder(fam, cfg)
        folder(tw, twin(cfg))
        speeds = []
        for d in (fam, tw):
            p = subprocess.run([BIN, "bench", "--model", d, "--quant", "q8_0", "-p", "16", "-n", a.n, "-t", a.t,
                                "-r", a.r, "--cpu-time", "--no-record", "--format", "json"], capture_output=True,
                               text=True, env=env)
            if p.returncode:
                sys.exit(f"{d}: {p.stderr}")
            tg = [r for r in json.loads(p.stdout) if r["test"].startswith("tg")][0]
            speeds.append((tg["tokens_per_s"], tg["tokens_per_cpu_s"]))
        (f, fc), (t, tc) = speeds
        print(f"| {name} | {twin(cfg)['intermediate_size']} | {f:.2f} | {t:.2f} | {f / t:.3f} | {fc / tc:.3f} |", flush=True)
        for d in (fam, tw):
            for fn in os.listdir(d):
                os.unlink(os.path.join(d, fn))
            os.rmdir(d)
