"""Checks tools/pt_to_safetensors.py with real PyTorch: checkpoints saved by torch.save in the shapes
training code writes them are converted, and every tensor comes back bit-identical under its model name.

    python3 tools/refs/pt_check.py OUTDIR

Starts from the committed nanoGPT-layout fixture (tests/fixtures/ref/layouts/nanogpt-gpt2), so the
converted folder is the one `ablab import --nanogpt` is tested on. Cases:
  nanogpt   nanoGPT's ckpt.pt: {"model": state dict with torch.compile's "_orig_mod." prefix and a
            lm_head tied to wte (shared storage), "optimizer": AdamW state after one step,
            "model_args", "iter_num", "best_val_loss" (a tensor), "config"}
  ddp       {"state_dict": names with DataParallel's "module." prefix}
  plain     a bare state dict
  msd       {"model_state_dict": ..., "epoch": 3}
Writes OUTDIR/report.json and exits non-zero on any mismatch.
"""
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(ROOT, "tests", "fixtures", "ref", "layouts", "nanogpt-gpt2")
SCRIPT = os.path.join(ROOT, "tools", "pt_to_safetensors.py")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sd = load_file(os.path.join(SRC, "model.safetensors"))
    args = json.load(open(os.path.join(SRC, "model_args.json")))
    report = {"torch": torch.__version__, "cases": {}}
    ok = True

    # nanoGPT ties lm_head to wte: the saved dict holds two names over one storage
    tied = {k: v.clone() for k, v in sd.items()}
    if "lm_head.weight" in tied:
        tied["lm_head.weight"] = tied["transformer.wte.weight"]
    params = [torch.nn.Parameter(v) for k, v in tied.items() if k != "lm_head.weight"]
    opt = torch.optim.AdamW(params, lr=1e-3)
    sum((p * p).sum() for p in params).backward()
    opt.step()
    for p in params:
        p.grad = None
    with torch.no_grad():  # the step moved the weights: use the originals again
        for p, (k, v) in zip(params, [(k, v) for k, v in sd.items() if k != "lm_head.weight"]):
            p.copy_(v)
    cases = {
        "nanogpt": {"model": {"_orig_mod." + k: v for k, v in tied.items()}, "optimizer": opt.state_dict(),
                    "model_args": args, "iter_num": 1, "best_val_loss": torch.tensor(3.25),
                    "config": {"dataset": "shakespeare_char", "n_layer": args.get("n_layer"), "dropout": 0.0}},
        "ddp": {"state_dict": {"module." + k: v for k, v in sd.items()}},
        "plain": dict(sd),
        "msd": {"model_state_dict": dict(sd), "epoch": 3},
    }
    for name, ckpt in cases.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        pt = os.path.join(d, "ckpt.pt")
        torch.save(ckpt, pt)
        dst = os.path.join(d, "model.safetensors")
        r = subprocess.run([sys.executable, SCRIPT, pt, dst], capture_output=True, text=True)
        case = {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr[-2000:]}
        if r.returncode == 0:
            got = load_file(dst)
            case["names_equal"] = sorted(got) == sorted(sd)
            case["bit_identical"] = case["names_equal"] and all(torch.equal(got[k], sd[k]) for k in sd)
            if name == "nanogpt":
                case["model_args_equal"] = json.load(open(os.path.join(d, "model_args.json"))) == args
            os.remove(pt)
        good = r.returncode == 0 and case.get("bit_identical") and case.get("model_args_equal", True)
        case["ok"] = bool(good)
        ok = ok and bool(good)
        report["cases"][name] = case
        print(name, "ok" if good else "FAIL", flush=True)
    json.dump(report, open(os.path.join(out, "report.json"), "w"), indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
