#!/usr/bin/env python3
"""Writes tests/fixtures/tok/expected.json: ids for many strings under independent reference
implementations written from the original algorithms (not from our C code):

- gpt2:     OpenAI's GPT-2 encoder.py (regex with the `regex` module, byte→unicode table, BPE that
            merges every occurrence of the lowest-ranked pair) over ../shared/tokenizers/gpt2/.
            Hugging Face's ByteLevel BPE gives the same ids (same regex, same merge order).
- spm:      Hugging Face tokenizers' BPE::merge_word + Word::merge_all (lowest rank first, leftmost
            on ties), byte_fallback, with the normalizer Prepend('▁') + Replace(' ', '▁'), over
            ../shared/golden/spm-bpe-tokenizer/tokenizer.json.
- llama2:   a literal port of llama2.c run.c's encode() (BOS, dummy prefix " ", code points looked up
            whole else bytes at 3 + byte, merge the highest-scoring pair, leftmost on ties) over
            ../shared/tokenizers/llama2/tokenizer.bin and ../shared/models/stories260K/tok512.bin.

Texts are stored as hex (some are not valid UTF-8). Invalid UTF-8 given to the Hugging Face
references is first decoded with errors='replace' (see README "Tokenizers": that is what our
encoder does with such bytes, since tokenizers itself only accepts valid strings).

Run from the repository root: python3 tests/tok/make_expected.py  (needs ../shared and `regex`)."""
import json, os, random, struct, sys
import regex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("SHARED_DIR", os.path.join(ROOT, "..", "shared"))

def texts():
    t = [
        "Hello world", "", " ", "  ", "a", " a", "a ", "\n", "\t", "\r\n",
        # every general category
        "Lu: ÀΩЖ Ll: ßæ Lt: ǅ Lm: ʰˇ Lo: 漢字אבก",
        "Mn: e\u0301 a\u0308 Mc: \u0903\u093e Me: \u20dd\u20de",
        "Nd: ٣४৫ Nl: ⅫⅯ No: ½²³",
        "Pc: _‿ Pd: —– Ps: (「[{ Pe: )」]} Pi: «‘ Pf: »’ Po: !¿§",
        "Sm: +∑≠ Sc: $€¥ Sk: ^`¨ So: ©😀♥",
        "Zs: a\u00a0b\u3000c\u2003d Zl: \u2028 Zp: \u2029",
        "Cc: \x01\x07\x1b\x7f Cf: \u200b\u200d\ufeff\u00ad Co: \ue000\U000f0000 Cn: \u0378\U000e0080",
        "whitespace before letters: \u00a0word \u3000word \u2028word",
        # whitespace runs
        "a" + " " * 50 + "b", " " * 1000, "\n\n\n\t  x", "x\r\n\r\n  y", "trailing   ", "   leading",
        "tabs\t\t\tand\nnewlines\n\n\n", "mixed \t \n \u00a0 \u3000 end",
        # contractions, numbers, punctuation, code
        "I'm you're he'll she'd we've it's 'S 'T", "1234567890 3.14159 1,000,000 -42 1e10",
        "def f(x):\n    return x ** 2  # square\n", "<html><body class=\"x\">&amp;</body></html>",
        "email@example.com http://a.b/c?d=e#f", "!!!???...---___***",
        # scripts
        "Привет, мир! Γειά σου Κόσμε", "こんにちは世界 안녕하세요 你好，世界", "שלום עולם مرحبا بالعالم",
        "नमस्ते दुनिया ສະບາຍດີ", "👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇫🇷",
        "ﬁ ﬂ Ⅸ ① ｆｕｌｌ ｗｉｄｔｈ", "Å (A+ring) vs A\u030a", "İstanbul ΣΑΣ",
        # long words
        "a" * 10000, "ab" * 5000,
        "".join(random.Random(7).choice("etaoinshrdlu") for _ in range(10000)),
        "supercalifragilisticexpialidocious" * 30,
        "\u00e9" * 3000, "😀" * 2000,
    ]
    out = [s.encode("utf-8") for s in t]
    out += [b"\xff", b"abc\xc3", b"\xe2\x82", b"a\xed\xa0\x80b", b"\xf0\x9f\x98x", b"\xc0\xaf",
            b"\xf5\x80\x80", b"\x80\x80abc", b"caf\xc3\xa9 \xe9t\xe9", b"\xf0\x9f\x98\x80\xf0\x9f"]
    return out

# ---------- GPT-2 (OpenAI encoder.py) ----------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))

