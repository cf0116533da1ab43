#!/usr/bin/env python3
"""`ablab eval --kl-ref M --quant-sweep ...` (issue 17's quantization report) end to end on one model:

  test_quant_report.py scratch                 the shipped scratch-shakespeare (trained, widths of 256)
  test_quant_report.py gpt2 MAKE_RANDOM_GGUF   a random-weight GPT-2 124M made with make_random_gguf,
                                               gpt2-mini's tokenizer, a one-line text (CPU time)

The table is read back with the programs that consume it (csv, json, pdflatex when installed), the
plot rendered with rsvg-convert and its text checked (axis labels, one point per type per panel); the
figures must be ordered as physics says (file size and bits per weight fall type by type, f16's KL is
~0 and q2_k's the worst), the file size equals what `ablab convert` writes, and the q4_k_m row equals
a separate `ablab eval --kl-ref ... --quant q4_k_m`. Bad input gets a clear error."""
import csv, json, os, shutil, subprocess, sys, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
TYPES = ["f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k"]
which = sys.argv[1]

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp, TMPDIR=tmp)
    db = os.path.join(tmp, "lab.db")
    text = os.path.join(tmp, "text.txt")
    if which == "scratch":
        model = os.path.join(ASSETS, "models", "scratch-shakespeare")
        extra = ["--threads", "1", "-n", "8", "-r", "2"]
        with open(text, "w") as f:
            f.write("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is "
                    "the sun.\n\nJULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse "
                    "thy name;\nOr, if thou wilt not, be but sworn my love,\nAnd I'll no longer be a Capulet.\n")
    else:
        model = os.path.join(tmp, "gpt2-124m.gguf")
        p = subprocess.run([sys.argv[2], "gpt2-124m", model], capture_output=True, text=True, timeout=600)
        if not check("make_random_gguf writes a GPT-2 124M", p.returncode == 0 and os.path.exists(model), p.stderr):
            finish()
        extra = ["--threads", "1", "-n", "4", "-r", "1", "--ctx", "64",
                 "--tokenizer", os.path.join(ASSETS, "models", "gpt2-mini", "tokenizer.json")]
        with open(text, "w") as f:
            f.write("But soft, what light through yonder window breaks? It is the east.")

    def ablab(*args):
        return subprocess.run([BIN, *args, "--db", db], capture_output=True, text=True, env=env, timeout=900)

    out = os.path.join(tmp, "out")
    p = ablab("eval", "--model", model, "--kl-ref", model, "--quant-sweep", ",".join(TYPES), "--text", text,
              "--out", out, "--format", "json", *extra)
    if not check("the sweep exits 0", p.returncode == 0, p.stderr):
        finish()
    doc = json.loads(p.stdout)
    rows = doc["types"]
    check("one row per type, in the order asked", [r["type"] for r in rows] == TYPES, [r["type"] for r in rows])
    files = sorted(os.listdir(out))
    check("--out writes every format and the plot", files == sorted(["quant.md", "quant.csv", "quant.json",
                                                                     "quant.tex", "quant.svg"]), files)
    check("not recorded (as --kl): no database written", not os.path.exists(db))

    # ---- the files, read by their consumers ----
    with open(os.path.join(out, "quant.json")) as f:
        fdoc = json.load(f)
    check("quant.json is the document printed", fdoc == doc)
    with open(os.path.join(out, "quant.csv"), newline="") as f:
        crows = list(csv.DictReader(f))
    check("quant.csv: the same rows and numbers",
          [r["type"] for r in crows] == TYPES
          and all(int(c["file_bytes"]) == r["file_bytes"] and abs(float(c["kl_mean"]) - r["kl_mean"]) <= 1e-5 * r["kl_mean"] + 1e-12
                  and abs(float(c["bits_per_byte"]) - r["bits_per_byte"]) < 1e-6 for c, r in zip(crows, rows)), crows)
    with open(os.path.join(out, "quant.md")) as f:
        md = f.read()
    check("quant.md: a row per type", all(md.count(f"| {t} |") == 1 for t in TYPES) and "KL p99" in md
          and "bits/byte" in md, md)
    with open(os.path.join(out, "quant.tex")) as f:
        tex = f.read()
    check("quant.tex: a longtable with a row per type", "\\begin{longtable}" in tex and tex.count("\\\\\n") >= len(TYPES) + 1,
          tex)
    if shutil.which("pdflatex"):
        doc_tex = os.path.join(tmp, "report.tex")
        with open(doc_tex, "w") as f:
            f.write("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                    "\\usepackage{booktabs,longtable,array}\n\\begin{document}\n\\input{" + os.path.join(out, "quant.tex")
                    + "}\n\\end{document}\n")
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=tmp,
                           capture_output=True, text=True, timeout=120)
        check("quant.tex compiles with pdflatex", r.returncode == 0 and os.path.getsize(os.path.join(tmp, "report.pdf")) > 1000,
              r.stdout[-1500:])
    with open(os.path.join(out, "quant.svg")) as f:
        svg = f.read()
    check("the plot: labelled axes, the conditions",
          "GGUF file size (MB)" in svg and "mean KL(reference || quantized) per token (nats)" in svg
          and "bits per byte" in svg and "machine " in svg and "threads 1" in svg, svg[:400])
    check("the plot: one point per type in each of its two panels",
          svg.count('class="point"') == 2 * len(TYPES) and all(svg.count(f">{t}</text>") == 2 for t in TYPES),
          svg.count('class="point"'))
    rsvg = shutil.which("rsvg-convert")
    check("rsvg-convert is installed (tools/setup.sh)", rsvg is not None)
    if rsvg:
        png = os.path.join(tmp, "quant.png")
        r = subprocess.run([rsvg, os.path.join(out, "quant.svg"), "-o", png], capture_output=True, text=True)
        check("the plot renders", r.returncode == 0 and os.path.getsize(png) > 5000, r.stderr)

    # ---- the figures are sane ----
    by = {r["type"]: r for r in rows}
    sizes = [r["file_bytes"] for r in rows]
    check("file bytes fall strictly f16 > q8_0 > q6_k > q5_k_m > q4_k_m > q4_0 > q3_k_m > q2_k",
          all(a > b for a, b in zip(sizes, sizes[1:])), sizes)
    bpw = [r["bits_per_weight"] for r in rows]
    check("bits per weight fall likewise, f16 ~16, q8_0 8.5-9 (held row-interleaved), q2_k under 6",
          all(a > b for a, b in zip(bpw, bpw[1:])) and 15.9 < bpw[0] < 16.2 and 8.4 < bpw[1] < 9.0 and bpw[-1] < 6, bpw)
    check("the file holds the weights: file bytes >= weights bytes as loaded",
          all(r["file_bytes"] >= r["weights_bytes"] * 0.95 for r in rows), [(r["file_bytes"], r["weights_bytes"]) for r in rows])
    check("resident bytes measured: at least the weights", all(r["resident_bytes"] >= r["weights_bytes"] for r in rows),
          [(r["resident_bytes"], r["weights_bytes"]) for r in rows])
    check("decode speed measured", all(r["decode_tok_s"] > 0 for r in rows), [r["decode_tok_s"] for r in rows])
    check("every type scores the same tokens", len({r["tokens"] for r in rows}) == 1 and rows[0]["tokens"] > 10,
          [r["tokens"] for r in rows])
    check("f16's KL is ~0 and its top token the reference's",
          by["f16"]["kl_mean"] < 1e-4 and by["f16"]["same_top_pct"] >= 99.0, by["f16"])
    check("q2_k is the worst by KL mean and p99",
          all(by["q2_k"]["kl_mean"] >= r["kl_mean"] and by["q2_k"]["kl_p99"] >= r["kl_p99"] for r in rows),
          [(r["type"], r["kl_mean"], r["kl_p99"]) for r in rows])
    check("KL grows f16 < q8_0 < q4_k_m < q2_k",
          by["f16"]["kl_mean"] < by["q8_0"]["kl_mean"] < by["q4_k_m"]["kl_mean"] < by["q2_k"]["kl_mean"],
          [(r["type"], r["kl_mean"]) for r in rows])
    check("KL quantiles ordered: median <= p99 <= max",
          all(r["kl_median"] <= r["kl_p99"] <= r["kl_max"] + 1e-12 for r in rows), rows)
    check("bits per byte of f16 is the reference's",
          abs(by["f16"]["bits_per_byte"] - doc["reference_bits_per_byte"]) < 2e-3, (by["f16"], doc))

    # ---- one row equals the commands run separately ----
    load = [x for i, x in enumerate(extra) if x not in ("-n", "-r") and (i == 0 or extra[i - 1] not in ("-n", "-r"))]
    p = ablab("eval", "--model", model, "--kl-ref", model, "--quant", "q4_k_m", "--text", text, "--format", "json", *load)
    one = json.loads(p.stdout) if p.returncode == 0 else {}
    r = by["q4_k_m"]
    check("the q4_k_m row equals `ablab eval --kl-ref ... --quant q4_k_m`",
          one and one["tokens"] == r["tokens"] and abs(one["kl_mean"] - r["kl_mean"]) <= 1e-4 * r["kl_mean"]
          and abs(one["same_top_pct"] - r["same_top_pct"]) < 1e-3 and abs(one["ppl"] - r["token_ppl"]) < 1e-5 * r["token_ppl"]
          and one["dtype"] == r["dtype"], (one, r, p.stderr))
    conv = os.path.join(tmp, "q4_k_m.gguf")
    cargs = ["convert", "--model", model, "--out", conv, "--quant", "q4_k_m"]
    if which != "scratch":
        cargs += ["--tokenizer", os.path.join(ASSETS, "models", "gpt2-mini", "tokenizer.json")]
    p = subprocess.run([BIN, *cargs], capture_output=True, text=True, env=env, timeout=600)
    check("the q4_k_m file size is the file `ablab convert --quant q4_k_m` writes",
          p.returncode == 0 and os.path.getsize(conv) == r["file_bytes"],
          (p.stderr, os.path.getsize(conv) if os.path.exists(conv) else None, r["file_bytes"]))

    # ---- bad input ----
    if which == "scratch":
        p = ablab("eval", "--model", model, "--kl-ref", model, "--quant-sweep", "f16,q4_z", "--text", text)
        check("an unknown type is named", p.returncode != 0 and "'q4_z'" in p.stderr, p.stderr)
        p = ablab("eval", "--model", model, "--kl-ref", model, "--quant-sweep", "f16,f16", "--text", text)
        check("a type listed twice is refused", p.returncode != 0 and "twice" in p.stderr, p.stderr)
        p = ablab("eval", "--model", model, "--quant-sweep", "f16,q8_0", "--text", text)
        check("--quant-sweep without a reference is a usage error", p.returncode == 2 and "--kl-ref" in p.stderr,
              p.stderr)
        p = ablab("eval", "--model", model, "--kl-ref", model, "--quant-sweep", "f16", "--quant", "q8_0", "--text", text)
        check("--quant with --quant-sweep is a usage error", p.returncode == 2 and "--quant" in p.stderr, p.stderr)
        p = ablab("eval", "--model", model, "--text", text, "--out", out)
        check("--out without --quant-sweep is a usage error", p.returncode == 2 and "--out" in p.stderr, p.stderr)
        p = ablab("eval", "--model", model, "--kl-ref", model, "--quant-sweep", "f16",
                  "--text", os.path.join(tmp, "missing.txt"))
        check("a missing text is named", p.returncode == 1 and "missing.txt" in p.stderr, p.stderr)
        blocked = os.path.join(tmp, "blocked")
        open(blocked, "w").close()
        p = ablab("eval", "--model", model, "--kl-ref", model, "--quant-sweep", "f16", "--text", text,
                  "--out", os.path.join(blocked, "sub"), "--threads", "1", "-n", "2", "-r", "1")
        check("an --out that cannot be made is named", p.returncode == 1 and "blocked/sub" in p.stderr, p.stderr)

finish()
