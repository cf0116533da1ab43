#!/usr/bin/env python3
"""Pulled models in the lab (issue 20), driving the real binary in tmux: `ablab pull` on a terminal
(the progress bar's path) from tests/hub/fake_hub.py into the default models folder, an interrupted
pull beside it, then the lab's models screen (F5): the finished pull is listed and the interrupted
one is not, `B` loads the selected pulled model into B, and the next answer is recorded against the
pulled folder. Uses tests/ui/test_tmux.py's Tmux driver (and skips as it does)."""
import os, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ui"))
from test_tmux import Tmux, sql, lab_cmd, MODEL_A, MODEL_B, NAME_A  # noqa: E402  (skips like it)
from checks import check, finish  # noqa: E402

BIN = os.environ["ABLAB_BIN"]
SRC = os.path.join(os.environ["ABLAB_ASSETS"], "models", "gpt2-mini")
HUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_hub.py")
import tempfile  # noqa: E402

with tempfile.TemporaryDirectory(prefix="ablab-pull-ui-") as home:
    # the first transfer of the weights drops after 1 MB: "half" stays interrupted, "gpt2-mini" (pulled
    # second, the same bytes) comes whole
    hub = subprocess.Popen([sys.executable, HUB, "--repo", "ablab-test/gpt2-mini=" + SRC, "--repo", "ablab-test/half=" + SRC,
                            "--drop-after", "1000000"], stdout=subprocess.PIPE, text=True)
    url = "http://127.0.0.1:%s" % hub.stdout.readline().strip()
    db = os.path.join(home, "lab.db")
    try:
        with Tmux(home) as tm:
            env = dict(tm.env, HF_ENDPOINT=url)
            p = subprocess.run([BIN, "pull", "ablab-test/half"], env=env, capture_output=True, text=True, timeout=120)
            check("the interrupted pull fails (and leaves its .part)", p.returncode == 1 and "resume" in p.stderr, p.stderr)
            tm.run(f"HF_ENDPOINT={url} {BIN} pull ablab-test/gpt2-mini")
            rc = tm.exit_code(120)
            s = tm.screen()
            check("pull on a terminal: exit 0, each file's line, no bar left behind",
                  rc == 0 and "model.safetensors" in s and "sha256 ok" in s and "[#" not in s and "pulled ablab-test/gpt2-mini" in s, s)
            dest = os.path.join(home, "data", "ablab", "models", "ablab-test", "gpt2-mini")
            check("... into $XDG_DATA_HOME/ablab/models", os.path.exists(os.path.join(dest, "ablab-pull.json")), dest)
            tm.keys("clear", "Enter")
            tm.run(lab_cmd(db))
            tm.wait_text("type a prompt", 60)
            tm.keys("F5")
            s = tm.wait_text("pulled (ablab pull)")
            check("models screen: the finished pull is listed with its revision and folder",
                  "pulled (ablab pull): 1" in s and "ablab-test/gpt2-mini" in s and "main" in s, s)
            check("models screen: the interrupted pull is not offered", "ablab-test/half" not in s, s)
            tm.type("B")
            s = tm.wait_text("model B: gpt2-mini loaded", 60)
            check("B loads the selected pulled model into B", "B: gpt2-mini" in s and f"A: {NAME_A}" in s, s)
            tm.keys("Escape")
            tm.ask("Once upon a time")
            tm.wait_text("Which answer is better?", 60)
            tm.keys("C-q")
            check("the lab quits cleanly", tm.exit_code() == 0)
            paths = sql(db, "SELECT group_concat(m.path, '|') FROM responses r JOIN models m ON m.id = r.model_id")
            check("the answer is recorded against the pulled folder", dest in paths, paths)
    finally:
        hub.terminate()
        hub.wait(timeout=10)

finish()
