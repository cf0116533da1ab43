"""Tiny random checkpoints of several model families, with transformers' own logits and greedy tokens.

Writes REFS_OUT/models/<name>/: what save_pretrained writes (config.json, generation_config.json,
model.safetensors, tokenizer.json, tokenizer_config.json) plus golden.json and logits.f32.
golden.json also carries `feature_deltas`: for each math-changing feature, the max |logit difference|
over all prompt positions between this model and the same weights with that feature switched off,
so the references prove the feature is visible.
"""
import copy
import json
import os
import sys
import traceback

import torch
import transformers
from transformers import PreTrainedTokenizerFast

import common as C

SPM_TOK = os.path.join(C.IN, "llama-tiny-gqa")              # 600-token SentencePiece-style BPE (<unk>, <s>, </s>)
BYTE_TOK = os.path.join(C.IN, "bytelevel-bpe-tokenizer", "tokenizer.json")  # 600-token byte-level BPE


def spm_tokenizer():
    return transformers.AutoTokenizer.from_pretrained(SPM_TOK)


def byte_tokenizer():
    return PreTrainedTokenizerFast(tokenizer_file=BYTE_TOK, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token=None)


SPM_IDS = dict(bos_token_id=1, eos_token_id=2, pad_token_id=0)
BYTE_IDS = dict(bos_token_id=0, eos_token_id=0, pad_token_id=None)


def rope(theta, **kw):
    d = {"rope_type": "default", "rope_theta": float(theta)}
    d.update(kw)
    return d


