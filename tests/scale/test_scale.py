#!/usr/bin/env python3
"""`ablab scale` end to end on the shipped models (scratch-shakespeare, gpt2-mini) and stories260K
(from ../shared; on a clone without it the shipped models alone, said so),
on a short slice of the TinyStories sample with few bench tokens (CI time): the table in every
format and the three plots (rendered with rsvg-convert: labelled axes, conditions, the frontier);
a second run resumes without measuring, --from-db gives the same table without loading a model;
bits per byte equal `ablab eval`'s, the speeds equal the bench rows the run recorded, and Elo and
win rates equal `ablab stats` on ratings made with `ablab run` and `ablab rate`."""
import csv, io, json, os, shutil, sqlite3, subprocess, tempfile

from checks import check, finish, say_missing, shared_file

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
# the corpus has a copy in tests/fixtures/shared; stories260K does not (a plain clone runs without it)
CORPUS = shared_file("corpus/tinystories_sample.txt")
STORIES = shared_file("models/stories260K/stories260K.bin")
if STORIES is None:
    say_missing("part not run", "models/stories260K/stories260K.bin")
SCRATCH = os.path.join(ASSETS, "models", "scratch-shakespeare")
MINI = os.path.join(ASSETS, "models", "gpt2-mini")
MODELS = [SCRATCH, MINI] + ([STORIES] if STORIES else [])
NAMES = ["scratch-shakespeare", "gpt2-mini"] + (["stories260K.bin"] if STORIES else [])
N = len(MODELS)
BENCH = ["-p", "16", "-n", "8", "-r", "2", "--threads", "1"]

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    db = os.path.join(tmp, "lab.db")
    corpus = os.path.join(tmp, "slice.txt")
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(text[:2000])

    def ablab(*args):
        return subprocess.run([BIN, *args, "--db", db], capture_output=True, text=True, env=env, timeout=300)

    # ---- ratings first, so the table has Elo: scratch against gpt2-mini on three prompts ----
    prompts = os.path.join(tmp, "prompts.txt")
    with open(prompts, "w") as f:
        f.write("Once upon a time\nThe little dog\nThe sun was shining\n")
    p = ablab("run", "--a", SCRATCH, "--b", MINI, "--prompts", prompts, "--max-tokens", "4", "--threads", "1")
    check("ablab run for the ratings", p.returncode == 0, p.stderr)
    for pair, choice in ((1, "a"), (2, "a"), (3, "b")):
        p = ablab("rate", "--response-pair", str(pair), "--choice", choice)
        check(f"rate pair {pair}", p.returncode == 0, p.stderr)

    # ---- the measurement, every format ----
    out = os.path.join(tmp, "out")
    p = ablab("scale", "--models", *MODELS, "--corpus", corpus, *BENCH, "--price", "2.5", "--out", out,
              "--format", "json")
    check("scale exits 0", p.returncode == 0, p.stderr)
    table = json.loads(p.stdout) if p.returncode == 0 else {"models": []}
    rows = table["models"]
    check("one row per model", [r["model"] for r in rows] == NAMES, [r["model"] for r in rows])
    check("every measurement is there", all(r["params"] > r["params_nonemb"] > 0 and r["bytes_on_disk"] > 0
                                            and r["bytes_resident"] >= r["bytes_on_disk"] // 2 and r["load_ms"] > 0
                                            and r["prefill_tok_s"] > 0 and r["decode_tok_s"] > 0
                                            and 0 < r["bits_per_byte"] < 20 and r["token_ppl"] >= 1 for r in rows), rows)
    check("cost per million tokens = price / (tok/s * 3600) * 1e6",
          all(abs(r["usd_per_m_tokens"] - 2.5 / (r["decode_tok_s"] * 3600) * 1e6) < 1e-3 * r["usd_per_m_tokens"]
              for r in rows), rows)
    check("GB*s per 1k tokens", all(abs(r["gb_s_per_1k_tokens"] - r["bytes_resident"] / 1e9 * 1000 / r["decode_tok_s"])
                                    < 1e-3 * r["gb_s_per_1k_tokens"] for r in rows), rows)
    check(f"{N} sizes: the log-log slope, said as such", table["fit"] and table["fit"]["kind"] == "loglog-slope",
          table["fit"])
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    check("--out writes every format and three plots", files == sorted(
        ["scale.md", "scale.csv", "scale.json", "scale.tex", "scale-params.svg", "scale-cost.svg", "scale-speed.svg"]),
        files)
    with open(os.path.join(out, "scale.md")) as f:
        md = f.read()
    check("md: a row per model and the fit said as a log-log slope",
          all(md.count(f"| {n} | ") == 1 for n in NAMES) and "log-log slope" in md and "USD/M tok" in md, md)
    with open(os.path.join(out, "scale.csv")) as f:
        crows = list(csv.DictReader(f))
    check("csv parses with the same numbers", [float(r["bits_per_byte"]) for r in crows]
          == [round(r["bits_per_byte"], 6) for r in rows], crows)
    with open(os.path.join(out, "scale.tex")) as f:
        tex = f.read()
    check("tex: a tabular with every model", "\\begin{tabular}" in tex and all(n in tex for n in NAMES), tex)

    # ---- the plots ----
    rsvg = shutil.which("rsvg-convert")
    check("rsvg-convert is installed (tools/setup.sh)", rsvg is not None)
    for name in ("scale-params.svg", "scale-cost.svg", "scale-speed.svg"):
        path = os.path.join(out, name)
        with open(path) as f:
            svg = f.read()
        check(f"{name}: conditions on the plot", "machine " in svg and "threads 1" in svg and "ablab " in svg
              and "measured 20" in svg, svg[-400:])
        if rsvg:
            r = subprocess.run([rsvg, path, "-o", path + ".png"], capture_output=True, text=True)
            check(f"{name} renders", r.returncode == 0 and os.path.getsize(path + ".png") > 1000, r.stderr)
    with open(os.path.join(out, "scale-params.svg")) as f:
        svg = f.read()
    check("params plot: log axis labelled, the fitted curve, an Elo panel",
          "non-embedding parameters (log scale)" in svg and "bits per byte on the corpus" in svg
          and "log-log slope: alpha" in svg and "Elo (mean of rated models = 1000)" in svg, svg[:300])
    with open(os.path.join(out, "scale-cost.svg")) as f:
        svg = f.read()
    check("cost plot: axis in USD and the Pareto frontier",
          "cost per million generated tokens (USD" in svg and 'class="pareto-frontier"' in svg
          and "Pareto frontier" in svg, svg[:300])
    with open(os.path.join(out, "scale-speed.svg")) as f:
        svg = f.read()
    check("speed plot: labelled axes", "resident bytes" in svg and "decode tokens/s" in svg)

    # ---- the record: eval and bench rows beside each measurement ----
    con = sqlite3.connect(db)
    n_scale = con.execute("SELECT count(*) FROM scale_results").fetchone()[0]
    check("one stored measurement per model", n_scale == N, n_scale)
    for r in rows:
        ev = con.execute("SELECT value, metric FROM evaluations WHERE id = ?", (r["eval_id"],)).fetchone()
        pp = con.execute("SELECT prefill_tok_s, n_prompt FROM benchmarks WHERE id = ?", (r["prefill_bench_id"],)).fetchone()
        tg = con.execute("SELECT decode_tok_s, n_gen FROM benchmarks WHERE id = ?", (r["decode_bench_id"],)).fetchone()
        check(f"{r['model']}: the table's speeds are the bench rows recorded",
              pp and tg and abs(pp[0] - r["prefill_tok_s"]) < 1e-3 and abs(tg[0] - r["decode_tok_s"]) < 1e-3
              and pp[1] == 16 and tg[1] == 8, (pp, tg, r))
        check(f"{r['model']}: bits per byte is the eval row recorded",
              ev and ev[1] == "bits_per_byte" and abs(ev[0] - r["bits_per_byte"]) < 1e-6, (ev, r))
    con.close()

    # ---- the same numbers as eval and stats run separately ----
    for path, r in zip(MODELS, rows):
        p = ablab("eval", "--model", path, "--text", corpus, "--format", "json", "--no-record", "--threads", "1")
        ev = json.loads(p.stdout)["results"][0] if p.returncode == 0 else {}
        check(f"{r['model']}: bits per byte and ppl equal `ablab eval`'s",
              ev and abs(ev["bits_per_byte"] - r["bits_per_byte"]) < 1e-6 and abs(ev["token_ppl"] - r["token_ppl"]) < 1e-6 * ev["token_ppl"],
              (ev, r, p.stderr))
    p = ablab("stats", "--format", "json")
    st = json.loads(p.stdout) if p.returncode == 0 else {}
    by_name = {m["name"]: m for m in st.get("models", [])}
    for r in rows[:2]:
        m = by_name.get(r["model"], {})
        check(f"{r['model']}: Elo and its interval equal `ablab stats`'",
              r["elo"] is not None and abs(m.get("elo", 1e9) - r["elo"]) < 0.01
              and all(abs(a - b) < 0.01 for a, b in zip(m.get("elo_ci", [1e9, 1e9]), r["elo_ci"])), (m, r))
    check("win rates: 2 of 3 and 1 of 3", abs(rows[0]["win_rate"] - 2 / 3) < 1e-3 and abs(rows[1]["win_rate"] - 1 / 3) < 1e-3
          and rows[0]["decisive_votes"] == 3, rows[:2])
    if STORIES:
        check("stories260K was never rated", rows[2]["elo"] is None and rows[2]["win_rate"] is None, rows[2])

    # ---- a second run resumes; --from-db re-renders without loading a model ----
    p1 = ablab("scale", "--models", *MODELS, "--corpus", corpus, *BENCH, "--price", "2.5")
    check("second run: nothing measured again", p1.returncode == 0 and p1.stderr.count("not measured again") == N,
          p1.stderr)
    con = sqlite3.connect(db)
    check("no new rows", con.execute("SELECT count(*) FROM scale_results").fetchone()[0] == N
          and con.execute("SELECT count(*) FROM benchmarks").fetchone()[0] == 2 * N)
    con.close()
    gone = os.path.join(tmp, "gone")
    os.mkdir(gone)
    p2 = subprocess.run([BIN, "scale", "--from-db", "--price", "2.5", "--db", db], capture_output=True, text=True,
                        env=env, timeout=120, cwd=gone)
    check("--from-db gives the same table", p2.returncode == 0 and p2.stdout == p1.stdout,
          (p1.stdout, p2.stdout, p2.stderr))
    p3 = ablab("scale", "--from-db", "--models", MINI, "--format", "csv")
    check("--from-db --models picks the model, without --price the column is left out",
          p3.returncode == 0 and len(list(csv.DictReader(io.StringIO(p3.stdout)))) == 1
          and "usd_per_m_tokens" not in p3.stdout, p3.stdout + p3.stderr)
    p4 = ablab("scale", "--from-db", "--models", MINI)
    check("md says the cost column is left out", "left out (no --price given)" in p4.stdout, p4.stdout)

    # ---- bad input ----
    p = ablab("scale", "--models", MINI, "--corpus", os.path.join(tmp, "missing.txt"))
    check("a missing corpus is named", p.returncode == 1 and "missing.txt" in p.stderr, p.stderr)
    p = ablab("scale", "--models", MINI, "--corpus", corpus, "--format", "svg")
    check("--format svg needs --out", p.returncode == 2 and "--out" in p.stderr, p.stderr)
    p = ablab("scale", "--models", MINI, "--corpus", corpus, "--quant", "f32,q4_k_x")
    check("an unknown quant type is refused, naming it and the types there are",
          p.returncode != 0 and "'q4_k_x'" in p.stderr and "q4_k_m" in p.stderr and "q6_k" in p.stderr, p.stderr)

    # ---- --quant takes every type `ablab convert --quant` takes (one list, eng_quant_names) ----
    every = ["q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16"]
    p = ablab("scale", "--models", SCRATCH, "--corpus", corpus, "-p", "4", "-n", "2", "-r", "1", "--threads", "1",
              "--quant", ",".join(every), "--format", "json")
    qrows = json.loads(p.stdout)["models"] if p.returncode == 0 else []
    check("scale --quant: a row per type convert takes, each loaded at that type",
          p.returncode == 0 and len(qrows) == len(every)
          and all(0 < r["bits_per_byte"] < 20 for r in qrows)
          and len({r["bytes_resident"] for r in qrows}) >= 8, (p.stderr, [(r["dtype"], r["bytes_resident"]) for r in qrows]))
    p = ablab("bench", "--model", SCRATCH, "-p", "4", "-n", "2", "-r", "1", "--threads", "1", "--quant", "q4_k_m")
    check("bench --quant q4_k_m", p.returncode == 0, p.stderr)

    # ---- --session by name as well as by id ----
    con = sqlite3.connect(db)
    sid, sname = con.execute("SELECT id, name FROM sessions ORDER BY id LIMIT 1").fetchone()
    con.close()
    by_id = ablab("scale", "--from-db", "--models", SCRATCH, MINI, "--session", str(sid), "--format", "json")
    by_name = ablab("scale", "--from-db", "--models", SCRATCH, MINI, "--session", sname, "--format", "json")
    check("--session NAME gives what --session ID gives", by_id.returncode == 0 and by_name.returncode == 0
          and by_id.stdout == by_name.stdout and json.loads(by_name.stdout)["models"][0]["elo"] is not None,
          (sname, by_id.stdout[:300], by_name.stderr))
    p = ablab("scale", "--from-db", "--session", "no-such-session")
    check("an unknown session is named", p.returncode != 0 and "no-such-session" in p.stderr, p.stderr)

    # ---- the lab's scale screen (stats, then s) shows what this record measured ----
    if shutil.which("tmux"):
        sock = f"ablab-scale-{os.getpid()}"
        tenv = dict(env, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8", HOME=tmp)
        tenv.pop("TMUX", None)
        def tmux(*a):
            return subprocess.run(["tmux", "-L", sock, *a], capture_output=True, text=True, env=tenv, timeout=30).stdout
        try:
            cmd = " ".join([BIN, "--a", SCRATCH, "--b", MINI, "--db", db, "--threads", "1",
                            "2>>" + os.path.join(tmp, "lab.err")])
            tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "160", "-y", "60", cmd)
            tmux("set-option", "-g", "escape-time", "0")
            import time
            def wait(text, secs=30):
                end, s = time.time() + secs, ""
                while time.time() < end:
                    s = tmux("capture-pane", "-p", "-t", "t")
                    if text in s: return s
                    time.sleep(0.1)
                return s
            wait("type a prompt", 60)
            tmux("send-keys", "-t", "t", "F4")
            wait("Win rates")
            tmux("send-keys", "-t", "t", "s")
            screen = wait("log-log slope")
            check("the scale screen lists every measured model and the fit",
                  all(n in screen for n in NAMES)
                  and "log-log slope" in screen and "decode tokens/s" in screen, screen)
            # ---- measure now (m): cancelled with Esc stores nothing; then a whole one adds the rows ----
            big = os.path.join(tmp, "big.txt")
            with open(big, "w", encoding="utf-8") as f:
                f.write(text * 40)
            counts = lambda: [sqlite3.connect(db).execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                              for t in ("scale_results", "evaluations", "benchmarks")]
            before = counts()
            tmux("send-keys", "-t", "t", "m")
            screen = wait("measure A and B on the corpus")
            check("m asks for the corpus", "measure A and B on the corpus" in screen, screen)
            tmux("send-keys", "-t", "t", "-l", big)
            wait(big[-20:])
            tmux("send-keys", "-t", "t", "Enter")
            screen = wait("· eval", 60)
            check("the progress line names the model and the stage",
                  "measuring scratch-shakespeare · eval" in screen and "Esc cancels" in screen, screen)
            tmux("send-keys", "-t", "t", "Escape")
            screen = wait("measurement cancelled", 60)
            check("Esc cancels the measurement", "measurement cancelled: nothing of it was stored" in screen
                  and "measuring " not in screen, screen)
            check("a cancelled measurement stores nothing (no scale, eval or bench row)", counts() == before,
                  (before, counts()))
            tmux("send-keys", "-t", "t", "m")
            screen = wait("measure A and B on the corpus")
            check("the prompt offers the corpus last used", big in screen, screen)
            tmux("send-keys", "-t", "t", "C-u")
            def wait_gone(text_, secs=10):
                end = time.time() + secs
                while time.time() < end and text_ in tmux("capture-pane", "-p", "-t", "t"):
                    time.sleep(0.1)
            wait_gone(big[-20:])
            tmux("send-keys", "-t", "t", "-l", corpus)
            wait(corpus[-20:])
            tmux("send-keys", "-t", "t", "Enter")
            screen = wait("measured 2 models", 240)
            after = counts()
            check("measure now: both loaded models measured, their rows (and eval and bench rows) stored",
                  "measured 2 models" in screen and after == [before[0] + 2, before[1] + 8, before[2] + 4],
                  (before, after, screen))
            con = sqlite3.connect(db)
            new = con.execute("SELECT m.name, s.n_prompt, s.n_gen, s.reps, s.threads, s.prefill_tok_s, s.decode_tok_s "
                              "FROM scale_results s JOIN models m ON m.id = s.model_id ORDER BY s.id DESC LIMIT 2").fetchall()
            con.close()
            check("the new rows: A and B at pp64/tg32 x 3 with the lab's threads",
                  sorted(r[:5] for r in new) == [("gpt2-mini", 64, 32, 3, 1), ("scratch-shakespeare", 64, 32, 3, 1)], new)
            lines = {}  # the table's line of each model (the first line that starts with its name)
            for ln in screen.splitlines():
                if ln.split() and ln.split()[0] in NAMES:
                    lines.setdefault(ln.split()[0], ln)
            check("the table shows the new rows' speeds", all(
                n in lines and f"{pp:.1f}" in lines[n] and f"{tg:.1f}" in lines[n] for n, *_, pp, tg in new),
                  (new, screen))
            tmux("send-keys", "-t", "t", "Escape")
            screen = wait("Win rates")
            check("Esc goes back to the stats screen", "Win rates" in screen, screen)
            tmux("send-keys", "-t", "t", "C-q")
        finally:
            tmux("kill-server")

finish()
