#!/usr/bin/env python3
"""`ablab inspect` on the published configurations of the checkpoints the lab compares (Phi-2,
Pythia-410M, Qwen2.5-0.5B, Qwen3-0.6B, Llama-3.2-1B, Gemma-3-270M): the parameter count it reports
must be the published one.

The configs are tests/fixtures/real-configs/<name>/config.json, written from the values in each
model's config.json on the hub. The weights are a safetensors file whose header lists every tensor
transformers' class holds for that config (names and shapes written here, from the modeling code),
and whose data is a sparse hole: F32 zeros that take no disk, loaded in place with ABLAB_MMAP=1.
So the check covers the config reader, the loader's shape checks against every tensor, and the
count, for 0.27B to 2.78B parameters (slow suite: the loader pre-faults the mapping, so the kernel
zero-fills about 20 GB of page cache, about 2 minutes)."""
import json, os, struct, subprocess, sys, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
CONFIGS = os.path.join(os.environ["TEST_DATA_DIR"], "real-configs")

# parameters as published (model cards / transformers' num_parameters())
PUBLISHED = {
    "phi-2": 2_779_683_840,
    "pythia-410m": 405_334_016,
    "qwen2.5-0.5b": 494_032_768,
    "qwen3-0.6b": 596_049_920,
    "llama-3.2-1b": 1_235_814_400,
    "gemma-3-270m": 268_098_176,
}


def tensors(c):
    """[(name, shape)] of the model transformers builds from config c (a tied head is absent)."""
    t, mt = [], c["model_type"]
    D, F, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    H = c["num_attention_heads"]
    KV = c.get("num_key_value_heads", H)
    hd = c.get("head_dim", D // H)
    q, kv = H * hd, KV * hd
    if mt == "gpt_neox":
        t.append(("gpt_neox.embed_in.weight", [V, D]))
        for i in range(L):
            p = f"gpt_neox.layers.{i}."
            for n in ("input_layernorm", "post_attention_layernorm"):
                t += [(p + n + ".weight", [D]), (p + n + ".bias", [D])]
            t += [(p + "attention.query_key_value.weight", [3 * D, D]), (p + "attention.query_key_value.bias", [3 * D]),
                  (p + "attention.dense.weight", [D, D]), (p + "attention.dense.bias", [D]),
                  (p + "mlp.dense_h_to_4h.weight", [F, D]), (p + "mlp.dense_h_to_4h.bias", [F]),
                  (p + "mlp.dense_4h_to_h.weight", [D, F]), (p + "mlp.dense_4h_to_h.bias", [D])]
        t += [("gpt_neox.final_layer_norm.weight", [D]), ("gpt_neox.final_layer_norm.bias", [D]),
              ("embed_out.weight", [V, D])]
        return t
    t.append(("model.embed_tokens.weight", [V, D]))
    for i in range(L):
        p = f"model.layers.{i}."
        if mt == "phi":
            t += [(p + "input_layernorm.weight", [D]), (p + "input_layernorm.bias", [D])]
            for n, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
                t += [(p + f"self_attn.{n}.weight", [rows, D]), (p + f"self_attn.{n}.bias", [rows])]
            t += [(p + "self_attn.dense.weight", [D, q]), (p + "self_attn.dense.bias", [D]),
                  (p + "mlp.fc1.weight", [F, D]), (p + "mlp.fc1.bias", [F]),
                  (p + "mlp.fc2.weight", [D, F]), (p + "mlp.fc2.bias", [D])]
            continue
        norms = ["input_layernorm", "post_attention_layernorm"]
        if mt == "gemma3_text":
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        t += [(p + n + ".weight", [D]) for n in norms]
        t += [(p + "self_attn.q_proj.weight", [q, D]), (p + "self_attn.k_proj.weight", [kv, D]),
              (p + "self_attn.v_proj.weight", [kv, D]), (p + "self_attn.o_proj.weight", [D, q])]
        if mt == "qwen2":
            t += [(p + "self_attn.q_proj.bias", [q]), (p + "self_attn.k_proj.bias", [kv]), (p + "self_attn.v_proj.bias", [kv])]
        if mt in ("qwen3", "gemma3_text"):
            t += [(p + "self_attn.q_norm.weight", [hd]), (p + "self_attn.k_norm.weight", [hd])]
        t += [(p + "mlp.gate_proj.weight", [F, D]), (p + "mlp.up_proj.weight", [F, D]), (p + "mlp.down_proj.weight", [D, F])]
    if mt == "phi":
        t += [("model.final_layernorm.weight", [D]), ("model.final_layernorm.bias", [D])]
    else:
        t.append(("model.norm.weight", [D]))
    if not c.get("tie_word_embeddings", mt == "gemma3_text"):
        t.append(("lm_head.weight", [V, D]))
        if mt == "phi":
            t.append(("lm_head.bias", [V]))
    return t


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write_sparse(path, ts):
    header, off = {}, 0
    for name, shape in ts:
        n = numel(shape) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        f.truncate(8 + len(h) + off)  # a hole: zeros that take no disk


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, ABLAB_MMAP="1", XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_STATE_HOME=tmp)
    for name, want in PUBLISHED.items():
        with open(os.path.join(CONFIGS, name, "config.json")) as f:
            cfg = json.load(f)
        d = os.path.join(tmp, name)
        os.makedirs(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        ts = tensors(cfg)
        write_sparse(os.path.join(d, "model.safetensors"), ts)
        in_file = sum(numel(s) for _, s in ts)
        p = subprocess.run([BIN, "inspect", d, "--json"], capture_output=True, text=True, timeout=120, env=env)
        if not check(f"{name}: inspect loads it", p.returncode == 0, p.stderr):
            continue
        info = json.loads(p.stdout)
        check(f"{name}: {info['n_params']:,} parameters, as published ({want:,})", info["n_params"] == want,
              f"ablab says {info['n_params']:,}")
        check(f"{name}: the count is the tensors the file holds ({in_file:,})", info["n_params"] == in_file)
        check(f"{name}: arch {cfg['model_type']}", info["arch"] == cfg["model_type"], info["arch"])
finish()
