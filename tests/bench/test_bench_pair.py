#!/usr/bin/env python3
"""Drives `ablab bench --pair` on the two shipped default models: usage errors that name the
problem, and csv, json and md outputs whose rows hold positive tokens/s and whose loss and
combined (A+B) columns follow from the printed solo and together columns; the record holds each
model's solo row and its "pair" row with the partner. Speed itself is never asserted."""
import csv, io, json, math, os, sqlite3, subprocess, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
A = os.path.join(ASSETS, "models", "scratch-shakespeare")
B = os.path.join(ASSETS, "models", "gpt2-mini")

SANDBOX = tempfile.mkdtemp()  # nothing reaches the user's own record or config
ENV = dict(os.environ, XDG_DATA_HOME=SANDBOX, XDG_CONFIG_HOME=SANDBOX, XDG_STATE_HOME=SANDBOX)


def run(*args):
    p = subprocess.run([BIN, "bench", *args], capture_output=True, text=True, timeout=300, env=ENV)
    return p.returncode, p.stdout, p.stderr


def near(x, y, tol):
    return abs(x - y) <= tol


def check_rows(fmt, rows, tests):
    """rows: dicts with slot, test, threads, threads_total, partner, solo, together, loss (floats)."""
    check(f"{fmt}: rows A, B, A+B for each of {tests}",
          [(r["test"], r["slot"]) for r in rows] == [(t, s) for t in tests for s in ("A", "B", "A+B")],
          [(r["test"], r["slot"]) for r in rows])
    check(f"{fmt}: positive, finite tokens/s",
          rows and all(math.isfinite(r[k]) and r[k] > 0 for r in rows for k in ("solo", "together")), rows)
    # the loss as printed follows from the printed solo and together columns (3 decimals in csv/json,
    # 2 for tokens/s and 1 for the loss in md: tolerances allow for that rounding only)
    tol = 0.01 if fmt != "md" else 0.06
    check(f"{fmt}: loss = 100 (1 - together / solo) on every row",
          all(near(r["loss"], 100 * (1 - r["together"] / r["solo"]), tol) for r in rows),
          [(r["slot"], r["solo"], r["together"], r["loss"]) for r in rows])
    stol = 0.002 if fmt != "md" else 0.02
    sums = True
    for i in range(0, len(rows) - 2, 3):
        a, b, s = rows[i:i + 3]
        sums = sums and near(s["solo"], a["solo"] + b["solo"], stol) and near(s["together"], a["together"] + b["together"], stol)
        sums = sums and s["threads"] == a["threads"] + b["threads"]
    check(f"{fmt}: A+B = the sums of A and B (combined solo, combined together, threads)", sums, rows)
    check(f"{fmt}: -t 2 splits 1 + 1", all(r["threads"] == (2 if r["slot"] == "A+B" else 1) for r in rows), rows)


# ---------- usage errors ----------
rc, _, err = run("--model", A, "--pair", "-n", "4", "-t", "2", "-r", "1", "--no-record")
check("--pair with one model: usage error naming --pair and two models",
      rc == 2 and "--pair" in err and "exactly two --model" in err and "got 1" in err, (rc, err))
rc, _, err = run("--model", A, "--model", B, "--model", A, "--pair", "--no-record")
check("--pair with three models: usage error", rc == 2 and "exactly two --model" in err and "got 3" in err, (rc, err))
rc, _, err = run("--model", A, "--model", B, "--pair", "--cpu-time", "--no-record")
check("--pair with --cpu-time: usage error naming it", rc == 2 and "--cpu-time" in err, (rc, err))
rc, out, _ = run("--help")
check("--help documents --pair", rc == 0 and "--pair" in out and "together" in out, out)

