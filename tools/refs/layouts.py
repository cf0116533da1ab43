"""Other checkpoint layouts of tiny models, with the logits of the Hugging Face model they came from.

llama-meta/: Meta's reference layout (params.json + consolidated.00.safetensors) of a tiny random Llama.
  Names: tok_embeddings, layers.N.attention.{wq,wk,wv,wo}, layers.N.feed_forward.{w1,w2,w3},
  layers.N.attention_norm, layers.N.ffn_norm, norm, output (all .weight). wq/wk are un-permuted from
  the Hugging Face rotate-half order back to Meta's interleaved-pair order: the exact inverse of
  transformers' convert_llama_weights_to_hf permute (checked by re-permuting, and by running a
  Meta-style forward pass with interleaved complex rotary on these tensors, compared with transformers).
nanogpt-gpt2/: nanoGPT layout (model_args.json + model.safetensors) of a tiny GPT-2 with exact gelu.
  Names: transformer.wte/wpe, transformer.h.N.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj},
  transformer.ln_f, lm_head (a copy of wte: nanoGPT ties them); nn.Linear weights [out, in].
  Checked with a nanoGPT-style forward pass on these tensors against transformers.
"""
import json
import math
import os
import traceback

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from transformers import PreTrainedTokenizerFast

import common as C


