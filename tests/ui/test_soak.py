#!/usr/bin/env python3
"""Issue 21: a TUI soak. The real lab (the tiny models, short answers) in tmux takes random keys,
bracketed pastes of random text and of invalid UTF-8 (with escape sequences and control bytes),
and resizes between 10x5 and 200x60, for ABLAB_SOAK_SECONDS (default 30; a campaign sets more).
It must stay up the whole time, quit cleanly on Ctrl-Q with exit status 0 and nothing on stderr
(a sanitizer build reports there), and leave a database that passes PRAGMA integrity_check.
Under the sanitizer pass ABLAB_BIN is the ASan/UBSan build. The seed is printed (ABLAB_SOAK_SEED
replays a run's choices)."""
import os, random, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tmux as T  # noqa: E402  (skips with 77 itself when tmux, sqlite3 or the models are missing)
from checks import check, finish  # noqa: E402

SECONDS = float(os.environ.get("ABLAB_SOAK_SECONDS", "30"))
SEED = int(os.environ.get("ABLAB_SOAK_SEED", str(int(time.time() * 1000) % 1000000)))
rng = random.Random(SEED)

# Everything but the keys that end the lab (Ctrl-Q, Ctrl-C) or the terminal's job control (Ctrl-Z).
NAMED = ["Enter", "Escape", "Tab", "BSpace", "DC", "Up", "Down", "Left", "Right", "Home", "End", "PPage", "NPage",
         "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F10", "IC", "BTab",
         "C-a", "C-e", "C-k", "C-u", "C-w", "C-y", "C-j", "C-b", "C-f", "C-d", "C-l", "C-r", "M-Enter", "M-a", "M-b"]
CHARS = "abtxyunpqgcir12345?/ -=+.,;:'\"" + "éß漢字🙂"   # q quits while voting: the lab is then started again


def random_text(n):
    pool = [chr(rng.randrange(0x20, 0x7f)) for _ in range(40)] + list("éüßçøÅ漢字かな한글🙂👍🏽") + \
           ["\n", "\t", "\u0301", "\u200f", "\u202e", "\ufeff", "\x1b[2J", "\x1b]52;c;aGk=\x07", "\x1b[31m", "\x00"]
    return "".join(rng.choice(pool) for _ in range(n))


def random_bytes(n):
    """Invalid UTF-8 on purpose: lone continuation bytes, truncated and overlong sequences,
    surrogates and bytes that never occur, between ASCII."""
    bad = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xfe",
           b"\xe2\x82", b"\xf0\x9f\x98", b"\x1b", b"\x1b[", b"\x9b", b"\x07", b"\r"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(bad) if rng.random() < 0.4 else bytes([rng.randrange(0x20, 0x7f)])
    return bytes(out)


def soak(home):
    db = os.path.join(home, "soak.db")
    err = os.path.join(home, "stderr.log")
    paste = os.path.join(home, "paste.bin")
    counts = {"keys": 0, "pastes": 0, "invalid pastes": 0, "resizes": 0, "quits by q": 0}
    print(f"# soak: {SECONDS:.0f} s, seed {SEED} (ABLAB_SOAK_SEED replays it), binary {T.BIN}")
    with T.Tmux(home, 120, 40) as tm:
        cmd = T.lab_cmd(db, "--blind", max_tokens=12)
        tm.run(cmd)
        tm.wait_text("type a prompt", 120)
        rc_file = os.path.join(home, "rc")
        t_end = time.time() + SECONDS
        died = None
        while time.time() < t_end:
            if os.path.exists(rc_file):
                rc = open(rc_file).read().strip()
                if rc != "0":
                    died = rc
                    break
                # a clean quit (q while voting is one): start it again on the same record
                os.unlink(rc_file)
                counts["quits by q"] += 1
                tm.resize(120, 40)
                time.sleep(0.3)
                tm.keys("C-c")   # what was typed after the quit went to the shell: drop that line
                time.sleep(0.3)
                tm.run(cmd)
                tm.wait_text("type a prompt", 120)
            r = rng.random()
            if r < 0.70:
                if rng.random() < 0.5:
                    tm.keys(*[rng.choice(NAMED) for _ in range(rng.randrange(1, 6))])
                else:
                    # "--" ends tmux's options: typed text may start with '-'
                    tm.t("send-keys", "-t", "t", "-l", "--", "".join(rng.choice(CHARS) for _ in range(rng.randrange(1, 8))))
                counts["keys"] += 1
            elif r < 0.85:
                invalid = rng.random() < 0.5
                data = random_bytes(rng.randrange(1, 300)) if invalid else random_text(rng.randrange(1, 300)).encode("utf-8")
                with open(paste, "wb") as f:
                    f.write(data)
                tm.t("load-buffer", "-b", "soak", paste)
                tm.t("paste-buffer", "-b", "soak", "-p", "-t", "t")   # -p: bracketed, when the lab asked for it
                counts["invalid pastes" if invalid else "pastes"] += 1
            else:
                if rng.random() < 0.3:
                    w, h = rng.choice([(10, 5), (200, 60), (40, 12), (39, 11)])
                else:
                    w, h = rng.randrange(10, 201), rng.randrange(5, 61)
                tm.resize(w, h)
                counts["resizes"] += 1
            time.sleep(rng.choice([0, 0.005, 0.02, 0.05]))
        check(f"soak: the lab never failed in {SECONDS:.0f} s ({counts})", died is None,
              (died, open(err, errors="replace").read()[-3000:] if os.path.exists(err) else ""))
        if died is None:
            tm.resize(120, 40)
            tm.keys("Escape", "Escape", "C-q")
            rc = tm.exit_code(120)
            check("soak: Ctrl-Q quits cleanly with exit status 0", rc == 0, rc)
    log = open(err, errors="replace").read() if os.path.exists(err) else ""
    check("soak: nothing on stderr (no sanitizer report, no leak report)", log == "", log[-3000:])
    ok = T.sql(db, "PRAGMA integrity_check")
    check("soak: the database passes integrity_check", ok == "ok", ok)
    pairs = T.sql(db, "SELECT count(*) FROM pairs")
    print(f"# soak: {pairs} pairs recorded")


with tempfile.TemporaryDirectory(prefix="ablab-soak-") as home:
    try:
        soak(home)
    except Exception as ex:
        check("soak: ran to the end", False, ex)
finish()
