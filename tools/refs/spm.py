"""SentencePiece references: models trained with the sentencepiece library on tinyshakespeare, and the
library's own encodings of a fixed list of awkward strings; plus the fast (tokenizers) conversion that
transformers makes of the default model, and its ids for the same strings.

Writes REFS_OUT/spm/<name>/{<name>.model, <name>.vocab, encode.json, train_args.json} and
REFS_OUT/spm/unigram-default/fast-*/tokenizer.json + fast_encode.json.
"""
import json
import os
import shutil
import tempfile
import traceback

import sentencepiece as spm

import common as C

CORPUS = os.path.join(C.IN, "tinyshakespeare.txt")

STRINGS = [
    "",
    "Hello world",
    "First Citizen: Before we proceed any further, hear me speak.",
    " leading space",
    "trailing space ",
    "   three leading spaces",
    "double  space and   triple",
    "tab\tseparated\tvalues",
    "line one\nline two\n\nline four",
    "\u3000ideographic space\u3000",
    "non\u00a0breaking\u00a0space",
    "ＦＵＬＬ－ＷＩＤＴＨ ｌｅｔｔｅｒｓ １２３",
    "ﬁne ﬂour, ﬀ ligatures",
    "① ② ③ circled, Ⅻ roman, ¼ fraction, ㎏ unit",
    "e\u0301 combining acute vs é precomposed",
    "Å (A + ring) vs \u212b (angstrom sign)",
    "ñ n\u0303 ü u\u0308",
    "digits 0123456789 and 3.14159 and 1,000,000",
    "x² superscript and H₂O subscript",
    "emoji 🙂 🚀 👍🏽 👨‍👩‍👧 🏳️‍🌈",
    "CJK 你好世界 日本語のテキスト 한국어",
    "Ελληνικά και русский текст",
    "עברית ועברית ومرحبا بالعالم",
    "ZWJ\u200dand ZWNJ\u200cand soft\u00adhyphen",
    "control \x01\x02 chars",
    "ALL CAPS SHOUTING",
    "MiXeD CaSe WoRdS",
    "O Romeo, Romeo! wherefore art thou Romeo?",
    "'Tis but thy name that is my enemy;",
    "What's done cannot be undone.",
    "...!!!???;;;:::",
    "(parentheses) [brackets] {braces} <angles>",
    "url https://example.com/a?b=c#d",
    "email someone@example.org",
    "a",
    " ",
    "  ",
    "\n",
    "▁ literal lower one eighth block ▁▁",
    "unknown-ish: ☃ ♞ ⌘ ∮",
]

MODELS = {
    "unigram-default": dict(vocab_size=800),
    "bpe-bytefallback": dict(vocab_size=800, model_type="bpe", byte_fallback=True),
    "unigram-digits-nfkc_cf": dict(vocab_size=800, split_digits=True, normalization_rule_name="nfkc_cf"),
}


