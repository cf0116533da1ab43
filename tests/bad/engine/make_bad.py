#!/usr/bin/env python3
"""Writes the broken-model corpus next to this script (committed; rerun to regenerate).

Each case is a folder (Hugging Face layout) or a file; MANIFEST lists `case<TAB>substring of the
error it must produce`. `good/` and `good.bin` are the intact models the broken ones derive from."""
import json, os, shutil, struct, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
       "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16, "max_position_embeddings": 32,
       "rms_norm_eps": 1e-5, "tie_word_embeddings": False}
SHAPES = [("model.embed_tokens.weight", [16, 8]), ("model.layers.0.input_layernorm.weight", [8]),
          ("model.layers.0.post_attention_layernorm.weight", [8]),
          ("model.layers.0.self_attn.q_proj.weight", [8, 8]), ("model.layers.0.self_attn.k_proj.weight", [4, 8]),
          ("model.layers.0.self_attn.v_proj.weight", [4, 8]), ("model.layers.0.self_attn.o_proj.weight", [8, 8]),
          ("model.layers.0.mlp.gate_proj.weight", [16, 8]), ("model.layers.0.mlp.up_proj.weight", [16, 8]),
          ("model.layers.0.mlp.down_proj.weight", [8, 16]), ("model.norm.weight", [8]), ("lm_head.weight", [16, 8])]
MANIFEST = []


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def tensors(shapes=SHAPES, dtype="F32"):
    """[(name, dtype, shape, bytes)] with small deterministic values."""
    out = []
    for i, (name, shape) in enumerate(shapes):
        vals = [((i * 31 + j * 7) % 13 - 6) / 20.0 for j in range(numel(shape))]
        out.append((name, dtype, shape, struct.pack("<%df" % len(vals), *vals)))
    return out


def st_bytes(ts, offsets=None, header_len=None, pad=True, raw_header=None):
    header, off = {}, 0
    for i, (name, dtype, shape, data) in enumerate(ts):
        o = offsets[i] if offsets else [off, off + len(data)]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": o}
        off += len(data)
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if header_len is None else header_len
    return struct.pack("<Q", n) + h + b"".join(d for _, _, _, d in ts)


