#!/usr/bin/env python3
"""Issue 19's "done when", in one `ablab scale` run: the two shipped models (scratch-shakespeare,
gpt2-mini), stories260K (from ../shared; left out, said so, on a clone without it) and a
random-weight GPT-2 124M (tests/bench/make_random_gguf, with gpt2-mini's GPT-2 tokenizer embedded
by `ablab convert` so it can be evaluated), each at F32 and Q8_0 (--quant f32,q8_0). Checked:
the table in every format, the three plots rendered by rsvg-convert to PNG and read as text
(labelled axes, the fitted curve, the Pareto frontier through exactly the rows no other row
beats), a second run with --from-db that gives the same table with every model file gone (so
nothing was loaded), and the numbers against `ablab eval` and `ablab bench` run separately.
Slow suite: writing and converting the 650 MB model dominates (about a minute on two cores)."""
import csv, io, json, os, re, shutil, sqlite3, subprocess, tempfile

from checks import check, finish, say_missing, shared_file

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
MAKER = os.environ["MAKE_RANDOM_GGUF"]
CORPUS = shared_file("corpus/tinystories_sample.txt")
STORIES = shared_file("models/stories260K/stories260K.bin")
if STORIES is None:
    say_missing("part not run", "models/stories260K/stories260K.bin")