with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "record.db")
    # ---------- csv, recorded ----------
    rc, out, err = run("--model", A, "--model", B, "--pair", "-p", "16", "-n", "8", "-t", "2", "-r", "1",
                       "--format", "csv", "--db", db)
    ok = check("bench --pair --format csv", rc == 0, (rc, err))
    if ok:
        raw = list(csv.DictReader(io.StringIO(out)))
        rows = [dict(slot=r["slot"], test=r["test"], threads=int(r["threads"]), threads_total=int(r["threads_total"]),
                     partner=r["partner"], solo=float(r["solo_tokens_per_s_mean"]),
                     together=float(r["together_tokens_per_s_mean"]), loss=float(r["loss_pct"]), model=r["model"])
                for r in raw]
        check_rows("csv", rows, ["pp16 pair", "tg8 pair"])
        check("csv: partners and names", rows and rows[0]["model"] == "scratch-shakespeare"
              and rows[0]["partner"] == "gpt2-mini" and rows[1]["partner"] == "scratch-shakespeare"
              and rows[2]["model"] == "scratch-shakespeare + gpt2-mini" and rows[2]["partner"] == ""
              and all(r["threads_total"] == 2 for r in rows), rows)
        con = sqlite3.connect(db)
        rec = con.execute("SELECT m.name, b.name, b.threads, b.n_prompt, b.n_gen, b.prefill_tok_s, b.decode_tok_s, "
                          "b.details_json FROM benchmarks b JOIN models m ON m.id = b.model_id ORDER BY b.id").fetchall()
        con.close()
        check("recorded: each model's solo row and its pair row, per test",
              [(r[0], r[1]) for r in rec] == [("scratch-shakespeare", "pp16"), ("scratch-shakespeare", "pp16 pair"),
                                               ("gpt2-mini", "pp16"), ("gpt2-mini", "pp16 pair"),
                                               ("scratch-shakespeare", "tg8"), ("scratch-shakespeare", "tg8 pair"),
                                               ("gpt2-mini", "tg8"), ("gpt2-mini", "tg8 pair")], rec)
        if len(rec) == 8:
            by = {(r[0], r[1]): r for r in rec}
            a_tg, a_solo = by[("scratch-shakespeare", "tg8 pair")], by[("scratch-shakespeare", "tg8")]
            d = json.loads(a_tg[7])
            check("recorded pair row: together tokens/s, its share of threads, n_gen",
                  near(a_tg[6], rows[3]["together"], 1e-2) and a_tg[2] == 1 and a_tg[4] == 8 and a_tg[5] == 0, a_tg)
            check("recorded solo row: the solo tokens/s", near(a_solo[6], rows[3]["solo"], 1e-2), a_solo)
            check("recorded pair details: partner, threads, solo, loss and the combined figures",
                  d["partner"] == "gpt2-mini" and d["partner_path"] == B and d["threads_total"] == 2
                  and d["partner_threads"] == 1 and near(d["solo_tok_s"], rows[3]["solo"], 1e-2)
                  and near(d["loss_pct"], rows[3]["loss"], 1e-2)
                  and near(d["combined_solo_tok_s"], rows[5]["solo"], 1e-2)
                  and near(d["combined_together_tok_s"], rows[5]["together"], 1e-2)
                  and near(d["combined_loss_pct"], rows[5]["loss"], 1e-2), d)
            b_pp = by[("gpt2-mini", "pp16 pair")]
            check("recorded pp pair row: prefill tokens/s, n_prompt",
                  near(b_pp[5], rows[1]["together"], 1e-2) and b_pp[3] == 16 and b_pp[6] == 0, b_pp)

    # ---------- json ----------
    rc, out, err = run("--model", A, "--model", B, "--pair", "-n", "4", "-t", "2", "-r", "2", "--format", "json", "--no-record")
    ok = check("bench --pair --format json (no -p: tg only)", rc == 0, (rc, err))
    if ok:
        try:
            j = json.loads(out)
        except ValueError as ex:
            j = []
            check("json parses", False, (ex, out))
        rows = [dict(slot=r["slot"], test=r["test"], threads=r["threads"], solo=r["solo_tokens_per_s"],
                     together=r["together_tokens_per_s"], loss=r["loss_pct"]) for r in j]
        check_rows("json", rows, ["tg4 pair"])
        check("json: sd and loss sd present and not negative",
              j and all(r["solo_tokens_per_s_sd"] >= 0 and r["together_tokens_per_s_sd"] >= 0 and r["loss_pct_sd"] >= 0
                        for r in j), j)

    # ---------- --bound: the weights streamed, and the pair's share of the read bandwidth ----------
    rc, out, err = run("--model", A, "--model", B, "--pair", "-n", "8", "-t", "2", "-r", "1", "--bound",
                       "--format", "csv", "--no-record")
    ok = check("bench --pair --bound --format csv", rc == 0, (rc, err))
    if ok:
        raw = list(csv.DictReader(io.StringIO(out)))
        f = [{k: float(r[k]) for k in ("solo_tokens_per_s_mean", "together_tokens_per_s_mean", "solo_gb_s",
                                       "together_gb_s", "read_bw_gb_s")} for r in raw]
        check("--bound csv: three rows with positive GB/s", len(f) == 3 and all(r["solo_gb_s"] > 0 and
              r["together_gb_s"] > 0 for r in f), raw)
        if len(f) == 3:
            # one model reads the same bytes per token alone and together: GB/s / tokens/s agree
            same = all(near(r["solo_gb_s"] / r["solo_tokens_per_s_mean"], r["together_gb_s"] / r["together_tokens_per_s_mean"],
                            1e-4 + 1e-3 * r["solo_gb_s"] / r["solo_tokens_per_s_mean"]) for r in f[:2])
            check("--bound csv: a model's bytes per token are the same solo and together", same, f)
            check("--bound csv: A+B streams the sum of A and B",
                  near(f[2]["together_gb_s"], f[0]["together_gb_s"] + f[1]["together_gb_s"], 2e-3), f)
            check("--bound csv: the read bandwidth of the whole budget on the A+B row only",
                  f[2]["read_bw_gb_s"] > 0 and f[0]["read_bw_gb_s"] == 0 and f[1]["read_bw_gb_s"] == 0, f)
    rc, out, err = run("--model", A, "--model", B, "--pair", "-n", "4", "-t", "2", "-r", "1", "--bound", "--no-record")
    lines = out.splitlines()
    head = next((i for i, l in enumerate(lines) if l.startswith("| model |")), -1)
    check("--bound md: a GB/s column and the % of the read bandwidth, the bandwidth noted above the table",
          rc == 0 and head > 0 and "weights GB/s solo → together" in lines[head]
          and any(l.startswith("<!-- read bandwidth: 2 threads") for l in lines[:head])
          and any("| A+B |" in l and "% of " in l for l in lines), (rc, out, err))

    # ---------- md ----------
    rc, out, err = run("--model", A, "--model", B, "--pair", "-n", "4", "-t", "2", "-r", "1", "--no-record")
    ok = check("bench --pair (md)", rc == 0 and "| solo t/s | together t/s | loss |" in out, (rc, out, err))
    if ok:
        rows = []
        for line in out.splitlines():
            c = [x.strip() for x in line.strip().strip("|").split("|")]
            if len(c) == 10 and c[6].endswith(" pair"):
                rows.append(dict(slot=c[1], test=c[6], threads=int(c[5]), solo=float(c[7].split(" ± ")[0]),
                                 together=float(c[8].split(" ± ")[0]), loss=float(c[9].rstrip(" %"))))
        check_rows("md", rows, ["tg4 pair"])

finish()
