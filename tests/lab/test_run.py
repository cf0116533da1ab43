#!/usr/bin/env python3
"""End to end with the real binary: `ablab run` on stories260K against the tiny GQA golden model
stores 10 responses with all metrics from a 5-line prompt file, resumes after kill -9 with exactly
one response per prompt, model and repetition, and `ablab rate`, `ablab stats` and `ablab export`
work on what it stored. Both models ship in tests/fixtures/shared."""
import json, os, random, signal, sqlite3, subprocess, sys, tempfile, time

from checks import check, finish, need_shared

BIN = os.environ["ABLAB_BIN"]
A, B = need_shared("models/stories260K/stories260K.bin", "golden/llama-tiny-gqa")



with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    db = os.path.join(tmp, "lab.db")
    prompts = os.path.join(tmp, "prompts.txt")
    with open(prompts, "w") as f:
        f.write("Once upon a time\nThe little dog\nLily and Ben went to the park\n"
                '{"prompt": "One day, a \\"big\\" bird"}\nThe sun was shining\n')

    def ablab(*args, **kw):
        return subprocess.run([BIN, *args, "--db", db], capture_output=True, text=True, env=env, timeout=120, **kw)

    # ---- 5 prompts, 10 responses with every metric ----
    p = ablab("run", "--a", A, "--b", B, "--prompts", prompts, "--max-tokens", "24", "--json")
    check("run exits 0", p.returncode == 0, p.stderr)
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    check("--json prints one line per response", len(lines) == 10, len(lines))
    check("json lines carry output and metrics",
          all(isinstance(l["output"], str) and l["n_gen_tokens"] > 0 and l["ttft_ms"] > 0 for l in lines)
          and all(l["output"] for l in lines if l["slot"] == "A"), lines[:1])  # B's random weights may say nothing
    check("progress and a summary on stderr", "prompt 5/5" in p.stderr and "5 of 5 pairs complete" in p.stderr, p.stderr)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT r.slot, r.n_gen, r.n_prompt, r.ttft_ms, r.prefill_ms, r.decode_tok_s, r.p50_ms, "
                       "r.p95_ms, r.total_ms, r.bytes_kv, r.bytes_scratch, r.bytes_weights_mapped + "
                       "r.bytes_weights_owned, r.peak_rss, r.threads, r.seed, r.token_ids, r.stop_reason, "
                       "r.build_version, r.cpu_model, r.output FROM responses r").fetchall()
    check("10 responses stored", len(rows) == 10, len(rows))
    def bad_metrics(r):
        # a sampled answer may end early at the model's end-of-text: then the stop reason says so
        conds = {"n_gen": 0 < r[1] <= 24, "stop matches n_gen": (r[16] == "length") == (r[1] == 24), "n_prompt": r[2] > 0, "ttft": r[3] > 0, "prefill": r[4] > 0,
                 "tok/s": r[5] > 0, "p50": r[6] > 0, "p95 >= p50": r[7] >= r[6], "total >= ttft": r[8] >= r[3],
                 "kv": r[9] > 0, "scratch": r[10] > 0, "weights": r[11] > 0, "rss": r[12] > 0,
                 "threads": r[13] == 1, "seed": r[14] >= 0, "token ids": len(r[15].split()) == r[1],
                 "stop": r[16] in ("length", "eos"), "version": bool(r[17]), "cpu": bool(r[18])}
        return [k for k, ok in conds.items() if not ok]
    bad = [(r[0], bad_metrics(r)) for r in rows if bad_metrics(r)]
    check("every metric is there", not bad, bad)
    check("models recorded with hashes",
          con.execute("SELECT count(*) FROM models WHERE length(weights_sha256) = 64 AND n_params > 0").fetchone()[0] == 2)
    # the hash taken while the model loads is the file's (A is one file; B a folder of one weight file)
    import hashlib
    def sha(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    b_files = sorted(n for n in os.listdir(B) if n.endswith((".safetensors", ".gguf", ".bin")) and n != "tokenizer.bin")
    b_sha = hashlib.sha256("".join(f"{n} {sha(os.path.join(B, n))}\n" for n in b_files).encode()).hexdigest()
    got = dict(con.execute("SELECT path, weights_sha256 FROM models").fetchall())
    check("the models' hashes are their weights' sha256", got.get(A) == sha(A) and got.get(B) == b_sha,
          (got, sha(A), b_sha))
    sample_a = con.execute("SELECT output FROM responses WHERE slot = 0 ORDER BY id LIMIT 1").fetchone()[0]
    con.close()

    # ---- the same command again: nothing new ----
    p = ablab("run", "--a", A, "--b", B, "--prompts", prompts, "--max-tokens", "24")
    check("re-run resumes with nothing to do", p.returncode == 0 and "5 already there, 0 generated now" in p.stderr, p.stderr)

    # ---- rate, stats, export ----
    pair = lines[0]["pair_id"]
    p = ablab("rate", "--response-pair", str(pair), "--choice", "a", "--score-a", "4", "--comment", "reads like a story")
    check("rate", p.returncode == 0 and p.stdout.startswith("rating "), (p.stdout, p.stderr))
    p = ablab("rate", "--response-pair", str(pair), "--choice", "maybe")
    check("rate refuses a bad choice", p.returncode == 2 and "maybe" in p.stderr, p.stderr)
    p = ablab("stats", "--format", "json")
    st = json.loads(p.stdout) if p.returncode == 0 else {}
    check("stats json", st.get("votes") == 1 and st["pairs"][0]["wins_a"] == 1 and len(st["models"]) == 2, p.stdout[:300])
    p = ablab("export", "--what", "all", "--format", "md")
    md = p.stdout
    check("export all md has the methods and the tables",
          p.returncode == 0 and "### Methods" in md and "stories260K" in md and "| model A | model B |" in md
          and "TTFT ms (median / p90)" in md, md[:500])
    out = os.path.join(tmp, "csv")
    p = ablab("export", "--what", "all", "--format", "csv", "--out", out)
    check("export all csv writes a folder",
          p.returncode == 0 and sorted(os.listdir(out)) == ["models.csv", "ratings.csv", "responses.csv", "sessions.csv", "summary.csv"],
          (p.stderr, os.listdir(out) if os.path.isdir(out) else None))

    charts = os.path.join(tmp, "charts")
    p = ablab("export", "--what", "all", "--format", "svg", "--out", charts)
    parsed = []
    if p.returncode == 0:
        import xml.etree.ElementTree as ET
        for name in ("win_rates.svg", "speed.svg", "scores.svg"):
            root = ET.parse(os.path.join(charts, name)).getroot()
            parsed.append(root.tag == "{http://www.w3.org/2000/svg}svg" and len(list(root.iter())) > 10)
    check("svg charts are well-formed SVG", parsed == [True, True, True], (p.stderr, parsed))

    # ---- a record handed in read-only (chmod 444 in a read-only folder): stats and export work ----
    import hashlib, shutil, stat
    ro_dir = os.path.join(tmp, "handed-in")
    os.mkdir(ro_dir)
    ro_db = os.path.join(ro_dir, "lab.db")
    shutil.copy(db, ro_db)
    digest = hashlib.sha256(open(ro_db, "rb").read()).hexdigest()
    os.chmod(ro_db, 0o444)
    os.chmod(ro_dir, 0o555)
    os.chmod(tmp, 0o755)
    def as_reader():  # root ignores permissions: read as nobody, as a marker would
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
    ro_env = dict(env, HOME=tmp, XDG_CONFIG_HOME=ro_dir, XDG_DATA_HOME=ro_dir, XDG_STATE_HOME=ro_dir)
    def ro(*args):
        return subprocess.run([BIN, *args, "--db", ro_db], capture_output=True, text=True, env=ro_env, timeout=120,
                              preexec_fn=as_reader)
    p = ro("stats", "--format", "json")
    st = json.loads(p.stdout) if p.returncode == 0 else {}
    check("read-only record: stats works and says it is read-only",
          st.get("votes") == 1 and "is read-only" in p.stderr, (p.returncode, p.stderr))
    p = ro("export", "--what", "all", "--format", "md")
    check("read-only record: export works", p.returncode == 0 and "### Methods" in p.stdout, (p.returncode, p.stderr))
    p = ro("rate", "--response-pair", str(pair), "--choice", "b")
    check("read-only record: a rating is refused, saying why", p.returncode != 0 and "not writable" in p.stderr, p.stderr)
    check("read-only record: the file is unchanged and nothing was made beside it",
          hashlib.sha256(open(ro_db, "rb").read()).hexdigest() == digest and os.listdir(ro_dir) == ["lab.db"],
          os.listdir(ro_dir))
    os.chmod(ro_dir, 0o755)

    # ---- kill -9 in the middle of a longer run, then resume ----
    db2 = os.path.join(tmp, "kill.db")
    cmd = [BIN, "run", "--a", A, "--b", B, "--prompts", prompts, "--max-tokens", "150", "--repeat", "4",
           "--json", "--db", db2]
    random.seed(5)
    for attempt in range(3):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        seen = 0
        for line in proc.stdout:
            seen += 1
            if seen >= 2 + 3 * attempt:
                break
        time.sleep(random.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    check("the resumed run finishes", p.returncode == 0 and "20 of 20 pairs complete" in p.stderr, p.stderr[-400:])
    con = sqlite3.connect(db2)
    check("integrity ok", con.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    n, distinct = con.execute("SELECT count(*), count(DISTINCT p.prompt_id || ':' || p.rep || ':' || r.model_id) "
                              "FROM responses r JOIN pairs p ON p.id = r.pair_id").fetchone()
    check("exactly one response per prompt, model and repetition", n == 40 and distinct == 40, (n, distinct))
    check("no half answers", con.execute("SELECT count(*) FROM responses WHERE stop_reason NOT IN ('length', 'eos') "
                                         "OR n_gen = 0").fetchone()[0] == 0)
    con.close()

finish()
