#!/usr/bin/env python3
"""Issue 14.4: `ablab run` checks the whole prompt set against both models before the first prompt
and refuses with every offending line named (too long for a model's context with --max-tokens,
only spaces); nothing is generated or recorded. A fixed set then runs."""
import os, sqlite3, subprocess, tempfile

from checks import check, finish, need_shared

BIN = os.environ["ABLAB_BIN"]
A, B = need_shared("models/stories260K/stories260K.bin", "golden/llama-tiny-gqa")

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    db = os.path.join(tmp, "lab.db")
    prompts = os.path.join(tmp, "p.txt")
    long_line = " ".join(["Once upon a time there was a dog"] * 40)
    with open(prompts, "w") as f:
        f.write("# a set with two bad prompts\nThe little dog\n" + long_line + "\n\n{\"prompt\": \"   \"}\nThe sun\n")

    def ablab(*args):
        return subprocess.run([BIN, *args, "--db", db], capture_output=True, text=True, env=env, timeout=120)

    p = ablab("run", "--a", A, "--b", B, "--prompts", prompts, "--max-tokens", "16", "--ctx", "128")
    err = p.stderr
    check("run refuses the set: exit 1", p.returncode == 1, err)
    check("the over-long line is named with its numbers", f"{prompts}:3: " in err and "to write do not fit model A's context of 128" in err, err)
    check("the empty JSON prompt is named", f"{prompts}:5: empty" in err, err)
    check("the good lines are not named", f"{prompts}:2:" not in err and f"{prompts}:6:" not in err, err)
    check("the summary says nothing ran", "2 of 4 prompts cannot be asked" in err and "nothing was run" in err, err)
    check("no prompt was started", "prompt 1/" not in err, err)
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM responses").fetchone()[0]
    sessions = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
    con.close()
    check("nothing recorded, no session started", n == 0 and sessions == 0, (n, sessions))

    with open(prompts, "w") as f:
        f.write("The little dog\nThe sun\n")
    p = ablab("run", "--a", A, "--b", B, "--prompts", prompts, "--max-tokens", "16", "--ctx", "128")
    check("the fixed set runs", p.returncode == 0 and "2 of 2 pairs complete" in p.stderr, p.stderr[-300:])
    # found by the TUI soak under UBSan: statistics over a scope with nothing in it sorted NULL arrays
    p = ablab("stats", "--source", "study")
    check("stats on an empty scope: exit 0, nothing on stderr", p.returncode == 0 and p.stderr == "" and "0 sessions" in p.stdout,
          (p.returncode, p.stderr[-500:]))
finish()