SCRATCH = os.path.join(ASSETS, "models", "scratch-shakespeare")
MINI = os.path.join(ASSETS, "models", "gpt2-mini")
BENCH = ["-p", "16", "-n", "8", "-r", "1", "--threads", "2"]
QUANTS = ["f32", "q8_0"]

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    db = os.path.join(tmp, "lab.db")

    def ablab(*args, cwd=None):
        return subprocess.run([BIN, *args, "--db", db], capture_output=True, text=True, env=env, timeout=900, cwd=cwd)

    # the models, copied into tmp so that --from-db can be run with them gone
    models = os.path.join(tmp, "models")
    os.mkdir(models)
    scratch = shutil.copytree(SCRATCH, os.path.join(models, "scratch-shakespeare"), copy_function=shutil.copyfile)
    mini = shutil.copytree(MINI, os.path.join(models, "gpt2-mini"), copy_function=shutil.copyfile)
    stories = None
    if STORIES:
        os.mkdir(os.path.join(models, "stories260K"))  # with its tok512.bin; plain copies (../shared is read-only)
        for n in os.listdir(os.path.dirname(STORIES)):
            shutil.copyfile(os.path.join(os.path.dirname(STORIES), n), os.path.join(models, "stories260K", n))
        stories = os.path.join(models, "stories260K", "stories260K.bin")
    raw = os.path.join(tmp, "random.gguf")
    p = subprocess.run([MAKER, "gpt2-124m", raw], capture_output=True, text=True, timeout=600)
    check("make_random_gguf gpt2-124m", p.returncode == 0, p.stderr)
    gpt2 = os.path.join(models, "gpt2-124m.gguf")
    p = subprocess.run([BIN, "convert", "--model", raw, "--out", gpt2, "--tokenizer",
                        os.path.join(MINI, "tokenizer.json")], capture_output=True, text=True, env=env, timeout=600)
    check("convert embeds GPT-2's tokenizer", p.returncode == 0 and "124439808 parameters" in p.stdout + p.stderr, p.stdout + p.stderr)
    os.unlink(raw)
    paths = [scratch, mini] + ([stories] if stories else []) + [gpt2]
    names = ["scratch-shakespeare", "gpt2-mini"] + (["stories260K.bin"] if stories else []) + ["gpt2-124m.gguf"]

    corpus = os.path.join(tmp, "slice.txt")
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(text[:400])

    # ---- one run over every model at F32 and Q8_0: the table in every format, three plots ----
    out = os.path.join(tmp, "out")
    p = ablab("scale", "--models", *paths, "--quant", ",".join(QUANTS), "--corpus", corpus, *BENCH,
              "--price", "1.5", "--out", out, "--format", "md")
    check("scale over the shipped models, stories260K and GPT-2 124M exits 0", p.returncode == 0, p.stderr[-2000:])
    md_first = p.stdout
    with open(os.path.join(out, "scale.json")) as f:
        table = json.load(f)
    rows = table["models"]
    check("a row per model and type, in order",
          [(r["model"], r["dtype"]) for r in rows] == [(n, q) for n in names for q in QUANTS],
          [(r["model"], r["dtype"]) for r in rows])
    g32, g8 = rows[-2], rows[-1]
    check("GPT-2 124M: 124M parameters, 85M without the embeddings, F32 on disk",
          g32["params"] == 124439808 and g32["params_nonemb"] == 85056000 and g32["bytes_on_disk"] > 600e6, g32)
    check("GPT-2 124M at Q8_0 holds about a quarter of F32's bytes",
          0.2 < g8["bytes_resident"] / g32["bytes_resident"] < 0.4, (g8["bytes_resident"], g32["bytes_resident"]))
    check("random weights: about as good as uniform over the vocabulary (log2 50257 bits per token)",
          abs(g32["bits_per_byte"] - g8["bits_per_byte"]) < 0.05 and 1e4 < g32["token_ppl"] < 2e5, (g32, g8))
    check(f"{len(set(names))} sizes: the fit (four or more: the power law; three: the log-log slope)",
          table["fit"] and table["fit"]["kind"] == ("power-law" if len(names) >= 4 else "loglog-slope"), table["fit"])
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    check("every format and the three plots written", files == sorted(
        ["scale.md", "scale.csv", "scale.json", "scale.tex", "scale-params.svg", "scale-cost.svg", "scale-speed.svg"]),
        files)
    with open(os.path.join(out, "scale.md")) as f:
        check("scale.md is what stdout showed", f.read() == md_first)
    check("md: every row and the cost column", all(md_first.count(f"| {n} | {q} |") == 1 for n in names for q in QUANTS)
          and "USD/M tok" in md_first, md_first)
    with open(os.path.join(out, "scale.csv")) as f:
        crows = list(csv.DictReader(f))
    check("csv: the same rows and numbers as json", [(r["model"], r["dtype"], float(r["bits_per_byte"]),
                                                      float(r["decode_tok_s"])) for r in crows]
          == [(r["model"], r["dtype"], round(r["bits_per_byte"], 6), round(r["decode_tok_s"], 3)) for r in rows],
          crows[:2])
    with open(os.path.join(out, "scale.tex")) as f:
        tex = f.read()
    check("tex: a tabular, a line per row", "\\begin{tabular}" in tex and "\\end{tabular}" in tex
          and tex.count(" \\\\\n") == len(rows) + 1, tex)

    # ---- the plots: rendered, and read ----
    rsvg = shutil.which("rsvg-convert")
    check("rsvg-convert is installed (tools/setup.sh)", rsvg is not None)
    svgs = {}
    for name in ("scale-params.svg", "scale-cost.svg", "scale-speed.svg"):
        path = os.path.join(out, name)
        with open(path) as f:
            svgs[name] = f.read()
        if rsvg:
            png = path[:-4] + ".png"
            r = subprocess.run([rsvg, path, "-o", png], capture_output=True, text=True)
            with open(png, "rb") if r.returncode == 0 else io.BytesIO() as f:
                head = f.read(8)
            check(f"{name} renders to a PNG", r.returncode == 0 and head == b"\x89PNG\r\n\x1a\n"
                  and os.path.getsize(png) > 5000, r.stderr)
        check(f"{name}: the conditions (machine, threads, date, ablab)",
              "machine " in svgs[name] and "threads 2" in svgs[name] and "measured 20" in svgs[name]
              and "ablab " in svgs[name], svgs[name][-400:])
        check(f"{name}: a point and a label per row", svgs[name].count("<circle ") == len(rows)
              and all(f"{n} (" in svgs[name] for n in names), svgs[name].count("<circle "))
    sp = svgs["scale-params.svg"]
    check("params plot: labelled log axis, bits per byte, the fitted curve",
          "non-embedding parameters (log scale)" in sp and "bits per byte on the corpus" in sp
          and 'stroke-dasharray="6 3" points="' in sp and ("fit E + A N^-alpha" in sp or "log-log slope" in sp), sp[:400])
    sc = svgs["scale-cost.svg"]
    check("cost plot: labelled axes in USD", "cost per million generated tokens (USD, log scale)" in sc
          and "bits per byte on the corpus" in sc, sc[:400])
    # the frontier: exactly the rows that no other row beats on both cost and bits per byte
    cost = [r["usd_per_m_tokens"] for r in rows]
    bpb = [r["bits_per_byte"] for r in rows]
    front = [i for i in range(len(rows)) if not any(
        cost[k] <= cost[i] and bpb[k] <= bpb[i] and (cost[k] < cost[i] or bpb[k] < bpb[i]) for k in range(len(rows)))]
    m = re.search(r'<polyline class="pareto-frontier"[^>]*points="([^"]*)"', sc)
    pts = m.group(1).split() if m else []
    check("cost plot: the Pareto frontier through every unbeaten row and no other",
          m is not None and len(pts) == len(front) and sc.count('<circle class="point" data-pareto="1"') == len(front)
          and sc.count('fill="#228833"/>') == len(front)
          and sorted(pts) == sorted(f"{x},{y}" for x, y in re.findall(r'<circle class="point" data-pareto="1" cx="([^"]*)" cy="([^"]*)"', sc))
          and "Pareto frontier" in sc, (front, pts, sc.count('fill="#228833"/>'), [(r["model"], r["dtype"], r["usd_per_m_tokens"], r["bits_per_byte"]) for r in rows]))
    ss = svgs["scale-speed.svg"]
    check("speed plot: labelled axes", "resident bytes (weights, KV cache, buffers; log scale)" in ss
          and "decode tokens/s" in ss, ss[:400])

    # ---- the same numbers as `ablab eval` and `ablab bench` run separately ----
    for path, q, r in [(p_, q_, r_) for (p_, q_), r_ in zip([(p_, q_) for p_ in paths for q_ in QUANTS], rows)]:
        if q != "q8_0" and path != gpt2:
            continue  # the small models' F32 rows are checked in tests/scale/test_scale.py
        e = ablab("eval", "--model", path, "--quant", q, "--text", corpus, "--format", "json", "--no-record",
                  "--threads", "2")
        ev = json.loads(e.stdout)["results"][0] if e.returncode == 0 else {}
        check(f"{r['model']} {q}: bits per byte, ppl and tokens equal `ablab eval`'s",
              ev and abs(ev["bits_per_byte"] - r["bits_per_byte"]) < 1e-6
              and abs(ev["token_ppl"] - r["token_ppl"]) < 1e-6 * ev["token_ppl"] and ev.get("tokens") == r["tokens"],
              (ev, r, e.stderr[-500:]))
    b = ablab("bench", "--model", gpt2, "--quant", "q8_0", "-p", "16", "-n", "8", "-r", "1", "-t", "2",
              "--format", "json")
    bj = json.loads(b.stdout) if b.returncode == 0 else {}
    check("ablab bench on GPT-2 124M Q8_0 runs", b.returncode == 0, b.stderr[-500:])
    con = sqlite3.connect(db)
    for r in (g32, g8):
        recorded = con.execute("SELECT b.name, b.threads, b.prefill_tok_s, c.name, c.threads, c.decode_tok_s "
                               "FROM benchmarks b, benchmarks c WHERE b.id = ? AND c.id = ?",
                               (r["prefill_bench_id"], r["decode_bench_id"])).fetchone()
        check(f"gpt2-124m {r['dtype']}: the table's speeds are the bench rows it recorded, named as bench names them",
              recorded is not None and recorded[0] == "pp16" and recorded[3] == "tg8" and recorded[1] == recorded[4] == 2
              and abs(recorded[2] - r["prefill_tok_s"]) < 1e-3 and abs(recorded[5] - r["decode_tok_s"]) < 1e-3,
              (recorded, r))
    n_before = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("scale_results", "evaluations", "benchmarks", "models")]
    con.close()
    # `ablab bench`'s own run of the same cells: the same kind of number (tokens/s of the same n);
    # speeds of two runs on a shared machine differ, so only within a factor of three
    tg = [x for x in bj if x.get("test") == "tg8"] if isinstance(bj, list) else []
    pp = [x for x in bj if x.get("test") == "pp16"] if isinstance(bj, list) else []
    check("bench run separately: the same model, parameters, dtype and threads as the table's Q8_0 row",
          tg and pp and all(x["params"] == g8["params"] and x["dtype"] == g8["dtype"] == "q8_0" and x["threads"] == 2
                            for x in tg + pp), (tg, pp, g8))
    check("bench run separately: tg8 and pp16 tokens/s within a factor of three of the table's",
          tg and pp and g8["decode_tok_s"] / 3 < tg[0]["tokens_per_s"] < g8["decode_tok_s"] * 3
          and g8["prefill_tok_s"] / 3 < pp[0]["tokens_per_s"] < g8["prefill_tok_s"] * 3, (tg, pp, g8))

    # ---- --from-db: the same table, nothing loaded (the model files are gone), nothing added ----
    shutil.rmtree(models)
    p2 = ablab("scale", "--from-db", "--price", "1.5", "--format", "md")
    check("--from-db gives the same table with the models gone", p2.returncode == 0 and p2.stdout == md_first,
          (md_first, p2.stdout, p2.stderr))
    con = sqlite3.connect(db)
    n_after = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("scale_results", "evaluations", "benchmarks", "models")]
    con.close()
    check("--from-db recomputes and stores nothing", n_after == n_before, (n_before, n_after))
    out2 = os.path.join(tmp, "out2")
    p3 = ablab("scale", "--from-db", "--price", "1.5", "--out", out2, "--format", "svg")
    differ = [n for n in ("scale.md", "scale.csv", "scale.json", "scale.tex", "scale-params.svg", "scale-cost.svg",
                          "scale-speed.svg")
              if p3.returncode != 0 or open(os.path.join(out, n)).read() != open(os.path.join(out2, n)).read()]
    check("--from-db --out writes the same files", not differ, (differ, p3.stderr))

finish()
