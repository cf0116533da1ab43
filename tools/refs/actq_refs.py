#!/usr/bin/env python3
"""ggml's own rounding of activation rows (issue 17): the bytes llama.cpp's CPU backend makes of a float
row before it multiplies it into Q8_0/Q4_0/Q5_0 (q8_0 blocks), Q4_1/Q5_1 (q8_1) or k-quant (q8_K)
weights, for tests/gguf/test_actq.c.

    python3 tools/refs/actq_refs.py --llama /tmp/llama.cpp [--write]

Builds a small C program against the llama.cpp build's libggml (its public ggml-cpu.h: the type
traits' from_float, which the matrix product calls), feeds it the rows made here and writes
tests/fixtures/ref/actq/rows.bin:

    "ABAQ" u32 version (1) | u32 n | n float32 inputs | q8_0 bytes (n/32 x 34) | q8_1 (n/32 x 36) | q8_K (n/256 x 292)

(little-endian). The rows hold the cases where ggml's x86 rounding differs from plain rounding: values
that land exactly halfway (ties go to even), blocks whose largest |x| is negative (q8_K's negative
scale), an all-zero block, and scales from 1e-4 to 1e4.
"""
import argparse, os, random, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROGRAM = r"""
#include <ggml.h>
#include <ggml-cpu.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    (void)argc;
    ggml_cpu_init();
    FILE *f = fopen(argv[1], "rb");
    int n = atoi(argv[2]);
    float *x = malloc((size_t)n * sizeof *x);
    if (fread(x, sizeof *x, (size_t)n, f) != (size_t)n) return 1;
    enum ggml_type t[3] = {GGML_TYPE_Q8_0, GGML_TYPE_Q8_1, GGML_TYPE_Q8_K};
    for (int i = 0; i < 3; i++) {
        size_t bytes = ggml_row_size(t[i], n);
        void *y = calloc(1, bytes);
        ggml_get_type_traits_cpu(t[i])->from_float(x, y, n);
        fwrite(y, 1, bytes, stdout);
        free(y);
    }
    return 0;
}
"""


def rows():
    rng = random.Random(17)
    x = []
    for b in range(12):  # gaussian blocks of 256 at scales 1e-4 .. 1e4
        s = 10.0 ** (-4 + 8 * b / 11)
        x += [rng.gauss(0, s) for _ in range(256)]
    # ties: max |x| = 127 makes the multiplier exactly 1 (q8_0, q8_1: 127 / 127) or -1 (q8_K: -127 / 127)
    x += [127.0] + [(k % 254) - 126.5 for k in range(255)]
    # the largest |x| negative (q8_K's scale then negative), with ties at multiplier -1 / +1
    x += [-127.0] + [((k * 7) % 200) / 2.0 - 50.0 for k in range(255)]
    x += [0.0] * 256  # an all-zero block
    # blocks of 32 of their own: each its own max, some ties after scaling by 127 / max
    for b in range(8):
        m = [1.0, -3.0, 0.5, 1e-3, 254.0, -254.0, 63.5, 2.0][b]
        x += [m] + [rng.choice([0.5, 1.5, 2.5, -0.5, -1.5, rng.uniform(-1, 1)]) * abs(m) / 127.0 for _ in range(31)]
    assert len(x) % 256 == 0
    return [struct.unpack("<f", struct.pack("<f", v))[0] for v in x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama", required=True, help="llama.cpp checkout with a build/ (commit c392e509 was used)")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    src, exe = os.path.join(tmp, "actq.c"), os.path.join(tmp, "actq")
    with open(src, "w") as f:
        f.write(PROGRAM)
    lib = os.path.join(a.llama, "build/bin")
    subprocess.run(["cc", "-O2", "-o", exe, src, "-I" + os.path.join(a.llama, "ggml/include"), "-L" + lib,
                    "-lggml-cpu", "-lggml-base", "-lggml"], check=True)
    x = rows()
    inp = os.path.join(tmp, "x.f32")
    with open(inp, "wb") as f:
        f.write(struct.pack(f"<{len(x)}f", *x))
    out = subprocess.run([exe, inp, str(len(x))], capture_output=True, check=True,
                         env=dict(os.environ, LD_LIBRARY_PATH=lib)).stdout
    n = len(x)
    want = n // 32 * 34 + n // 32 * 36 + n // 256 * 292
    if len(out) != want:
        sys.exit(f"ggml wrote {len(out)} bytes, expected {want}")
    print(f"{n} values, {len(out)} bytes of ggml's q8_0, q8_1 and q8_K blocks")
    if a.write:
        d = os.path.join(ROOT, "tests/fixtures/ref/actq")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "rows.bin"), "wb") as f:
            f.write(b"ABAQ" + struct.pack("<II", 1, n) + struct.pack(f"<{n}f", *x) + out)
        print("wrote", d)


if __name__ == "__main__":
    main()
