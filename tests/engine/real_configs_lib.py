"""Tensor lists of transformers' models for a config.json, and sparse safetensors files of them
(test_real_configs.py, tests/bench/family_twins.py)."""
import json, struct


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
