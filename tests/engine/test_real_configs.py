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
import json, os, subprocess, tempfile

from checks import check, finish
from real_configs_lib import numel, tensors, write_sparse

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