def folder(case, st, cfg=CFG, expect=None, extra=None):
    d = os.path.join(HERE, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if st is not None:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(st)
    for name, data in (extra or {}).items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    if expect:
        MANIFEST.append((case, expect))


def main():
    good = st_bytes(tensors())
    folder("good", good)
    hlen = struct.unpack("<Q", good[:8])[0]
    folder("truncated_in_length", good[:5], expect="too short for the 8-byte header length")
    folder("truncated_in_header", good[:8 + hlen // 2], expect="goes past the end of the file")
    folder("truncated_in_data", good[:len(good) - 100], expect="ends past the end of the file")
    folder("empty_file", b"", expect="too short for the 8-byte header length")
    folder("header_length_huge", struct.pack("<Q", 1 << 40) + good[8:], expect="exceeds the 100 MB limit")
    folder("header_length_short", struct.pack("<Q", hlen - 40) + good[8:], expect="header is not valid JSON")
    folder("header_length_long", struct.pack("<Q", hlen + 64) + good[8:], expect="header has a NUL byte at offset")
    folder("header_not_object", st_bytes(tensors(), raw_header=b'["model.norm.weight"]'),
           expect="header does not start with '{'")
    ts = tensors()
    offs, o = [], 0
    for _, _, _, data in ts:
        offs.append([o, o + len(data)])
        o += len(data)
    bad = [list(x) for x in offs]
    bad[-1] = [offs[-1][0], offs[-1][1] + 4096]
    folder("offset_past_end", st_bytes(ts, offsets=bad), expect="ends past the end of the file (offset")
    bad = [list(x) for x in offs]
    bad[2] = [offs[2][0] - 16, offs[2][1] - 16]
    folder("overlapping_tensors", st_bytes(ts, offsets=bad), expect="overlaps tensor")
    folder("trailing_bytes", good + b"\0" * 64, expect="bytes after the last tensor")
    bad = [list(x) for x in offs]
    bad[0] = [offs[0][0], offs[0][1] - 4]
    folder("size_not_shape", st_bytes(ts, offsets=bad), expect="bytes in the file but shape x F32 needs")
    wrong = tensors()
    name, _, shape, data = wrong[3]
    wrong[3] = (name, "I64", [8, 4], data)  # same bytes, a dtype the engine cannot use
    folder("wrong_dtype", st_bytes(wrong), expect="has dtype I64 (ablab reads F32, F16 and BF16)")
    weird = tensors()
    weird[3] = (weird[3][0], "Q7", weird[3][2], weird[3][3])
    folder("unknown_dtype", st_bytes(weird), expect="unknown dtype 'Q7'")
    folder("missing_tensor", st_bytes([t for t in tensors() if t[0] != "lm_head.weight"]),
           expect="tensor 'lm_head.weight' is missing")
    shp = [(n, [8, 4] if n.endswith("q_proj.weight") else s) for n, s in SHAPES]
    folder("shape_disagrees_with_config", st_bytes(tensors(shp)),
           expect="has shape [8, 4] but config.json implies [8, 8]")
    huge = tensors()
    huge[1] = (huge[1][0], "F32", [1 << 40, 1 << 40], huge[1][3])
    folder("shape_product_overflows", st_bytes(huge), expect="the product of its shape overflows")
    # issue 21: jansson stopped at the NUL and the header was taken
    nul_hdr = json.dumps({n: {"dtype": d, "shape": sh, "data_offsets": o} for (n, d, sh, _), o in zip(ts, offs)}).encode()
    cut = nul_hdr.index(b"[", nul_hdr.index(b"data_offsets", nul_hdr.index(b"model.norm.weight"))) + 1
    cut = nul_hdr.index(b",", cut)
    folder("header_nul_after_number", st_bytes(ts, raw_header=nul_hdr[:cut] + b"\0" + nul_hdr[cut:]),
           expect="header has a NUL byte at offset")
    folder("header_not_utf8", st_bytes(ts, raw_header=nul_hdr.replace(b"lm_head", b"lm_h\xe9ad")),
           expect="header is not valid UTF-8")
    folder("config_nul", good, cfg=None, expect="config.json: not valid JSON: a NUL byte at offset")
    with open(os.path.join(HERE, "config_nul", "config.json"), "wb") as f:
        f.write(json.dumps(CFG).encode().replace(b'"hidden_size": 8', b'"hidden_size": 8\0'))
    folder("duplicate_tensor_name", st_bytes(tensors(), raw_header=(
        b'{"model.norm.weight":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},'
        b'"model.norm.weight":{"dtype":"F32","shape":[8],"data_offsets":[32,64]}}')),
        expect="header is not valid JSON: duplicate object key")
    folder("config_absurd_width", good, cfg=dict(CFG, hidden_size=10**12), expect='"hidden_size" = 1000000000000 is out of range')
    folder("config_heads_do_not_divide", good, cfg=dict(CFG, num_key_value_heads=3),
           expect='"num_key_value_heads" = 3 is out of range [1, 2]')
    folder("config_bias_without_tensors", good, cfg=dict(CFG, attention_bias=True),
           expect="tensor 'model.layers.0.self_attn.q_proj.bias' is missing")
    folder("config_rope_scaling", good, cfg=dict(CFG, rope_scaling={"rope_type": "yarn", "factor": 8.0}),
           expect="\"rope_scaling\" has rope_type 'yarn' (ablab applies default, linear and llama3)")
    folder("config_rope_llama3_incomplete", good, cfg=dict(CFG, rope_parameters={
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0}),
           expect="rope type 'llama3' needs a positive number \"low_freq_factor\"")
    folder("config_rope_unknown_v5", good, cfg=dict(CFG, rope_parameters={"rope_type": "dynamic", "rope_theta": 1e4}),
           expect="\"rope_parameters\" has rope_type 'dynamic'")
    folder("config_head_dim_vs_weights", good, cfg=dict(CFG, head_dim=8),
           expect="tensor 'model.layers.0.self_attn.q_proj.weight' has shape [8, 8] but config.json implies [16, 8]")
    folder("config_unknown_activation", good, cfg=dict(CFG, hidden_act="relu"),
           expect="\"hidden_act\" is 'relu', which ablab does not apply for this model_type (silu)")
    folder("config_softcap_on_llama", good, cfg=dict(CFG, final_logit_softcapping=30.0),
           expect="\"final_logit_softcapping\" is set: soft-capping of the logits, which ablab does not apply")
    folder("config_qwen2_missing_biases", good, cfg=dict(CFG, model_type="qwen2"),
           expect="tensor 'model.layers.0.self_attn.q_proj.bias' is missing")
    folder("config_qwen2_sliding", good, cfg=dict(CFG, model_type="qwen2", use_sliding_window=True),
           expect="\"use_sliding_window\" is set")
    folder("config_qwen3_missing_qk_norm", good, cfg=dict(CFG, model_type="qwen3"),
           expect="tensor 'model.layers.0.self_attn.q_norm.weight' is missing")
    gemma = dict(CFG, model_type="gemma3_text", head_dim=4, query_pre_attn_scalar=4, sliding_window=4,
                 layer_types=["sliding_attention", "full_attention"], hidden_activation="gelu_pytorch_tanh")
    folder("config_layer_types_length", good, cfg=gemma,
           expect="\"layer_types\" has 2 entries for 1 layers (num_hidden_layers)")
    folder("config_layer_types_unknown", good, cfg=dict(gemma, layer_types=["chunked_attention"]),
           expect="\"layer_types\"[0] is 'chunked_attention' (full_attention or sliding_attention)")
    folder("config_gemma3_attn_softcap", good, cfg=dict(gemma, attn_logit_softcapping=50.0),
           expect="\"attn_logit_softcapping\" is set: soft-capping of the attention scores")
    folder("config_gemma3_activation", good, cfg=dict(gemma, layer_types=["full_attention"], hidden_activation="silu"),
           expect="\"hidden_activation\" is 'silu', which ablab does not apply")
    folder("config_phi_qk_layernorm", good, cfg=dict(CFG, model_type="phi", qk_layernorm=True),
           expect="\"qk_layernorm\" is set: LayerNorms on q and k")
    folder("config_phi_missing_bias", good, cfg=dict(CFG, model_type="phi", partial_rotary_factor=0.5),
           expect="tensor 'model.layers.0.input_layernorm.bias' is missing")
    folder("config_neox_rotary_odd", good, cfg=dict(CFG, model_type="gpt_neox", num_key_value_heads=2, rotary_pct=0.3),
           expect="\"rotary_pct\" = 0.3 rotates 1 of 4 dimensions per head (needs an even number)")
    folder("config_eos_not_ids", good, cfg=dict(CFG, eos_token_id=["</s>"]),
           expect="\"eos_token_id\" is not a token id or a list of them")
    folder("config_unknown_arch", good, cfg=dict(CFG, model_type="mamba"), expect="model_type 'mamba' is not supported")
    folder("config_not_json", None, cfg=None, expect="not valid JSON")
    with open(os.path.join(HERE, "config_not_json", "config.json"), "w") as f:
        f.write("{\"model_type\": \"llama\",")
    # shards: the index names a file that is not there
    d = os.path.join(HERE, "shard_missing")
    folder("shard_missing", None, expect="model-00002-of-00002.safetensors: cannot open")
    half = len(SHAPES) // 2
    with open(os.path.join(d, "model-00001-of-00002.safetensors"), "wb") as f:
        f.write(st_bytes(tensors(SHAPES[:half])))
    wm = {n: "model-0000%d-of-00002.safetensors" % (1 if i < half else 2) for i, (n, _) in enumerate(SHAPES)}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": wm}, f)
    # a pickle: torch.save writes a zip; never opened beyond its first bytes
    zbuf = os.path.join(HERE, "model.pt")
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02c__builtin__\neval\n(S'print(1)'\ntR.")
    MANIFEST.append(("model.pt", "PyTorch pickle files are refused"))
    folder("pickle_only", None, expect="ablab never runs pickles",
           extra={"pytorch_model.bin": open(zbuf, "rb").read()})
    os.remove(os.path.join(HERE, "pickle_only", "config.json"))
    with open(os.path.join(HERE, "pickle_only", "config.json"), "w") as f:
        json.dump(CFG, f)
    with open(os.path.join(HERE, "renamed_pickle.bin"), "wb") as f:
        f.write(b"\x80\x04\x95" + b"\0" * 64)
    MANIFEST.append(("renamed_pickle.bin", "PyTorch pickle files are refused"))

    # llama2.c .bin: 7 int32 then float32 tensors
    dim, hid, L, H, KV, V, T = 8, 16, 1, 2, 1, 16, 4
    hs = dim // H
    n = V * dim + L * (2 * dim + dim * dim * 2 + (dim * KV * hs) * 2 + 3 * hid * dim) + dim + T * hs
    body = struct.pack("<%df" % n, *[((j * 7) % 11 - 5) / 20.0 for j in range(n)])
    hdr = lambda *v: struct.pack("<7i", *v)
    def binfile(name, data, expect=None):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        if expect:
            MANIFEST.append((name, expect))
    binfile("good.bin", hdr(dim, hid, L, H, KV, V, T) + body)
    wcls = struct.pack("<%df" % (V * dim), *[((j * 5) % 9 - 4) / 10.0 for j in range(V * dim)])
    binfile("good_untied.bin", hdr(dim, hid, L, H, KV, -V, T) + body + wcls)  # negative vocab: own classifier
    binfile("l2c_truncated_header.bin", hdr(dim, hid, L, H, KV, V, T)[:20], "too short for the 28-byte llama2.c header")
    binfile("l2c_truncated_weights.bin", (hdr(dim, hid, L, H, KV, V, T) + body)[:300], "but its header (dim 8, layers 1, vocab 16) implies")
    binfile("l2c_missing_classifier.bin", hdr(dim, hid, L, H, KV, -V, T) + body, ", own classifier) implies")
    binfile("l2c_absurd_dim.bin", hdr(1 << 30, hid, L, H, KV, V, T) + body, "header field dim = 1073741824 is out of range")
    binfile("l2c_negative_layers.bin", hdr(dim, hid, -1, H, KV, V, T) + body, "header field n_layers = -1 is out of range")
    binfile("l2c_heads_do_not_divide.bin", hdr(dim, hid, L, 3, KV, V, T) + body, "does not split into 3 heads")
    # every field at its limit: the size products stay in range (checked) and disagree with the file
    binfile("l2c_absurd_dims.bin", hdr(1 << 20, 1 << 22, 4096, 1 << 10, 1 << 10, 1 << 24, 1 << 22) + body,
            "file is 3004 bytes but its header (dim 1048576, layers 4096, vocab 16777216) implies 288300796439691292")

    # Weights that load but make every logit NaN (issue 21: the sampler then overflowed its buffer):
    # generation must stop with "non-finite logits at token 1". Not in MANIFEST: they load.
    # a vocabulary of 64, past the default top-k of 40, so the quickselect path runs
    Vn = 64
    nn = Vn * dim + L * (2 * dim + dim * dim * 2 + (dim * KV * hs) * 2 + 3 * hid * dim) + dim + T * hs
    vals = [((j * 7) % 11 - 5) / 20.0 for j in range(nn)]
    vals[nn - dim - T * hs] = float("nan")  # rms_final[0]
    binfile("nan_final_norm.bin", hdr(dim, hid, L, H, KV, Vn, T) + struct.pack("<%df" % nn, *vals))
    nan_shapes = [(n, [64, 8] if n in ("model.embed_tokens.weight", "lm_head.weight") else sh) for n, sh in SHAPES]
    nan_ts = tensors(nan_shapes)
    i_norm = [n for n, _, _, _ in nan_ts].index("model.norm.weight")
    n_, d_, s_, blob = nan_ts[i_norm]
    nan_ts[i_norm] = (n_, d_, s_, struct.pack("<f", float("nan")) + blob[4:])
    folder("nan_norm", st_bytes(nan_ts), cfg=dict(CFG, vocab_size=64))

    # GGUF llama models: block_count is a claim, bounded by the tensors present before anything is
    # sized by it (issue 21: 2^31-1 was an allocation-size-too-big, 2^24 zero-filled ~9.6 GB)
    def gguf(kvs, tens):
        s8 = lambda b: struct.pack("<Q", len(b)) + b
        out = b"GGUF" + struct.pack("<IQQ", 3, len(tens), len(kvs))
        for k, (t, v) in kvs.items():
            out += s8(k.encode()) + struct.pack("<I", t)
            out += s8(v.encode()) if t == 8 else struct.pack("<f" if t == 6 else "<I", v)
        off, data = 0, b""
        for name, shape, blob in tens:
            out += s8(name.encode()) + struct.pack("<I", len(shape)) + struct.pack("<%dQ" % len(shape), *shape)
            out += struct.pack("<IQ", 0, off)
            blob += b"\0" * (-len(blob) % 32)
            data += blob
            off += len(blob)
        return out + b"\0" * (-len(out) % 32) + data
    emb = struct.pack("<128f", *[((j * 7) % 11 - 5) / 20.0 for j in range(128)])
    def gguf_kvs(blocks):
        return {"general.architecture": (8, "llama"), "llama.embedding_length": (4, 8), "llama.block_count": (4, blocks),
                "llama.context_length": (4, 32), "llama.attention.head_count": (4, 2),
                "llama.feed_forward_length": (4, 16)}
    for blocks, name in ((2**31 - 1, "2_31"), (2**24, "2_24"), (2, "2")):
        binfile("gguf_block_count_%s.gguf" % name, gguf(gguf_kvs(blocks), [("token_embd.weight", [8, 16], emb)]),
                "llama.block_count = %d but the file holds 1 tensors (a block needs 9)" % blocks)
    folder("config_layers_past_tensors", good, cfg=dict(CFG, num_hidden_layers=4096),
           expect="config.json has 4096 layers but the weights hold 12 tensors (a layer needs 9)")

    with open(os.path.join(HERE, "MANIFEST"), "w") as f:
        f.write("# case<TAB>the error it must produce (a substring of the message); made by make_bad.py\n")
        for c, e in MANIFEST:
            f.write("%s\t%s\n" % (c, e))


main()
