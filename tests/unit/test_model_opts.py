#!/usr/bin/env python3
"""Issue 14.8: every command that loads a model takes the same model options (--tokenizer FILE and
--quant TYPE, and per arm --a-/--b- where there are two), from one table; `run` stops at once with
the load error when a model cannot be loaded (here: a llama2.c checkpoint copied away from its
tokenizer), and the flag the error suggests makes it work."""
import os, shutil, sqlite3, subprocess, tempfile

from checks import check, finish, need_shared

BIN = os.environ["ABLAB_BIN"]
A, B = need_shared("models/stories260K/stories260K.bin", "golden/llama-tiny-gqa")
TOK = os.path.join(os.path.dirname(A), "tok512.bin")

ONE = ["generate", "logits", "inspect"]
TWO = ["lab", "study", "run", "eval", "bench"]

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    db = os.path.join(tmp, "lab.db")

    def ablab(*args, stdin=subprocess.DEVNULL):
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=120, stdin=stdin)

    # ---- the same options on every model-loading command, checked by the table's own check ----
    for cmd in ONE + TWO:
        flags = ["--tokenizer", "--quant"] + (["--a-tokenizer", "--b-tokenizer", "--a-quant", "--b-quant"] if cmd in TWO else [])
        p = ablab("help", cmd)
        check(f"help {cmd} lists the model options", p.returncode == 0 and all(f + " " in p.stdout for f in flags), p.stdout[-600:])
        for f in [x for x in flags if x.endswith("quant")]:
            p = ablab(cmd, f, "q7_k")
            check(f"{cmd} {f} q7_k: a usage error naming the flag and the value",
                  p.returncode == 2 and f"{f} q7_k: expected f32, f16, bf16, q8_0, q4_0" in p.stderr, p.stderr[:300])
    for cmd in ONE:
        p = ablab(cmd, "--a-quant", "f16")
        check(f"{cmd} (one model) has no per-arm options", p.returncode == 2 and "unknown option '--a-quant'" in p.stderr,
              p.stderr[:200])

    # ---- a checkpoint without its tokenizer beside it ----
    bare = os.path.join(tmp, "bare", "stories260K.bin")
    os.makedirs(os.path.dirname(bare))
    shutil.copy(A, bare)
    prompts = os.path.join(tmp, "p.txt")
    with open(prompts, "w") as f:
        f.write("".join(f"Once upon a time {i}\n" for i in range(25)))
    p = ablab("run", "--a", bare, "--b", B, "--prompts", prompts, "--max-tokens", "4", "--db", db)
    check("run stops at once on a model it cannot use, with the load error and the flag to give",
          p.returncode == 1 and "model A" in p.stderr and "no tokenizer" in p.stderr and "--a-tokenizer FILE" in p.stderr
          and "prompt 1/" not in p.stderr and p.stderr.count("\n") <= 2, p.stderr[:600])
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM responses").fetchone()[0] if os.path.exists(db) else 0
    con.close()
    check("nothing recorded for it", n == 0, n)
    p = ablab("run", "--a", bare, "--a-tokenizer", TOK, "--a-quant", "f16", "--b", B, "--prompts", prompts,
              "--max-tokens", "4", "--db", db)
    check("--a-tokenizer makes it run", p.returncode == 0 and "25 of 25 pairs complete" in p.stderr, p.stderr[-400:])
    con = sqlite3.connect(db)
    dt = dict(con.execute("SELECT r.slot, m.dtype FROM responses r JOIN models m ON m.id = r.model_id GROUP BY r.slot"))
    con.close()
    check("--a-quant converts model A only", dt == {0: "f16", 1: "f32"}, dt)

    # ---- the one-model commands load with them ----
    p = ablab("inspect", bare, "--tokenizer", TOK, "--quant", "f16")
    check("inspect --tokenizer --quant", p.returncode == 0 and "llama2c" in p.stdout and "f16" in p.stdout, (p.stdout, p.stderr))
    p = ablab("generate", "--model", bare, "--tokenizer", TOK, "--prompt", "Once", "--max-tokens", "3", "--seed", "1")
    check("generate --tokenizer", p.returncode == 0 and p.stdout.strip(), p.stderr)
    p = ablab("generate", "--model", bare, "--prompt", "Once", "--max-tokens", "3")
    check("generate without it says which flag", p.returncode == 1 and "--tokenizer FILE" in p.stderr, p.stderr)
    out = os.path.join(tmp, "logits.f32")
    p = ablab("logits", "--model", bare, "--ids", "1,2", "--out", out, "--quant", "f16")
    check("logits --quant", p.returncode == 0 and os.path.getsize(out) == 2 * 512 * 4, p.stderr)
    text = os.path.join(tmp, "t.txt")
    with open(text, "w") as f:
        f.write("Once upon a time there was a little dog. " * 8)
    p = ablab("eval", "--model", bare, "--a-tokenizer", TOK, "--text", text, "--ctx", "32", "--no-record")
    check("eval --a-tokenizer", p.returncode == 0 and "stories260K" in p.stdout, (p.stdout[-300:], p.stderr[-300:]))
    p = ablab("bench", "--model", bare, "--quant", "f16", "-p", "4", "-n", "2", "-r", "1", "--no-record", "--format", "csv")
    check("bench --quant", p.returncode == 0 and "f16" in p.stdout, (p.stdout[-300:], p.stderr[-300:]))
    p = ablab("lab", "--a", bare, "--a-tokenizer", TOK, "--b-quant", "f16", "--db", db)
    check("lab takes them (and then needs a terminal)", p.returncode == 1 and "option" not in p.stderr, p.stderr)
    p = ablab("study", "--prompts", prompts, "--b-tokenizer", TOK, "--db", db)
    check("study takes them (and then needs a terminal)", p.returncode == 1 and "option" not in p.stderr, p.stderr)

finish()
