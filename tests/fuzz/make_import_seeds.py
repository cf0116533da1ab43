"""Seeds for fuzz_import: the layouts of tests/fixtures/ref/layouts (Meta's reference Llama, nanoGPT)
and the fused-qkv map of tests/fixtures/import, cut down to width 8, one block and a 16-token
vocabulary so the fuzzer mutates kilobytes rather than 700 KB. The values are the fixtures' own
(the first rows and columns of each tensor). Each seed is one harness input:
    LAYOUT "\n" SETTINGS ["\n\0MAP\0\n" MAP] "\n\0ST\0\n" SAFETENSORS
where LAYOUT is meta, nanogpt or map and SETTINGS is params.json, model_args.json or config.json.
    python3 tests/fuzz/make_import_seeds.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
OUT = os.path.join(HERE, "corpus", "import")
D, HEADS, KV, HD, I_META, V, CTX = 8, 2, 1, 4, 24, 16, 16
MAP_MARK, ST_MARK = b"\n\x00MAP\x00\n", b"\n\x00ST\x00\n"


def st_read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        a, z = v["data_offsets"]
        raw = b[8 + n + a:8 + n + z]
        out[k] = (v["shape"], list(struct.unpack("<%df" % (len(raw) // 4), raw)))
    return out


def cut(t, rows, cols=None):
    """The first rows (and cols) of a tensor: [shape, values]."""
    shape, vals = t
    if len(shape) == 1:
        return ([rows], vals[:rows])
    return ([rows, cols], [vals[r * shape[1] + c] for r in range(rows) for c in range(cols)])


def transposed(t):
    (r, c), vals = t
    return ([c, r], [vals[i * c + j] for j in range(c) for i in range(r)])


def st_write(tensors, dtype="F32"):
    fmt, size = {"F32": ("<%df", 4), "F16": ("<%de", 2)}[dtype]
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name in sorted(tensors):
        shape, vals = tensors[name]
        raw = struct.pack(fmt % len(vals), *vals)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def seed(name, layout, settings, st, mp=None):
    body = layout.encode() + b"\n" + json.dumps(settings, indent=1).encode()
    if mp is not None:
        body += MAP_MARK + json.dumps(mp, indent=1).encode()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(body + ST_MARK + st)


def main():
    os.makedirs(OUT, exist_ok=True)
    # Meta: one block of the llama-meta fixture
    m = st_read(os.path.join(FIX, "ref", "layouts", "llama-meta", "consolidated.00.safetensors"))
    meta = {
        "tok_embeddings.weight": cut(m["tok_embeddings.weight"], V, D),
        "output.weight": cut(m["output.weight"], V, D),
        "norm.weight": cut(m["norm.weight"], D),
        "layers.0.attention.wq.weight": cut(m["layers.0.attention.wq.weight"], HEADS * HD, D),
        "layers.0.attention.wk.weight": cut(m["layers.0.attention.wk.weight"], KV * HD, D),
        "layers.0.attention.wv.weight": cut(m["layers.0.attention.wv.weight"], KV * HD, D),
        "layers.0.attention.wo.weight": cut(m["layers.0.attention.wo.weight"], D, HEADS * HD),
        "layers.0.feed_forward.w1.weight": cut(m["layers.0.feed_forward.w1.weight"], I_META, D),
        "layers.0.feed_forward.w2.weight": cut(m["layers.0.feed_forward.w2.weight"], D, I_META),
        "layers.0.feed_forward.w3.weight": cut(m["layers.0.feed_forward.w3.weight"], I_META, D),
        "layers.0.attention_norm.weight": cut(m["layers.0.attention_norm.weight"], D),
        "layers.0.ffn_norm.weight": cut(m["layers.0.ffn_norm.weight"], D),
    }
    params = json.load(open(os.path.join(FIX, "ref", "layouts", "llama-meta", "params.json")))
    # 2/3 of 4*8 = 21, up to a multiple of 8: the FFN width 24 the cut keeps
    params.update(dim=D, n_layers=1, n_heads=HEADS, n_kv_heads=KV, vocab_size=V, multiple_of=8, max_seq_len=CTX)
    seed("meta", "meta", params, st_write(meta))
    seed("meta_f16", "meta", params, st_write(meta, "F16"))
    p2 = dict(params, vocab_size=-1, hidden_dim=I_META)  # Meta's -1: the size comes from the embedding
    p2.pop("multiple_of")
    tied = {k: v for k, v in meta.items() if k != "output.weight"}
    tied["rope.freqs"] = ([HD // 2], [1.0, 0.01])
    seed("meta_tied_rope", "meta", p2, st_write(tied))

    # nanoGPT: one block of the nanogpt-gpt2 fixture, with biases and the head tied, and bias-free
    g = st_read(os.path.join(FIX, "ref", "layouts", "nanogpt-gpt2", "model.safetensors"))
    p = "transformer.h.0."
    nano = {
        "transformer.wte.weight": cut(g["transformer.wte.weight"], V, D),
        "transformer.wpe.weight": cut(g["transformer.wpe.weight"], CTX, D),
        "transformer.ln_f.weight": cut(g["transformer.ln_f.weight"], D),
        "transformer.ln_f.bias": cut(g["transformer.ln_f.bias"], D),
        p + "ln_1.weight": cut(g[p + "ln_1.weight"], D), p + "ln_1.bias": cut(g[p + "ln_1.bias"], D),
        p + "ln_2.weight": cut(g[p + "ln_2.weight"], D), p + "ln_2.bias": cut(g[p + "ln_2.bias"], D),
        p + "attn.c_attn.weight": cut(g[p + "attn.c_attn.weight"], 3 * D, D),
        p + "attn.c_attn.bias": cut(g[p + "attn.c_attn.bias"], 3 * D),
        p + "attn.c_proj.weight": cut(g[p + "attn.c_proj.weight"], D, D),
        p + "attn.c_proj.bias": cut(g[p + "attn.c_proj.bias"], D),
        p + "mlp.c_fc.weight": cut(g[p + "mlp.c_fc.weight"], 4 * D, D),
        p + "mlp.c_fc.bias": cut(g[p + "mlp.c_fc.bias"], 4 * D),
        p + "mlp.c_proj.weight": cut(g[p + "mlp.c_proj.weight"], D, 4 * D),
        p + "mlp.c_proj.bias": cut(g[p + "mlp.c_proj.bias"], D),
    }
    nano["lm_head.weight"] = nano["transformer.wte.weight"]
    args = json.load(open(os.path.join(FIX, "ref", "layouts", "nanogpt-gpt2", "model_args.json")))
    args.update(n_layer=1, n_head=HEADS, n_embd=D, block_size=CTX, vocab_size=V)
    seed("nanogpt", "nanogpt", args, st_write(nano))
    bare = {k: v for k, v in nano.items() if not k.endswith(".bias") and k != "lm_head.weight"}
    bare[p + "attn.bias"] = ([1, 1, 4, 4], [1.0 if j <= i else 0.0 for i in range(4) for j in range(4)])
    seed("nanogpt_nobias", "nanogpt", dict(args, bias=False), st_write(bare))

    # a user's map: the fused-qkv layout of test_import.c over the Meta cut, with its map and config
    mp = json.load(open(os.path.join(FIX, "import", "fused-qkv-map.json")))
    for r in mp["rules"]:
        if "split" in r:
            r["split"] = [HEADS * HD, KV * HD, KV * HD]
    fused = {"embed.weight": meta["tok_embeddings.weight"], "final_norm.weight": meta["norm.weight"],
             "head.weight": meta["output.weight"]}
    L = "layers.0."
    for a, b in [("ln1.weight", "attention_norm.weight"), ("ln2.weight", "ffn_norm.weight"), ("attn.out.weight", "attention.wo.weight"),
                 ("mlp.gate.weight", "feed_forward.w1.weight"), ("mlp.up.weight", "feed_forward.w3.weight")]:
        fused["blocks.0." + a] = meta[L + b]
    q, k, v = (meta[L + "attention.w%s.weight" % x] for x in "qkv")
    fused["blocks.0.attn.qkv.weight"] = ([q[0][0] + k[0][0] + v[0][0], D], q[1] + k[1] + v[1])
    fused["blocks.0.mlp.down_t.weight"] = transposed(meta[L + "feed_forward.w2.weight"])
    fused["blocks.0.attn.rope_cache"] = ([4], [0.0] * 4)
    cfg = json.load(open(os.path.join(FIX, "ref", "layouts", "llama-meta", "hf_config.json")))
    cfg.update(hidden_size=D, head_dim=HD, intermediate_size=I_META, num_attention_heads=HEADS, num_hidden_layers=1,
               num_key_value_heads=KV, max_position_embeddings=CTX, vocab_size=V, bos_token_id=4, eos_token_id=4, pad_token_id=4)
    seed("map_fused_qkv", "map", cfg, st_write(fused), mp)


if __name__ == "__main__":
    main()
