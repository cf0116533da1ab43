"""PEFT LoRA adapters on the shared golden models, with the adapted model's logits and greedy tokens.

Writes REFS_OUT/peft/<name>/: adapter_config.json + adapter_model.safetensors (PeftModel.save_pretrained)
plus golden.json (input_ids of the base folder's golden.json) and logits.f32.
lora_A keeps PEFT's own seeded init; lora_B (zero at init) is set to N(0, 0.1) so the adapter changes
the output.
"""
import json
import os
import traceback

import peft
import torch
import transformers

import common as C

BASES = {
    "llama-tiny-gqa": os.path.join(C.IN, "llama-tiny-gqa"),
    "gpt2-tiny-random": os.path.join(C.IN, "gpt2-tiny-random"),
}

ADAPTERS = {
    "llama-lora": dict(base="llama-tiny-gqa", seed=201,
                       cfg=dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
                                lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")),
    "llama-rslora": dict(base="llama-tiny-gqa", seed=202,
                         cfg=dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
                                  lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", use_rslora=True)),
    # the GPT-2 vocabulary is 50257 wide: the first 6 prompt tokens keep logits.f32 near 1.2 MB
    "gpt2-lora": dict(base="gpt2-tiny-random", seed=203, n_ids=6,
                      cfg=dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True,
                               lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")),
}


def make(name, spec, report):
    base_dir = BASES[spec["base"]]
    ids = json.load(open(os.path.join(base_dir, "golden.json")))["input_ids"][: spec.get("n_ids")]
    base = transformers.AutoModelForCausalLM.from_pretrained(base_dir, attn_implementation="eager",
                                                             dtype=torch.float32)
    base.eval()
    base_logits = C.logits_of(base, ids)
    torch.manual_seed(spec["seed"])
    model = peft.get_peft_model(base, peft.LoraConfig(**spec["cfg"]))
    g = torch.Generator().manual_seed(spec["seed"] + 1000)
    n_b = 0
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "lora_B" in pname:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
                n_b += 1
    assert n_b > 0, "no lora_B parameters found"
    model.eval()
    folder = os.path.join(C.OUT, "peft", name)
    model.save_pretrained(folder)
    # reload the saved adapter onto a fresh base, as a user would
    base2 = transformers.AutoModelForCausalLM.from_pretrained(base_dir, attn_implementation="eager",
                                                              dtype=torch.float32)
    model2 = peft.PeftModel.from_pretrained(base2, folder)
    model2.eval()
    logits = C.logits_of(model2, ids)
    gen = C.greedy(model2, ids)
    scaling = sorted({float(v) for m in model2.modules() if hasattr(m, "scaling") and isinstance(m.scaling, dict)
                      for v in m.scaling.values()})
    C.write_golden(folder, ids, logits, gen, {
        "base_model": f"shared/golden/{spec['base']}",
        "input_ids_from": f"shared/golden/{spec['base']}/golden.json input_ids"
                          + (f", first {spec['n_ids']}" if spec.get("n_ids") else ""),
        "lora_config": spec["cfg"],
        "lora_scaling": scaling,
        "lora_B_init": "N(0, 0.1), torch.Generator seed %d" % (spec["seed"] + 1000),
        "max_abs_diff_vs_base": C.max_abs(logits, base_logits),
        "greedy": "argmax, full recomputation each step, no stop at EOS",
    })
    report[name] = {"scaling": scaling, "diff_vs_base": C.max_abs(logits, base_logits), "greedy": gen[:8]}
    print(f"[peft] {name}: {report[name]}", flush=True)


def main():
    C.setup()
    report = {}
    for name, spec in ADAPTERS.items():
        try:
            make(name, spec, report)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            report[name] = f"error: {type(e).__name__}: {e}"
    C.dump_json(os.path.join(C.OUT, "peft", "_report.json"), report)


if __name__ == "__main__":
    main()
