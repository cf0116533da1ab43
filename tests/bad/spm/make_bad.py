"""Writes the malformed SentencePiece .model files of tests/bad/spm from the good Unigram model of
tests/fixtures/ref/spm (plain Python, no protobuf library): each breaks one thing a reader must check.
expected.json maps each file to a piece of the error message ablab must give. Run from anywhere:
    python3 tests/bad/spm/make_bad.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = os.path.join(HERE, "..", "..", "fixtures", "ref", "spm", "unigram-default", "unigram-default.model")


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
    """(field, wire type, start, value start, end) of each top-level field."""
    i, out = 0, []
    while i < len(b):
        st = i
        key, i = read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            _, i2 = read_varint(b, i)
            out.append((f, wt, st, i, i2))
            i = i2
        elif wt == 2:
            n, j = read_varint(b, i)
            out.append((f, wt, st, j, j + n))
            i = j + n
        elif wt == 5:
            out.append((f, wt, st, i, i + 4))
            i += 4
        else:
            raise SystemExit(f"unexpected wire type {wt}")
    return out


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def main():
    good = open(GOOD, "rb").read()
    top = fields(good)
    norm = next(x for x in top if x[0] == 3)
    nb = good[norm[3]:norm[4]]
    nf = fields(nb)
    cm = next(x for x in nf if x[0] == 2)
    charsmap = nb[cm[3]:cm[4]]

    def with_norm(new_nb):
        return good[:norm[2]] + ld(3, new_nb) + good[norm[4]:]

    def with_charsmap(new_cm):
        return with_norm(nb[:cm[2]] + ld(2, new_cm) + nb[cm[4]:])

    bad = {}
    bad["truncated.model"] = (good[: len(good) // 2], "runs past the end")
    bad["empty.model"] = (b"", "empty file")
    # the first piece's text (field 1 of pieces[0]) given as a varint instead of a string
    p0 = top[0]
    piece_msg = good[p0[3]:p0[4]]
    pf = fields(piece_msg)
    fixed = varint(1 << 3 | 0) + varint(7) + piece_msg[pf[0][4]:]
    bad["piece-wrong-type.model"] = (good[:p0[2]] + ld(1, fixed) + good[p0[4]:], "pieces[0].piece (field 1 at offset")
    # normalizer_spec sent as a varint
    bad["normalizer-wrong-type.model"] = (good[:norm[2]] + varint(3 << 3 | 0) + varint(1) + good[norm[4]:],
                                          "ModelProto.normalizer_spec (field 3 at offset")
    # add_dummy_prefix (bool) sent as a string
    bad["bool-wrong-type.model"] = (with_norm(nb + ld(3, b"yes")), "normalizer_spec.add_dummy_prefix")
    # the trie size says more bytes than the map holds
    bad["charsmap-size.model"] = (with_charsmap(struct.pack("<I", len(charsmap)) + charsmap[4:]), "trie size")
    # the root's offset points far outside the trie
    tsize = struct.unpack("<I", charsmap[:4])[0]
    root = struct.unpack("<I", charsmap[4:8])[0]
    new_root = (root & 0x3FF) | ((tsize // 4 + 4096) << 10)
    bad["trie-offset.model"] = (with_charsmap(charsmap[:4] + struct.pack("<I", new_root) + charsmap[8:]),
                                "past the")
    # a trie value pointing past the replacement strings: every value unit set to the maximum
    units = bytearray(charsmap[4:4 + tsize])
    for k in range(0, len(units), 4):
        u = struct.unpack("<I", units[k:k + 4])[0]
        if u >> 31:  # value units have bit 31 set (their label never matches a byte)
            units[k:k + 4] = struct.pack("<I", 0xFFFFFFFF)
    bad["trie-value.model"] = (with_charsmap(charsmap[:4] + bytes(units) + charsmap[4 + tsize:]),
                               "outside the replacement strings")
    # no unknown piece: pieces[0] (<unk>, type 2) retyped as NORMAL
    retyped = b"".join(piece_msg[s:e] if f != 3 else varint(3 << 3) + varint(1) for f, _, s, _, e in pf)
    bad["no-unk.model"] = (good[:p0[2]] + ld(1, retyped) + good[p0[4]:], "UNKNOWN")
    # a piece of type 9
    bad["piece-type.model"] = (good[:p0[2]] + ld(1, piece_msg + varint(3 << 3) + varint(9)) + good[p0[4]:],
                               "is not a SentencePiece piece type")
    # a length that overflows: a huge varint length on the last field
    bad["huge-length.model"] = (good + varint(9 << 3 | 2) + varint(1 << 62), "runs past the end")
    # end-group wire type
    bad["group.model"] = (good + varint(9 << 3 | 3), "wire type 3")
    expected = {}
    for name, (data, msg) in sorted(bad.items()):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        expected[name] = msg
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