def hf_permute(w, n_heads, dim1, dim2):
    # transformers/models/llama/convert_llama_weights_to_hf.py: interleaved pairs -> rotate-half halves
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def hf_unpermute(w, n_heads, dim1, dim2):
    return w.view(n_heads, 2, dim1 // n_heads // 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def meta_forward(sd, p, ids):
    """Meta llama reference math: interleaved complex rotary, RMSNorm, SwiGLU, GQA."""
    dim, nh, nkv = p["dim"], p["n_heads"], p["n_kv_heads"]
    hd = dim // nh
    T = len(ids)
    x = sd["tok_embeddings.weight"][torch.tensor(ids)]
    freqs = 1.0 / (p["rope_theta"] ** (torch.arange(0, hd, 2)[: hd // 2].float() / hd))
    ang = torch.outer(torch.arange(T).float(), freqs)
    cis = torch.polar(torch.ones_like(ang), ang)

    def rms(v, w):
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + p["norm_eps"]) * w

    def rot(v):  # v [T, H, hd]
        vc = torch.view_as_complex(v.float().reshape(*v.shape[:-1], -1, 2))
        return torch.view_as_real(vc * cis[:, None, :]).flatten(2)

    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(p["n_layers"]):
        L = f"layers.{i}."
        h = rms(x, sd[L + "attention_norm.weight"])
        q = (h @ sd[L + "attention.wq.weight"].T).view(T, nh, hd)
        k = (h @ sd[L + "attention.wk.weight"].T).view(T, nkv, hd)
        v = (h @ sd[L + "attention.wv.weight"].T).view(T, nkv, hd)
        q, k = rot(q), rot(k)
        rep = nh // nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        a = torch.einsum("hts,shd->thd", s.softmax(-1), v).reshape(T, dim)
        x = x + a @ sd[L + "attention.wo.weight"].T
        h = rms(x, sd[L + "ffn_norm.weight"])
        x = x + (F.silu(h @ sd[L + "feed_forward.w1.weight"].T) * (h @ sd[L + "feed_forward.w3.weight"].T)) \
            @ sd[L + "feed_forward.w2.weight"].T
    return rms(x, sd["norm.weight"]) @ sd["output.weight"].T


def llama_meta(report):
    folder = os.path.join(C.OUT, "layouts", "llama-meta")
    os.makedirs(folder, exist_ok=True)
    seed = 301
    torch.manual_seed(seed)
    # Meta's FFN width: multiple_of * ceil((2 * 4 * dim / 3) / multiple_of) = 32 * ceil(170.67 / 32) = 192
    params = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 600, "multiple_of": 32,
              "ffn_dim_multiplier": None, "norm_eps": 1e-05, "rope_theta": 10000.0, "max_seq_len": 128}
    cfg = transformers.LlamaConfig(vocab_size=600, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                   rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                                   tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = transformers.LlamaForCausalLM._from_config(cfg, attn_implementation="eager")
    model.eval()
    C.jiggle(model, seed)
    tok = transformers.AutoTokenizer.from_pretrained(os.path.join(C.IN, "llama-tiny-gqa"))
    ids = C.prompt_ids(tok, 40, bos=1)
    logits = C.logits_of(model, ids)
    gen = C.greedy(model, ids)
    hf = {k: v.detach().clone() for k, v in model.state_dict().items()}
    dim, nh, nkv = 64, 4, 2
    hd = dim // nh
    sd = {"tok_embeddings.weight": hf["model.embed_tokens.weight"], "norm.weight": hf["model.norm.weight"],
          "output.weight": hf["lm_head.weight"]}
    for i in range(2):
        H, L = f"model.layers.{i}.", f"layers.{i}."
        wq = hf_unpermute(hf[H + "self_attn.q_proj.weight"], nh, dim, dim)
        wk = hf_unpermute(hf[H + "self_attn.k_proj.weight"], nkv, nkv * hd, dim)
        assert torch.equal(hf_permute(wq, nh, dim, dim), hf[H + "self_attn.q_proj.weight"])
        assert torch.equal(hf_permute(wk, nkv, nkv * hd, dim), hf[H + "self_attn.k_proj.weight"])
        sd[L + "attention.wq.weight"] = wq
        sd[L + "attention.wk.weight"] = wk
        sd[L + "attention.wv.weight"] = hf[H + "self_attn.v_proj.weight"]
        sd[L + "attention.wo.weight"] = hf[H + "self_attn.o_proj.weight"]
        sd[L + "feed_forward.w1.weight"] = hf[H + "mlp.gate_proj.weight"]
        sd[L + "feed_forward.w2.weight"] = hf[H + "mlp.down_proj.weight"]
        sd[L + "feed_forward.w3.weight"] = hf[H + "mlp.up_proj.weight"]
        sd[L + "attention_norm.weight"] = hf[H + "input_layernorm.weight"]
        sd[L + "ffn_norm.weight"] = hf[H + "post_attention_layernorm.weight"]
    sd = {k: v.contiguous() for k, v in sd.items()}
    save_file(sd, os.path.join(folder, "consolidated.00.safetensors"))
    C.dump_json(os.path.join(folder, "params.json"), params)
    with torch.no_grad():
        ref = meta_forward(sd, params, ids)
    check = C.max_abs(ref, logits)
    # the same tensors used without un-permuting (a plausible loader bug) move the logits by this much
    sd_wrong = dict(sd)
    for i in range(2):
        sd_wrong[f"layers.{i}.attention.wq.weight"] = hf[f"model.layers.{i}.self_attn.q_proj.weight"]
        sd_wrong[f"layers.{i}.attention.wk.weight"] = hf[f"model.layers.{i}.self_attn.k_proj.weight"]
    with torch.no_grad():
        wrong = C.max_abs(meta_forward(sd_wrong, params, ids), logits)
    C.write_golden(folder, ids, logits, gen, {
        "from": "LlamaForCausalLM (transformers) with the config in hf_config.json; logits are transformers'",
        "tokenizer": "SentencePiece-style BPE of shared/golden/llama-tiny-gqa (BOS 1 prepended)",
        "meta_style_forward_max_abs_diff": check,
        "hf_order_qk_used_as_meta_max_abs_diff": wrong,
        "greedy": "argmax, full recomputation each step, no stop at EOS",
    })
    C.dump_json(os.path.join(folder, "hf_config.json"), json.loads(cfg.to_json_string()))
    report["llama-meta"] = {"meta_forward_diff": check, "unpermuted_qk_diff": wrong, "greedy": gen[:8]}
    print(f"[layouts] llama-meta: {report['llama-meta']}", flush=True)
    assert check < 1e-4, f"Meta-style forward differs from transformers by {check}"


def nanogpt_forward(sd, a, ids):
    T = len(ids)
    C_ = a["n_embd"]
    nh = a["n_head"]
    x = sd["transformer.wte.weight"][torch.tensor(ids)] + sd["transformer.wpe.weight"][:T]

    def ln(v, p):
        return F.layer_norm(v, (C_,), sd[p + ".weight"], sd[p + ".bias"], 1e-5)

    def lin(v, p):
        return v @ sd[p + ".weight"].T + sd[p + ".bias"]

    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(a["n_layer"]):
        P = f"transformer.h.{i}."
        q, k, v = lin(ln(x, P + "ln_1"), P + "attn.c_attn").split(C_, dim=-1)
        q, k, v = (t.view(T, nh, C_ // nh) for t in (q, k, v))
        s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(C_ // nh) + mask
        y = torch.einsum("hts,shd->thd", s.softmax(-1), v).reshape(T, C_)
        x = x + lin(y, P + "attn.c_proj")
        x = x + lin(F.gelu(lin(ln(x, P + "ln_2"), P + "mlp.c_fc")), P + "mlp.c_proj")
    return ln(x, "transformer.ln_f") @ sd["lm_head.weight"].T


def nanogpt(report):
    folder = os.path.join(C.OUT, "layouts", "nanogpt-gpt2")
    os.makedirs(folder, exist_ok=True)
    seed = 302
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=600, n_positions=128, n_embd=64, n_layer=2, n_head=4,
                                  activation_function="gelu", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                                  bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel._from_config(cfg, attn_implementation="eager")
    model.eval()
    C.jiggle(model, seed, emb_std=0.2)  # tied head: a small embedding keeps greedy from repeating the last token
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(C.IN, "bytelevel-bpe-tokenizer", "tokenizer.json"),
                                  bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    ids = C.prompt_ids(tok, 40)
    logits = C.logits_of(model, ids)
    gen = C.greedy(model, ids)
    hf = {k: v.detach().clone() for k, v in model.state_dict().items()}
    conv1d = type(model.transformer.h[0].attn.c_attn).__name__ == "Conv1D"
    sd = {}
    for k, v in hf.items():
        if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias") or k == "lm_head.weight":
            continue
        name = k if k.startswith("transformer.") else "transformer." + k
        if any(name.endswith(s) for s in ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                                          "mlp.c_proj.weight")) and conv1d:
            v = v.t()  # Conv1D [in, out] -> nn.Linear [out, in]
        sd[name] = v.contiguous()
    sd["lm_head.weight"] = sd["transformer.wte.weight"].clone()
    save_file(sd, os.path.join(folder, "model.safetensors"))
    args = {"n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 128, "bias": True, "vocab_size": 600,
            "dropout": 0.0}
    C.dump_json(os.path.join(folder, "model_args.json"), args)
    with torch.no_grad():
        ref = nanogpt_forward(sd, args, ids)
    check = C.max_abs(ref, logits)
    C.write_golden(folder, ids, logits, gen, {
        "from": "GPT2LMHeadModel (transformers, activation_function gelu = exact erf GELU, as nanoGPT's "
                "nn.GELU()) with the config in hf_config.json; logits are transformers'",
        "tokenizer": "byte-level BPE of shared/golden/bytelevel-bpe-tokenizer (no BOS)",
        "nanogpt_style_forward_max_abs_diff": check,
        "greedy": "argmax, full recomputation each step, no stop at EOS",
    })
    C.dump_json(os.path.join(folder, "hf_config.json"), json.loads(cfg.to_json_string()))
    report["nanogpt-gpt2"] = {"nanogpt_forward_diff": check, "greedy": gen[:8]}
    print(f"[layouts] nanogpt-gpt2: {report['nanogpt-gpt2']}", flush=True)
    assert check < 1e-4, f"nanoGPT-style forward differs from transformers by {check}"


def main():
    C.setup()
    report = {}
    for fn in (llama_meta, nanogpt):
        try:
            fn(report)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            report[fn.__name__] = f"error: {type(e).__name__}: {e}"
    C.dump_json(os.path.join(C.OUT, "layouts", "_report.json"), report)


if __name__ == "__main__":
    main()