# name -> (config class, model class, kwargs, tokenizer kind, seed, ablations, notes)
# ablations: name -> function(kwargs) -> kwargs with that feature switched off
def specs():
    T = transformers
    S = {}
    S["phi"] = dict(
        cfg=T.PhiConfig, cls=T.PhiForCausalLM, tok="byte", seed=101,
        kw=dict(vocab_size=600, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                num_attention_heads=4, hidden_act="gelu_new", max_position_embeddings=128,
                layer_norm_eps=1e-5, partial_rotary_factor=0.5,
                rope_parameters=rope(10000.0, partial_rotary_factor=0.5), qk_layernorm=False,
                tie_word_embeddings=False, **BYTE_IDS),
        abl={"partial_rotary_factor_1.0": lambda k: dict(k, partial_rotary_factor=1.0,
                                                         rope_parameters=rope(10000.0, partial_rotary_factor=1.0))},
        notes="PhiForCausalLM: parallel attention+MLP off one LayerNorm, partial rotary 0.5 (8 of 16 dims), "
              "gelu_new, biases everywhere, untied lm_head with bias.")
    for name, par, pct, seed in (("gpt_neox-parallel", True, 0.25, 102), ("gpt_neox-sequential", False, 0.5, 103)):
        S[name] = dict(
            cfg=T.GPTNeoXConfig, cls=T.GPTNeoXForCausalLM, tok="byte", seed=seed,
            kw=dict(vocab_size=600, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, hidden_act="gelu", max_position_embeddings=128,
                    layer_norm_eps=1e-5, use_parallel_residual=par, rotary_pct=pct,
                    rope_parameters=rope(10000.0, partial_rotary_factor=pct),
                    tie_word_embeddings=False, attention_bias=True, **BYTE_IDS),
            abl={"use_parallel_residual_flipped": (lambda p: (lambda k: dict(k, use_parallel_residual=not p)))(par)},
            notes=f"GPTNeoXForCausalLM: use_parallel_residual={par}, rotary_pct {pct} "
                  f"({int(16 * pct)} of 16 head dims), hidden_act gelu (erf), fused query_key_value "
                  f"laid out per head [q|k|v], untied embed_out.")
    S["qwen2"] = dict(
        cfg=T.Qwen2Config, cls=T.Qwen2ForCausalLM, tok="byte", seed=104,
        kw=dict(vocab_size=600, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                rms_norm_eps=1e-6, rope_parameters=rope(1e6), tie_word_embeddings=False,
                **BYTE_IDS),
        abl={"rope_theta_1e4": lambda k: dict(k, rope_parameters=rope(1e4))},
        notes="Qwen2ForCausalLM: q/k/v projections with bias, o_proj without, GQA 4/2, rope_theta 1e6, untied head.")
    S["qwen2-tied"] = dict(
        cfg=T.Qwen2Config, cls=T.Qwen2ForCausalLM, tok="byte", seed=105,
        kw=dict(vocab_size=600, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=128,
                rms_norm_eps=1e-6, rope_parameters=rope(1e6), tie_word_embeddings=True,
                **BYTE_IDS),
        emb_std=[0.1, 0.05], abl={}, notes="Qwen2ForCausalLM with tie_word_embeddings (no lm_head.weight in the file), MQA (1 kv head), 3 layers.")
    S["qwen3"] = dict(
        cfg=T.Qwen3Config, cls=T.Qwen3ForCausalLM, tok="byte", seed=106,
        kw=dict(vocab_size=600, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=24, max_position_embeddings=128,
                rms_norm_eps=1e-6, rope_parameters=rope(1e6), tie_word_embeddings=False,
                attention_bias=False, **BYTE_IDS),
        abl={}, notes="Qwen3ForCausalLM: head_dim 24 with hidden 64 / 4 heads (q_proj 64->96), per-head q_norm/k_norm "
                      "RMSNorm before RoPE, GQA 4/2, no biases, untied head.")
    llama_base = dict(vocab_size=600, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      rms_norm_eps=1e-5, tie_word_embeddings=False, **SPM_IDS)
    S["llama-rope-llama3"] = dict(
        cfg=T.LlamaConfig, cls=T.LlamaForCausalLM, tok="spm", seed=107,
        kw=dict(llama_base, rope_parameters=rope(10000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                 high_freq_factor=4.0, original_max_position_embeddings=16)),
        abl={"rope_scaling_off": lambda k: dict(k, rope_parameters=rope(10000.0))},
        notes="LlamaForCausalLM with rope_type llama3 (factor 8, low 1, high 4, original_max_position_embeddings 16).")
    S["llama-rope-linear"] = dict(
        cfg=T.LlamaConfig, cls=T.LlamaForCausalLM, tok="spm", seed=108,
        kw=dict(llama_base, rope_parameters=rope(10000.0, rope_type="linear", factor=2.0)),
        abl={"rope_scaling_off": lambda k: dict(k, rope_parameters=rope(10000.0))},
        notes="LlamaForCausalLM with rope_type linear, factor 2 (positions divided by 2).")
    S["llama-head-dim"] = dict(
        cfg=T.LlamaConfig, cls=T.LlamaForCausalLM, tok="spm", seed=109,
        kw=dict(llama_base, head_dim=32, rope_parameters=rope(10000.0)),
        abl={}, notes="LlamaForCausalLM with explicit head_dim 32 != hidden/heads (16): q_proj 64->128, o_proj 128->64.")
    S["llama-smollm-tied"] = dict(
        cfg=T.LlamaConfig, cls=T.LlamaForCausalLM, tok="spm", seed=110,
        kw=dict(llama_base, hidden_size=96, intermediate_size=192, num_hidden_layers=2, num_attention_heads=6,
                num_key_value_heads=2, tie_word_embeddings=True, rope_parameters=rope(100000.0)),
        eos_list=[2, 3], emb_std=0.2,
        abl={}, notes="SmolLM2-style LlamaForCausalLM: tied head, 96 wide, 2 layers, 6 heads / 2 kv heads, rope_theta 1e5; "
                      "generation_config.eos_token_id is a list [2, 3].")
    S["gemma3_text"] = dict(
        cfg=T.Gemma3TextConfig, cls=T.Gemma3ForCausalLM, tok="spm", seed=111,
        kw=dict(vocab_size=600, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24,
                hidden_activation="gelu_pytorch_tanh", max_position_embeddings=128, rms_norm_eps=1e-6,
                sliding_window=8, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                rope_parameters={"full_attention": rope(1e6), "sliding_attention": rope(1e4)},
                final_logit_softcapping=8.0, attn_logit_softcapping=None, tie_word_embeddings=True,
                **SPM_IDS),
        emb_std=[0.1, 0.05], gemma_norm_base=1.0,
        abl={
            "sliding_window_off": lambda k: dict(k, sliding_window=128),
            "final_logit_softcapping_off": lambda k: dict(k, final_logit_softcapping=None),
            "rope_local_base_freq_as_global": lambda k: dict(
                k, rope_parameters={"full_attention": rope(1e6), "sliding_attention": rope(1e6)}),
            "query_pre_attn_scalar_as_head_dim": lambda k: dict(k, query_pre_attn_scalar=16),
        },
        notes="Gemma3ForCausalLM (gemma3_text): layers 0,1 sliding (window 8) with rope theta 1e4, layer 2 full with "
              "rope theta 1e6; query_pre_attn_scalar 24 != head_dim 16; final_logit_softcapping 8; (1+w) RMSNorms "
              "incl. q/k norms and the four per-layer norms; embeddings scaled by sqrt(hidden); tied head.")
    return S


