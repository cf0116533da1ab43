"""Convert the tiny model folders to GGUF with llama.cpp's own convert_hf_to_gguf.py (--outtype f32).

Usage: python3 gguf_convert.py LLAMACPP_DIR MODEL_DIR...
  (internal) python3 gguf_convert.py --run LLAMACPP_DIR SRC_DIR OUTFILE TOKPRE

Two adaptations, both outside the converter's code, recorded in each gguf.json:
 1. The converter predates transformers 5 and reads the old config keys (rope_theta, rope_scaling with
    `type`, rotary_pct, top-level original_max_position_embeddings). transformers 5 writes them inside
    `rope_parameters`. The converter therefore reads a copy of config.json with those old keys added
    (values taken from rope_parameters); the other files are linked unchanged.
 2. Its BPE pre-tokenizer check hashes the encoding of a fixed string and refuses unknown tokenizers. The
    method get_vocab_base_pre is wrapped: when it raises NotImplementedError the wrapper returns the
    pre-tokenizer name given on the command line ("gpt-2" for the byte-level BPE tokenizer).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run_converter(llamacpp, src, outfile, tokpre):
    sys.path.insert(0, os.path.join(llamacpp, "gguf-py"))
    sys.path.insert(0, llamacpp)
    import convert_hf_to_gguf as conv  # noqa: E402

    orig = conv.Model.get_vocab_base_pre

    def patched(self, tokenizer):
        try:
            return orig(self, tokenizer)
        except NotImplementedError:
            print(f"[gguf] pre-tokenizer hash not known to the converter; writing tokenizer.ggml.pre={tokpre!r}",
                  flush=True)
            return tokpre

    conv.Model.get_vocab_base_pre = patched
    sys.argv = ["convert_hf_to_gguf.py", src, "--outtype", "f32", "--outfile", outfile]
    conv.main()


def legacy_config(cfg):
    """Add the pre-transformers-5 spellings of the rope settings that the converter reads."""
    added = {}
    rp = cfg.get("rope_parameters")
    if isinstance(rp, dict) and "rope_theta" not in rp and "full_attention" in rp:
        rp = rp["full_attention"]  # gemma-style per-layer-type parameters
    if isinstance(rp, dict):
        if "rope_theta" in rp and "rope_theta" not in cfg:
            added["rope_theta"] = rp["rope_theta"]
        if "partial_rotary_factor" in rp:
            if cfg.get("model_type") == "gpt_neox" and "rotary_pct" not in cfg:
                added["rotary_pct"] = rp["partial_rotary_factor"]
            if "partial_rotary_factor" not in cfg:
                added["partial_rotary_factor"] = rp["partial_rotary_factor"]
        rtype = rp.get("rope_type", "default")
        if rtype != "default" and "rope_scaling" not in cfg:
            sc = {k: v for k, v in rp.items() if k not in ("rope_theta", "partial_rotary_factor")}
            sc["type"] = rtype
            sc["rope_type"] = rtype
            added["rope_scaling"] = sc
            if "original_max_position_embeddings" in rp:
                added["original_max_position_embeddings"] = rp["original_max_position_embeddings"]
    return added


def field_value(reader_mod, f):
    T = reader_mod.GGUFValueType
    t0 = f.types[0] if f.types else None
    if t0 == T.ARRAY:
        if len(f.data) > 16:
            return f"<array of {len(f.data)}>"
        sub = f.types[-1]
        vals = []
        for i in f.data:
            part = f.parts[i]
            vals.append(bytes(part).decode("utf-8", "replace") if sub == T.STRING else part.tolist()[0])
        return vals
    part = f.parts[f.data[0]]
    if t0 == T.STRING:
        return bytes(part).decode("utf-8", "replace")
    v = part.tolist()[0]
    return v


def describe(llamacpp, path):
    sys.path.insert(0, os.path.join(llamacpp, "gguf-py"))
    import gguf  # noqa: E402
    r = gguf.GGUFReader(path, "r")
    meta = {}
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        try:
            meta[name] = field_value(gguf, f)
        except Exception as e:  # noqa: BLE001
            meta[name] = f"<unreadable: {e}>"
    tensors = [[t.name, [int(x) for x in t.shape], t.tensor_type.name] for t in r.tensors]
    return meta, tensors


def main():
    if sys.argv[1] == "--run":
        run_converter(*sys.argv[2:6])
        return
    llamacpp = sys.argv[1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common as C
    commit = open(os.path.join(llamacpp, "COMMIT")).read().strip() if os.path.exists(
        os.path.join(llamacpp, "COMMIT")) else "unknown"
    for folder in sys.argv[2:]:
        name = os.path.basename(folder.rstrip("/"))
        cfg = json.load(open(os.path.join(folder, "config.json")))
        added = legacy_config(cfg)
        tmproot = tempfile.mkdtemp(prefix="gguf-")
        tmp = os.path.join(tmproot, name)  # the converter names the model after its folder
        os.makedirs(tmp)
        for fn in os.listdir(folder):
            if fn in ("config.json", "golden.json", "logits.f32", "gguf.json", "model.gguf"):
                continue
            os.symlink(os.path.abspath(os.path.join(folder, fn)), os.path.join(tmp, fn))
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(dict(cfg, **added), f, indent=1)
        tok = json.load(open(os.path.join(folder, "tokenizer.json")))
        tokpre = "gpt-2" if (tok.get("pre_tokenizer") or {}).get("type") == "ByteLevel" else "default"
        out = os.path.join(folder, "model.gguf")
        info = {"converter": "llama.cpp convert_hf_to_gguf.py --outtype f32", "llama_cpp_commit": commit,
                "config_keys_added_for_converter": added, "pre_tokenizer_fallback": tokpre}
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--run", llamacpp, tmp, out, tokpre],
                           capture_output=True, text=True)
        log = (p.stdout + p.stderr)[-6000:]
        if p.returncode != 0 or not os.path.exists(out):
            info["error"] = f"converter exit {p.returncode}"
            info["log_tail"] = log[-3000:]
            print(f"[gguf] {name}: FAILED rc={p.returncode}\n{log}", flush=True)
            if os.path.exists(out):
                os.remove(out)
        else:
            info["file"] = "model.gguf"
            info["sha256"] = C.sha256(out)
            info["bytes"] = os.path.getsize(out)
            info["pre_tokenizer_fallback_used"] = "pre-tokenizer hash not known" in log
            try:
                meta, tensors = describe(llamacpp, out)
                info["metadata"] = meta
                info["tensors"] = tensors
            except Exception as e:  # noqa: BLE001
                info["describe_error"] = f"{type(e).__name__}: {e}"
            print(f"[gguf] {name}: ok {info['bytes']} bytes", flush=True)
        shutil.rmtree(tmproot, ignore_errors=True)
        C.dump_json(os.path.join(folder, "gguf.json"), info)


if __name__ == "__main__":
    main()
