#!/usr/bin/env python3
"""Drives `ablab convert`, `ablab eval` and `ablab bench` on the small golden models: a converted
file loads and scores the text as its source does, the JSON/CSV outputs parse and hold what the
usage text promises, and bad arguments give usage errors."""
import csv, io, json, math, os, sqlite3, subprocess, sys, tempfile

from checks import check, finish, need_shared

BIN = os.environ["ABLAB_BIN"]


SANDBOX = tempfile.mkdtemp()  # nothing reaches the user's own record or config
ENV = dict(os.environ, XDG_DATA_HOME=SANDBOX, XDG_CONFIG_HOME=SANDBOX, XDG_STATE_HOME=SANDBOX)


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, env=ENV)
    return p.returncode, p.stdout, p.stderr




rc, _, err = run("convert", "--model", "x")
check("convert without --out: usage error", rc == 2 and "--out" in err, (rc, err))
rc, _, err = run("convert", "--model", "x", "--out", "y.gguf", "--quant", "q4_2")
check("convert --quant q4_2: usage error", rc == 2 and "q4_2" in err and "q4_k_m" in err, (rc, err))
rc, _, err = run("eval", "--model", "x")
check("eval without --text: usage error", rc == 2 and "--text" in err, (rc, err))
rc, _, err = run("eval", "--kl", "--model", "x", "--text", "t")
check("eval --kl without --reference: usage error", rc == 2 and "--reference" in err, (rc, err))
rc, _, err = run("bench", "--model", "x", "-p", "1,,2")
check("bench -p junk: error names -p", rc != 0 and "-p" in err, (rc, err))

stories, text = need_shared("models/stories260K/stories260K.bin", "corpus/tinystories_sample.txt")

with tempfile.TemporaryDirectory() as tmp:
    short = os.path.join(tmp, "short.txt")
    with open(text, encoding="utf-8") as f:
        body = f.read()[:4000]
    with open(short, "w", encoding="utf-8") as f:
        f.write(body)
    out = os.path.join(tmp, "s260-q8_0.gguf")
    rc, o, err = run("convert", "--model", stories, "--out", out, "--quant", "q8_0")
    check("convert llama2.c -> q8_0 gguf", rc == 0 and os.path.getsize(out) > 0 and "q8_0" in o, (rc, err))
    db = os.path.join(tmp, "record.db")
    rc, o, err = run("eval", "--model", stories, "--model", out, "--text", short, "--ctx", "128", "--stride", "64",
                     "--format", "json", "--db", db)
    ok = rc == 0
    check("eval two models --format json", ok, (rc, err))
    if ok:
        j = json.loads(o)
        a, b = j["results"]
        check("both score the same tokens", a["tokens"] == b["tokens"] and a["tokens"] > 500, (a, b))
        check("text bytes counted as UTF-8", j["bytes"] == len(body.encode("utf-8")), j["bytes"])
        check("bits per byte = sum nll / (bytes ln 2)",
              abs(a["bits_per_byte"] - a["sum_nll"] / (j["bytes"] * math.log(2))) < 1e-4, a)
        check("token ppl = exp(sum nll / tokens)", abs(a["token_ppl"] - math.exp(a["sum_nll"] / a["tokens"])) < 1e-3 * a["token_ppl"], a)
        check("q8_0 perplexity within 1 % of f32", abs(a["token_ppl"] - b["token_ppl"]) < 0.01 * a["token_ppl"], (a, b))
        check("window and stride reported", a["ctx"] == 128 and a["stride"] == 64 and a["windows"] > 1, a)
        con = sqlite3.connect(db)
        rows = con.execute("SELECT m.dtype, e.metric, e.value, e.n_tokens, e.dataset FROM evaluations e "
                           "JOIN models m ON m.id = e.model_id ORDER BY e.id").fetchall()
        check("eval recorded: 4 metrics for each model", len(rows) == 8 and rows[0][4] == "short.txt", rows)
        bpb = [r for r in rows if r[1] == "bits_per_byte"]
        check("recorded bits per byte equal the printed ones",
              len(bpb) == 2 and abs(bpb[0][2] - a["bits_per_byte"]) < 1e-6 and abs(bpb[1][2] - b["bits_per_byte"]) < 1e-6,
              bpb)
        con.close()
    rc, o, err = run("eval", "--kl", "--model", out, "--reference", stories, "--text", short, "--ctx", "128",
                     "--format", "json")
    ok = rc == 0
    check("eval --kl", ok, (rc, err))
    if ok:
        k = json.loads(o)
        check("KL small and positive, same top token mostly", 0 < k["kl_mean"] < 0.01 and k["same_top_pct"] > 90, k)
    rc, o, err = run("bench", "--model", out, "-p", "16", "-n", "8", "-t", "1", "-r", "2", "--format", "csv", "--db", db)
    ok = rc == 0
    check("bench --format csv", ok, (rc, err))
    if ok:
        rows = list(csv.DictReader(io.StringIO(o)))
        check("bench rows pp16 and tg8", [r["test"] for r in rows] == ["pp16", "tg8"], rows)
        check("bench reports positive tokens/s and the OpenBLAS core",
              all(float(r["tokens_per_s_mean"]) > 0 and r["openblas_core"] for r in rows), rows)
        check("bench reports load time and resident memory, which holds at least the weights and the KV cache",
              all(float(r["load_ms"]) > 0 and int(r["weights_bytes"]) > 0 and int(r["kv_bytes"]) > 0
                  and int(r["rss_bytes"]) >= int(r["weights_bytes"]) + int(r["kv_bytes"]) for r in rows), rows)
        con = sqlite3.connect(db)
        brows = con.execute("SELECT name, threads, n_prompt, n_gen, prefill_tok_s, decode_tok_s FROM benchmarks "
                            "ORDER BY id").fetchall()
        check("bench recorded pp16 and tg8", [r[0] for r in brows] == ["pp16", "tg8"] and brows[0][4] > 0 and brows[1][5] > 0
              and abs(brows[0][4] - float(rows[0]["tokens_per_s_mean"])) < 1e-2, brows)
        nmodels = con.execute("SELECT COUNT(*) FROM models").fetchone()[0]
        check("one model row per model file and dtype", nmodels == 2, nmodels)
        con.close()
    rc, o, err = run("bench", "--model", stories, "-p", "0", "-n", "600", "-r", "1", "--no-record")
    check("bench past the context: clear error", rc != 0 and "context" in err, (rc, err))

finish()
