"""Seeds for fuzz_spm_model: SentencePiece .model files cut down from the reference models of
tests/fixtures/ref/spm (plain Python, no protobuf library). Small ones without a character map
(identity normalizer) let the fuzzer reach the pieces and specs quickly; one keeps nmt_nfkc's map so
the trie walk is fuzzed too.   python3 tests/fuzz/make_spm_seeds.py"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "fixtures", "ref", "spm")
OUT = os.path.join(HERE, "corpus", "spm_model")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return r, i


def fields(b):
    i, out = 0, []
    while i < len(b):
        st = i
        key, i = read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            _, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            i += n
        elif wt == 5:
            i += 4
        elif wt == 1:
            i += 8
        out.append((f, b[st:i]))
    return out


def payload(raw):
    _, i = read_varint(raw, 0)
    _, i = read_varint(raw, i)
    return raw[i:]


def cut(name, n_normal, keep_map):
    top = fields(open(os.path.join(REF, name, name + ".model"), "rb").read())
    pieces = [raw for f, raw in top if f == 1]
    kept, normal = [], 0
    for raw in pieces:
        types = [p for f, p in fields(payload(raw)) if f == 3]
        is_normal = not types or types[0] == varint(3 << 3) + varint(1)
        if is_normal:
            normal += 1
            if normal > n_normal:
                continue
        kept.append(raw)
    out = b"".join(kept)
    for f, raw in top:
        if f == 1:
            continue
        if f == 3 and not keep_map:
            spec = b"".join(r for g, r in fields(payload(raw)) if g != 2)
            spec = b"".join(r for g, r in fields(spec) if g != 1) + varint(1 << 3 | 2) + varint(8) + b"identity"
            raw = varint(3 << 3 | 2) + varint(len(spec)) + spec
        out += raw
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "unigram-identity-60": cut("unigram-default", 60, False),
        "bpe-bytefallback-identity-40": cut("bpe-bytefallback", 40, False),
        "unigram-nmt_nfkc-20": cut("unigram-default", 20, True),
    }
    for k, v in seeds.items():
        with open(os.path.join(OUT, k), "wb") as f:
            f.write(v)
        print(k, len(v))


if __name__ == "__main__":
    main()
