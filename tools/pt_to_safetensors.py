#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pt / .pth / nanoGPT's ckpt.pt) to safetensors, in YOUR Python.

ablab never opens pickles: unpickling runs whatever code the file names. Run this where you trained
(it needs torch and safetensors, which that environment has), then `ablab import` the result.

    python3 tools/pt_to_safetensors.py out/ckpt.pt out/model.safetensors

What it handles:
  - a plain state dict ({name: tensor}), or a dict holding one under "model" (nanoGPT),
    "state_dict" or "model_state_dict" (most training loops);
  - the "_orig_mod." prefix torch.compile adds to every name, and "module." from DataParallel;
  - nanoGPT's "model_args" (written beside the output as model_args.json, which
    `ablab import --nanogpt` reads);
  - tensors that share memory (a tied head): each is written as its own copy.
Only tensors are kept; optimizer state and other entries are left out (it says which).
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    import torch
    from safetensors.torch import save_file

    # weights_only=True refuses arbitrary objects; nanoGPT's ckpt.pt is plain dicts and tensors
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    sd, skipped = ckpt, []
    if isinstance(ckpt, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(ckpt.get(key), dict):
                sd = ckpt[key]
                skipped = [k for k in ckpt if k != key]
                break
    if not isinstance(sd, dict):
        sys.exit(f"{src}: no state dict found (a {type(sd).__name__})")
    out = {}
    for name, t in sd.items():
        if not torch.is_tensor(t):
            skipped.append(name)
            continue
        for prefix in ("_orig_mod.", "module."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        out[name] = t.detach().contiguous().clone()
    if not out:
        sys.exit(f"{src}: the state dict holds no tensors")
    save_file(out, dst, metadata={"format": "pt", "converted_from": os.path.basename(src)})
    print(f"wrote {dst}: {len(out)} tensors")
    if isinstance(ckpt, dict) and isinstance(ckpt.get("model_args"), dict):
        args = {k: v for k, v in ckpt["model_args"].items() if isinstance(v, (int, float, bool, str)) or v is None}
        path = os.path.join(os.path.dirname(os.path.abspath(dst)), "model_args.json")
        with open(path, "w") as f:
            json.dump(args, f, indent=1)
        print(f"wrote {path} (nanoGPT's model_args)")
    if skipped:
        print("left out (not tensors of the model): " + ", ".join(map(str, skipped)))


if __name__ == "__main__":
    main()