def build(spec, kw):
    cfg = spec["cfg"](**copy.deepcopy(kw))
    try:
        m = spec["cls"]._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    except TypeError:
        m = spec["cls"]._from_config(cfg, attn_implementation="eager")
    m.eval()
    return m


def pick_weights(spec, ids):
    """Seeded random weights. Where several embedding scales are listed (tied heads), the first whose
    24 greedy tokens hold at least 10 distinct ids is kept, so the decode loop does not settle on
    repeating one token (a tied head favours the current token's own embedding)."""
    stds = spec.get("emb_std", 1.0)
    stds = stds if isinstance(stds, list) else [stds]
    for std in stds:
        torch.manual_seed(spec["seed"])
        model = build(spec, spec["kw"])
        C.jiggle(model, spec["seed"], emb_std=std, gemma_norm_base=spec.get("gemma_norm_base", 0.0))
        gen = C.greedy(model, ids)
        print(f"[models]   emb_std {std}: greedy {gen}", flush=True)
        if len(set(gen)) >= 10:
            break
    return model, std


def make(name, spec, out_root, report):
    folder = os.path.join(out_root, "models", name)
    os.makedirs(folder, exist_ok=True)
    tok = spm_tokenizer() if spec["tok"] == "spm" else byte_tokenizer()
    bos = 1 if spec["tok"] == "spm" else None
    ids = C.prompt_ids(tok, 40, bos=bos)
    model, emb_std = pick_weights(spec, ids)
    if spec.get("eos_list"):
        model.generation_config.eos_token_id = spec["eos_list"]
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    # reload from disk, as a user would, and compute the references from the reloaded model
    model = spec["cls"].from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    logits = C.logits_of(model, ids)
    gen = C.greedy(model, ids)
    deltas = {}
    sd = model.state_dict()
    for aname, fn in spec["abl"].items():
        try:
            m2 = build(spec, fn(spec["kw"]))
            missing, unexpected = m2.load_state_dict(sd, strict=False)
            if missing or unexpected:
                raise RuntimeError(f"state_dict mismatch: missing {missing} unexpected {unexpected}")
            deltas[aname] = C.max_abs(logits, C.logits_of(m2, ids))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            deltas[aname] = f"error: {type(e).__name__}: {e}"
    extra = {
        "prompt_text_prefix_of": C.PROMPT_TEXT,
        "tokenizer": "SentencePiece-style BPE of shared/golden/llama-tiny-gqa (BOS 1 prepended)" if bos is not None
        else "byte-level BPE of shared/golden/bytelevel-bpe-tokenizer (no BOS)",
        "greedy": "argmax, full recomputation each step, no stop at EOS",
        "weights": f"random, seed {spec['seed']}: matrices N(0, 0.1), input embedding N(0, {emb_std}), "
                   "untied head N(0, 0.2), biases N(0, 0.1), norm weights 1 + N(0, 0.25) (Gemma: stored "
                   f"{spec.get('gemma_norm_base', 0.0)} + N(0, 0.25), used as 1 + w), norm biases N(0, 0.1)",
        "feature_deltas_max_abs": deltas,
        "notes": spec["notes"],
    }
    C.write_golden(folder, ids, logits, gen, extra)
    report[name] = {"T": len(ids), "deltas": deltas, "greedy": gen[:8], "top5": [int(i) for i in torch.topk(logits[-1], 5).indices]}
    print(f"[models] {name}: T={len(ids)} deltas={deltas} greedy[:8]={gen[:8]}", flush=True)


def main():
    C.setup()
    report = {}
    only = sys.argv[1:]
    for name, spec in specs().items():
        if only and name not in only:
            continue
        try:
            make(name, spec, C.OUT, report)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            report[name] = f"error: {type(e).__name__}: {e}"
            print(f"[models] {name} FAILED: {e}", flush=True)
    C.dump_json(os.path.join(C.OUT, "models", "_report.json"), report)


if __name__ == "__main__":
    main()