def train(name, args, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp()
    prefix = os.path.join(tmp, name)
    spm.SentencePieceTrainer.train(input=CORPUS, model_prefix=prefix, num_threads=1, minloglevel=1, **args)
    for ext in (".model", ".vocab"):
        shutil.copy(prefix + ext, os.path.join(out_dir, name + ext))
    shutil.rmtree(tmp)
    C.dump_json(os.path.join(out_dir, "train_args.json"),
                dict(args, input="shared/corpus/tinyshakespeare.txt", num_threads=1,
                     note="every other trainer option at the sentencepiece library default"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, name + ".model"))
    cases = []
    for s in STRINGS:
        ids = sp.encode(s)
        pieces = sp.encode(s, out_type=str)
        cases.append({"text": s, "ids": ids, "pieces": pieces, "decoded": sp.decode(ids)})
    C.dump_json(os.path.join(out_dir, "encode.json"), {
        "model": name + ".model", "vocab_size": sp.get_piece_size(),
        "unk_id": sp.unk_id(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "pad_id": sp.pad_id(),
        "how": "SentencePieceProcessor.encode(text) (no BOS/EOS), encode(text, out_type=str), decode(ids)",
        "cases": cases})
    print(f"[spm] {name}: vocab {sp.get_piece_size()}", flush=True)
    return sp


def encode_fast(d, raw, sp, converted_by):
    cases = []
    n_same = 0
    shown = 0
    for s in STRINGS:
        ids = raw.encode(s, add_special_tokens=False).ids
        ref = sp.encode(s)
        same = ids == ref
        n_same += same
        if not same and shown < 4:
            shown += 1
            print(f"[spm]   {os.path.basename(d)} differs on {s!r}: fast {ids[:12]} "
                  f"{raw.encode(s, add_special_tokens=False).tokens[:12]} vs spm {ref[:12]} "
                  f"{sp.encode(s, out_type=str)[:12]}", flush=True)
        cases.append({"text": s, "ids": ids, "tokens": raw.encode(s, add_special_tokens=False).tokens,
                      "decoded": raw.decode(ids), "same_as_sentencepiece": same})
    C.dump_json(os.path.join(d, "fast_encode.json"), {
        "converted_by": converted_by,
        "how": "tokenizers.Tokenizer.from_file(tokenizer.json).encode(text, add_special_tokens=False)",
        "same_as_sentencepiece": f"{n_same}/{len(STRINGS)}",
        "cases": cases})
    return f"ok: {n_same}/{len(STRINGS)} strings equal to sentencepiece"


def fast_conversions(model_path, out_dir, sp):
    """Conversions of the .model into a tokenizers tokenizer.json: by the tokenizers library's own
    SentencePieceUnigramTokenizer.from_spm and by transformers' tokenizer classes. Each that works gets a
    folder with its tokenizer.json and its ids for the same strings."""
    import transformers
    results = {}
    # transformers 5 builds its tokenizers from vocab/merges; a bare SentencePiece file is converted when a
    # folder holding only tokenizer.model (+ tokenizer_config.json naming the class) is loaded.
    from tokenizers import Tokenizer
    try:
        import sys
        from sentencepiece import sentencepiece_model_pb2
        sys.modules.setdefault("sentencepiece_model_pb2", sentencepiece_model_pb2)  # where tokenizers looks for it
        from tokenizers.implementations import SentencePieceUnigramTokenizer
        t = SentencePieceUnigramTokenizer.from_spm(model_path)
        d = os.path.join(out_dir, "fast-tokenizers-from_spm")
        os.makedirs(d, exist_ok=True)
        t.save(os.path.join(d, "tokenizer.json"))
        results["fast-tokenizers-from_spm"] = encode_fast(
            d, Tokenizer.from_file(os.path.join(d, "tokenizer.json")), sp,
            "tokenizers.implementations.SentencePieceUnigramTokenizer.from_spm(model).save")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        results["fast-tokenizers-from_spm"] = f"error: {type(e).__name__}: {e}"
    print(f"[spm] fast fast-tokenizers-from_spm: {results['fast-tokenizers-from_spm']}", flush=True)
    for label, cls_name in (("fast-llama", "LlamaTokenizer"), ("fast-t5", "T5Tokenizer"), ("fast-auto", None)):
        try:
            src = tempfile.mkdtemp()
            shutil.copy(model_path, os.path.join(src, "tokenizer.model"))
            cfg = {"tokenizer_class": cls_name} if cls_name else {}
            if cls_name == "T5Tokenizer":
                cfg["extra_ids"] = 0
            with open(os.path.join(src, "tokenizer_config.json"), "w") as f:
                json.dump(cfg, f)
            if cls_name:
                tok = getattr(transformers, cls_name).from_pretrained(src)
            else:
                tok = transformers.AutoTokenizer.from_pretrained(src)
            n = len(tok.get_vocab())
            if n < sp.get_piece_size():
                raise RuntimeError(f"{type(tok).__name__} loaded only {n} vocabulary entries")
            d = os.path.join(out_dir, label)
            tmp = tempfile.mkdtemp()
            tok.save_pretrained(tmp)
            if not os.path.exists(os.path.join(tmp, "tokenizer.json")):
                raise RuntimeError(f"{type(tok).__name__} saved no tokenizer.json")
            os.makedirs(d, exist_ok=True)
            for fn in ("tokenizer.json", "tokenizer_config.json"):
                if os.path.exists(os.path.join(tmp, fn)):
                    shutil.copy(os.path.join(tmp, fn), os.path.join(d, fn))
            shutil.rmtree(tmp)
            shutil.rmtree(src)
            raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            results[label] = encode_fast(
                d, raw, sp, f"transformers {transformers.__version__} "
                            f"{cls_name or 'AutoTokenizer'}.from_pretrained(folder with tokenizer.model and "
                            f"tokenizer_config.json {json.dumps(cfg)}) -> {type(tok).__name__}.save_pretrained")
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            results[label] = f"error: {type(e).__name__}: {e}"
        print(f"[spm] fast {label}: {results[label]}", flush=True)
    return results


def main():
    report = {}
    for name, args in MODELS.items():
        try:
            out_dir = os.path.join(C.OUT, "spm", name)
            sp = train(name, args, out_dir)
            report[name] = "ok"
            if name == "unigram-default":
                report["fast"] = fast_conversions(os.path.join(out_dir, name + ".model"), out_dir, sp)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            report[name] = f"error: {type(e).__name__}: {e}"
    C.dump_json(os.path.join(C.OUT, "spm", "_report.json"), report)


if __name__ == "__main__":
    main()
