#!/usr/bin/env python3
"""`ablab run --parallel N` (issue 18) with the real binary on the two shipped models (gpt2-mini as
A, scratch-shakespeare, a llama, as B): N prompts at a time, each model decoding its answers
together, store exactly the answers --parallel 1 stores with the same --seed (output text, token
ids, seeds, stop reasons, for both models and every repetition); a session left partly answered
(whole pairs and single sides missing) or killed mid-run is completed with --parallel and ends
identical to the one-at-a-time run; bad --parallel values are refused."""
import json, os, signal, sqlite3, subprocess, tempfile, time

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
A = os.path.join(ASSETS, "models", "gpt2-mini")
B = os.path.join(ASSETS, "models", "scratch-shakespeare")

PROMPTS = ["Once upon a time", "The little dog", "To be, or not to be", "Hello world", "In the beginning",
           "A quick brown fox", "The king said", "ROMEO:"]

QUERY = ("SELECT p.position, pa.rep, r.slot, r.seed, r.stop_reason, r.n_gen, r.token_ids, r.output "
         "FROM responses r JOIN pairs pa ON pa.id = r.pair_id JOIN prompts p ON p.id = pa.prompt_id "
         "ORDER BY 1, 2, 3")

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    prompts = os.path.join(tmp, "prompts.txt")
    with open(prompts, "w") as f:
        f.write("\n".join(PROMPTS) + "\n")

    def ablab(db, *args, timeout=300):
        return subprocess.run([BIN, "run", "--a", A, "--b", B, "--prompts", prompts, "--seed", "11", "--repeat", "2",
                               "--max-tokens", "20", "--db", db, *args],
                              capture_output=True, text=True, env=env, timeout=timeout)

    def rows(db):
        con = sqlite3.connect(db)
        r = con.execute(QUERY).fetchall()
        con.close()
        return r

    n = len(PROMPTS) * 2 * 2
    ref_db = os.path.join(tmp, "one.db")
    p = ablab(ref_db)
    check("--parallel 1 run exits 0", p.returncode == 0, p.stderr)
    ref = rows(ref_db)
    check("one response per prompt, repetition and model", len(ref) == n, len(ref))
    check("the answers differ between prompts (a real comparison)", len({r[7] for r in ref}) > len(PROMPTS), ref[:4])
    check("some answers end before max_tokens or all run to it", all(r[4] in ("length", "eos") for r in ref), ref[:2])

    for par in ("4", "3", "64"):
        db = os.path.join(tmp, f"par{par}.db")
        p = ablab(db, "--parallel", par, "--json")
        check(f"--parallel {par} exits 0", p.returncode == 0, p.stderr)
        got = rows(db)
        check(f"--parallel {par}: text, token ids, seeds and stops identical to --parallel 1", got == ref,
              next(((a, b) for a, b in zip(ref, got) if a != b), (len(ref), len(got))))
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        check(f"--parallel {par} --json: one line per response", len(lines) == n and
              sorted((l["prompt_index"], l["rep"], l["slot"]) for l in lines) ==
              sorted((i, r, s) for i in range(len(PROMPTS)) for r in range(2) for s in "AB"), len(lines))
        check(f"--parallel {par}: the summary counts every pair", f"{n // 2} of {n // 2} pairs complete" in p.stderr
              and f"0 already there, {n // 2} generated now, 0 failed" in p.stderr, p.stderr[-400:])

    # ---- a session partly answered: whole pairs and single sides missing ----
    db = os.path.join(tmp, "partial.db")
    p = ablab(db, "--parallel", "4")
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT r.id FROM responses r JOIN pairs pa ON pa.id = r.pair_id "
                                     "ORDER BY pa.id, r.slot").fetchall()]
    gone = [ids[1], ids[4], ids[9], ids[10], ids[11]]  # B of pair 0, A of 2, B of 4 and all of 5
    con.executemany("DELETE FROM responses WHERE id = ?", [(i,) for i in gone])
    con.commit()
    con.close()
    p = ablab(db, "--parallel", "3")
    check("the partial session completes: only the 4 pairs with a side missing are asked",
          p.returncode == 0 and "12 already there, 4 generated now" in p.stderr, p.stderr[-400:])
    check("resumed with --parallel: identical to the one-at-a-time run, one response each", rows(db) == ref,
          len(rows(db)))

    # ---- killed mid-run, resumed with --parallel ----
    db = os.path.join(tmp, "killed.db")
    proc = subprocess.Popen([BIN, "run", "--a", A, "--b", B, "--prompts", prompts, "--seed", "11", "--repeat", "2",
                             "--max-tokens", "20", "--parallel", "2", "--db", db],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t0 = time.time()
    seen = 0
    while proc.poll() is None and time.time() - t0 < 120:
        try:
            con = sqlite3.connect(db)
            seen = con.execute("SELECT count(*) FROM responses").fetchone()[0]
            con.close()
        except sqlite3.Error:
            seen = 0
        if seen >= 2:
            break
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(rows(db))
    check("the killed run left only whole rows", all(r[7] is not None and r[6] is not None for r in rows(db)))
    p = ablab(db, "--parallel", "4")
    check("the killed run resumes", p.returncode == 0, p.stderr[-400:])
    check("after the kill (%s, %d responses then): identical to the one-at-a-time run" % (
          "killed" if killed else "it had finished", before), rows(db) == ref, len(rows(db)))

    # ---- refusals ----
    for bad in ("0", "65", "x"):
        p = ablab(os.path.join(tmp, "bad.db"), "--parallel", bad)
        check(f"--parallel {bad} refused", p.returncode == 2 and "--parallel" in p.stderr and "1..64" in p.stderr,
              p.stderr)

finish()