def gpt2_encoder():
    enc = json.load(open(os.path.join(SHARED, "tokenizers/gpt2/encoder.json")))
    lines = open(os.path.join(SHARED, "tokenizers/gpt2/vocab.bpe"), encoding="utf-8").read().split("\n")[1:-1]
    ranks = {tuple(l.split()): i for i, l in enumerate(lines)}
    be = bytes_to_unicode()
    pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    cache = {}
    def bpe(token):
        if token in cache: return cache[token]
        word = tuple(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if best not in ranks: break
            a, b = best
            nw, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    nw.append(a + b); i += 2
                else:
                    nw.append(word[i]); i += 1
            word = tuple(nw)
        cache[token] = word
        return word
    def encode(text):
        ids = []
        for tok in regex.findall(pat, text):
            tok = "".join(be[b] for b in tok.encode("utf-8"))
            ids.extend(enc[t] for t in bpe(tok))
        return ids
    return encode

# ---------- Hugging Face BPE with byte fallback (spm-bpe-tokenizer) ----------
def hf_bpe(path):
    tj = json.load(open(path))
    m = tj["model"]
    vocab = m["vocab"]
    merges = {}
    for r, mg in enumerate(m["merges"]):
        a, b = mg if isinstance(mg, list) else mg.split(" ", 1)
        merges[(vocab[a], vocab[b])] = (r, vocab[a + b])
    unk = vocab.get(m["unk_token"]) if m.get("unk_token") else None
    def word_ids(w):
        syms, pending = [], None
        for ch in w:
            if ch in vocab:
                if pending is not None: syms.append(pending); pending = None
                syms.append(vocab[ch])
            else:
                bt = ["<0x%02X>" % b for b in ch.encode("utf-8")]
                if m.get("byte_fallback") and all(x in vocab for x in bt):
                    syms.extend(vocab[x] for x in bt)
                elif unk is not None:
                    if pending is not None and not m.get("fuse_unk"): syms.append(pending)
                    pending = unk
        if pending is not None: syms.append(pending)
        while True:  # lowest rank, then leftmost
            best = None
            for i in range(len(syms) - 1):
                mg = merges.get((syms[i], syms[i + 1]))
                if mg and (best is None or mg[0] < best[0]): best = (mg[0], i, mg[1])
            if best is None: break
            _, i, nid = best
            syms[i:i + 2] = [nid]
        return syms
    def encode(text):
        if not text: return []
        return word_ids("\u2581" + text.replace(" ", "\u2581"))
    return encode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# ---------- llama2.c run.c ----------
def runc(path):
    data = open(path, "rb").read()
    off, vocab, scores = 4, [], []
    while off < len(data):
        s, n = struct.unpack_from("<fi", data, off); off += 8
        vocab.append(data[off:off + n]); scores.append(s); off += n
    lookup = {}
    for i, v in enumerate(vocab): lookup.setdefault(v, i)
    def encode(text, bos=True):
        toks = [1] if bos else []
        if text: toks.append(lookup.get(b" ", -1))
        buf, i = b"", 0
        while i < len(text):
            c = text[i]
            if (c & 0xC0) != 0x80: buf = b""
            buf += bytes([c])
            nxt = text[i + 1] if i + 1 < len(text) else 0
            if (nxt & 0xC0) == 0x80 and len(buf) < 4:
                i += 1; continue
            if buf in lookup: toks.append(lookup[buf])
            else: toks.extend(b + 3 for b in buf)
            buf = b""; i += 1
        # the merge loop, with a dict of pair → token instead of run.c's rescans (same choice each step)
        while True:
            best, bid, bidx = -1e10, -1, -1
            for k in range(len(toks) - 1):
                j = lookup.get(vocab[toks[k]] + vocab[toks[k + 1]], -1)
                if j != -1 and scores[j] > best: best, bid, bidx = scores[j], j, k
            if bidx == -1: break
            toks[bidx] = bid
            del toks[bidx + 1]
        return toks
    return encode

def main():
    g2 = gpt2_encoder()
    spm = hf_bpe(os.path.join(SHARED, "golden/spm-bpe-tokenizer/tokenizer.json"))
    l2 = runc(os.path.join(SHARED, "tokenizers/llama2/tokenizer.bin"))
    l5 = runc(os.path.join(SHARED, "models/stories260K/tok512.bin"))
    out = []
    for b in texts():
        s = b.decode("utf-8", "replace")
        e = {"hex": b.hex(), "gpt2": g2(s), "spm": spm(s)}
        if len(b) <= 2000:  # run.c's merge loop is quadratic: keep the port's run short
            e["llama2"] = l2(b)
            e["tok512"] = l5(b)
        out.append(e)
        print(len(out), len(b), file=sys.stderr)
    path = os.path.join(ROOT, "tests/fixtures/tok/expected.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")

if __name__ == "__main__":
    main()
