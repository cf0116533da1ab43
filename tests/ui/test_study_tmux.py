#!/usr/bin/env python3
"""Issue 14 in tmux, with the real binary and the tiny models: typed text survives a non-UTF-8
locale (14.5); a blind study shows nothing but the answers' text before the vote and reveals both
panes together (14.1); a study runs on its own recorded protocol, never the lab's settings (14.2);
a prompt set is checked before a study starts (14.4).

Usage: test_study_tmux.py [SCENARIO ...]   (default: all). Exit 77 = skipped.
Uses the Tmux helper of test_tmux.py."""
import os, re, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tmux as T  # noqa: E402  (skips with 77 itself when tmux, sqlite3 or the models are missing)
from checks import check, finish  # noqa: E402

Tmux, sql, lab_cmd = T.Tmux, T.sql, T.lab_cmd


def scenario_locale(home):
    """`LANG=C ablab`: the lab switches its character type to a UTF-8 locale, so "café" is stored
    as typed and the borders are lines, not the letters q and x."""
    db = os.path.join(home, "loc.db")
    with Tmux(home) as tm:
        tm.run("env -u LC_ALL -u LC_CTYPE LANG=C " + lab_cmd(db, max_tokens=4))
        tm.wait_text("type a prompt", 60)
        tm.type("café ROMEO:")
        s = tm.wait_text("café ROMEO:", 10)
        check("locale: the editor shows café as typed", "café ROMEO:" in s, s)
        tm.keys("Enter")
        s = tm.wait_text("Which answer is better?", 60)
        check("locale: borders are drawn as lines", "qqqq" not in s and "─" in s, s)
        tm.keys("Escape")
        tm.keys("C-q")
        check("locale: quits cleanly", tm.exit_code() == 0)
    stored = sql(db, "SELECT text FROM prompts")
    check("locale: the prompt is stored byte for byte", stored == "café ROMEO:", repr(stored))
    log = open(os.path.join(home, "stderr.log"), errors="replace").read() if os.path.exists(os.path.join(home, "stderr.log")) else ""
    check("locale: nothing on stderr", log == "", log)


# What the metrics line and the model list would show: none of it may be on screen before a vote.
FORBIDDEN = [("a model name", lambda s, names: any(n in s for n in names)),
             ("MiB", lambda s, names: "MiB" in s), ("tok/s", lambda s, names: "tok/s" in s),
             ("TTFT", lambda s, names: "TTFT" in s),
             ("a token count", lambda s, names: re.search(r"\b\d+ tok\b", s) is not None),
             ("a stop reason", lambda s, names: re.search(r"· (eos|length|stop|cancel|context|done)\b", s) is not None)]


def set_lab_settings(tm, values):
    """Sets rows of the lab's settings screen (F2): {row index: text}."""
    tm.keys("F2")
    tm.wait_text("settings (stored with each response)")
    at = 0
    for row, text in sorted(values.items()):
        tm.keys(*["Down"] * (row - at))
        at = row
        tm.keys("Enter")
        tm.keys("C-u")
        tm.type(text)
        tm.keys("Enter")
        tm.wait_text("settings saved")
    tm.keys("Escape")


def first_words(text):
    """A piece of an answer to look for on screen: the start of its first line of 6 or more
    characters (short enough not to be wrapped)."""
    line = next((ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 6), "")
    return line[:10] or None


def panes(frame):
    """The answer panes of a compare screen: the frame above the prompt bar ("─ prompt ...")."""
    lines = frame.split("\n")
    cut = next((i for i, ln in enumerate(lines) if ln.startswith("─ prompt")), len(lines))
    return "\n".join(lines[:cut])


def scenario_blind_protocol(home):
    """The lab's own settings are set to temperature 0, 30 tokens, seed 42 on its settings screen;
    then a blind study created with the defaults runs on the shipped default models (which write at
    different speeds). Before each vote no frame shows a model name, MiB, tok/s, a token count or a
    stop reason, and the two answers never show one without the other; the lab logs both panes
    fully shown well within 100 ms of each other; after the vote names and metrics appear. Every
    stored response has the study's settings, not the lab's."""
    db = os.path.join(home, "blind.db")
    log = os.path.join(home, "state", "ablab", "ablab.log")
    prompts = os.path.join(home, "two.txt")
    with open(prompts, "w") as f:
        f.write("To be, or not to be\nROMEO:\n")
    models = (T.SLOW_A, T.SLOW_B)
    pacing = os.environ.get("ABLAB_TEST_PACING")   # "natural": shows that these checks catch it
    names = [os.path.basename(m) for m in models]
    err = os.path.join(home, "stderr.log")
    base = [T.BIN, "--a", models[0], "--b", models[1], "--db", db, "--threads", "2"]
    with Tmux(home, 160, 50) as tm:
        tm.run(" ".join(base + ["2>>" + err]))
        tm.wait_text("type a prompt", 60)
        set_lab_settings(tm, {1: "0", 7: "30", 8: "42"})   # temperature, max tokens, seed
        tm.keys("C-q")
        check("protocol: the lab quits after its settings are saved", tm.exit_code() == 0)
        saved = sql(db, "SELECT value FROM settings WHERE key = 'lab.settings'")
        check("protocol: the lab's settings hold temperature 0, 30 tokens, seed 42",
              "a.temperature=0;" in saved and "a.max_tokens=30;" in saved and "a.seed=42;" in saved, saved)

        tm.run(" ".join(base[:1] + ["study"] + base[1:] + ["--prompts", prompts, "--blind", "--participant", "p1"]
                          + (["--pacing", pacing] if pacing else []) + ["2>>" + err]))
        s = tm.wait(lambda s: "I agree" in s and "written." in s, 90, "the start screen with the protocol")
        check("protocol: the start screen shows the recorded protocol",
              "Study two.txt" in s and "temperature 0.8" in s and "max_tokens 128" in s and "seed random." in s
              and "together once both are written" in s, s)
        bad = [what for what, f in FORBIDDEN if f(s, names)]
        check("blind: the start screen shows nothing that tells the models apart", not bad, (bad, s))
        tm.type("y")
        for k in (1, 2):
            frames = []
            deadline = time.time() + 120
            while time.time() < deadline:
                s = tm.screen()
                frames.append(s)
                if "Which answer is better?" in s and "answering…" not in s: break
                time.sleep(0.01)
            seen_bad = sorted({what for fr in frames for what, f in FORBIDDEN if f(fr, names)})
            check(f"blind {k}: no frame before the vote ({len(frames)} captured) shows {seen_bad or 'anything that tells the models apart'}",
                  not seen_bad, [fr for fr in frames if any(f(fr, names) for _, f in FORBIDDEN)][:1])
            tm.type("a")
            s = tm.wait_text("Saved: A is better.")
            check(f"blind {k}: names and metrics revealed after the vote",
                  all(n in s for n in names) and "tok/s" in s and "MiB" in s, s)
            pair = sql(db, "SELECT max(id) FROM pairs")
            snip = [first_words(sql(db, f"SELECT output FROM responses WHERE pair_id = {pair} AND side = {side}"))
                    for side in (0, 1)]
            if len(snip) == 2 and all(snip):
                # the answer panes only: an answer that begins with the prompt's own words (sampled at
                # temperature 0.8) would otherwise be "seen" in the prompt bar below them
                shown = [panes(fr) for fr in frames]
                uneven = [i for i, fr in enumerate(shown) if (snip[0] in fr) != (snip[1] in fr)]
                check(f"blind {k}: the two answers never showed one without the other", not uneven,
                      (snip, frames[uneven[0]] if uneven else ""))
            else:
                print(f"# blind {k}: an answer too short to follow on screen ({snip}); the log's times still count")
            tm.keys("Enter")
            # the frames of the next prompt start once the voted pair (names shown) has left the screen
            tm.wait(lambda s: "Saved: A is better." not in s, 30, "the next prompt")
        tm.wait_text("Thank you", 60)
        tm.keys("Enter")
        check("blind: the study ends cleanly", tm.exit_code() == 0)
    gaps = [float(g) for g in re.findall(r"both answers fully shown ([\d.]+) ms apart \(blind, pacing together\)",
                                         open(log, errors="replace").read())]
    check(f"blind: both panes finished revealing within 100 ms of each other ({gaps} ms)", len(gaps) == 2 and max(gaps) < 100, gaps)
    rows = sql(db, "SELECT r.temp, r.top_k, r.top_p, r.max_tokens, r.seed, r.n_gen FROM responses r JOIN pairs p ON "
                   "p.id = r.pair_id JOIN sessions s ON s.id = p.session_id WHERE s.kind = 'study'").splitlines()
    vals = [r.split("|") for r in rows]
    check("protocol: four study responses", len(vals) == 4, rows)
    check("protocol: every one has the study's settings (temperature 0.8, top-k 40, top-p 0.95, 128 tokens), not the lab's",
          all(float(v[0]) == 0.8 and v[1] == "40" and float(v[2]) == 0.95 and v[3] == "128" and int(v[5]) <= 128 for v in vals), rows)
    check("protocol: a fresh recorded seed each, never the lab's 42", len({v[4] for v in vals}) == 4 and "42" not in {v[4] for v in vals}, rows)
    study = sql(db, "SELECT name || '|' || n_prompts || '|' || blind || '|' || pacing || '|' || length(prompts_sha256) FROM studies")
    check("protocol: the study is recorded", study == "two.txt|2|1|together|64", study)
    pacing = sql(db, "SELECT group_concat(DISTINCT pacing) FROM pairs p JOIN sessions s ON s.id = p.session_id WHERE s.kind = 'study'")
    check("protocol: each study pair records its pacing", pacing == "together", pacing)


def scenario_refused_set(home):
    """A prompt set with one prompt too long for a model's context is refused before the study
    starts, naming the line; nothing is recorded for it."""
    db = os.path.join(home, "refused.db")
    prompts = os.path.join(home, "set.txt")
    with open(prompts, "w") as f:
        f.write("Once upon a time\n" + " ".join(["the little dog ran to the park"] * 30) + "\nThe sun\n")
    with Tmux(home) as tm:
        tm.run(lab_cmd(db, "--prompts", prompts, "--blind", "--participant", "p2", "--ctx", "64", sub="study"))
        rc = tm.exit_code(90)
    err = open(os.path.join(home, "stderr.log"), errors="replace").read()
    check("refused: the study exits 1", rc == 1, rc)
    check("refused: the over-long line is named", f"{prompts}:2: " in err and "do not fit model A's context of 64" in err, err)
    check("refused: and only it", f"{prompts}:1:" not in err and f"{prompts}:3:" not in err, err)
    check("refused: the reason the study did not start", "1 of 3 prompts cannot be asked" in err and "not started" in err, err)
    n = sql(db, "SELECT (SELECT count(*) FROM studies) + (SELECT count(*) FROM sessions)")
    check("refused: no study and no session recorded", n == "0", n)


def scenario_lab_blind(home):
    """The lab's own blind mode (--blind, no study): before the vote the compare screen shows no
    name or metric, and F3/F4/F5 (which would name the models) wait for the vote."""
    db = os.path.join(home, "labblind.db")
    names = [T.NAME_A, T.NAME_B]
    with Tmux(home) as tm:
        tm.run(lab_cmd(db, "--blind", max_tokens=16))
        tm.ask("Once upon a time")
        s = tm.wait(lambda s: "Which answer is better?" in s and "answering…" not in s, 60, "the vote")
        bad = [what for what, f in FORBIDDEN if f(s, names)]
        check("lab blind: nothing before the vote tells the models apart", not bad, (bad, s))
        for key in ("F3", "F4", "F5"):
            tm.keys(key)
            s = tm.wait_text("vote first", 10)
            check(f"lab blind: {key} waits for the vote", not any(n in s for n in names) and "Which answer is better?" in s, s)
        tm.type("b")
        s = tm.wait_text("Saved: B is better.")
        check("lab blind: after the vote the names and metrics show", all(n in s for n in names) and "tok/s" in s, s)
        tm.keys("F5")
        s = tm.wait(lambda s: T.NAME_A in s and "vote first" not in s, 10, "the models screen")
        check("lab blind: F5 opens after the vote", "ablab · models" in s, s)
        tm.keys("Escape")
        tm.keys("C-q")
        check("lab blind: quits cleanly", tm.exit_code() == 0)


def scenario_study_file(home):
    """A study file holds the protocol: its settings, blind mode and pacing are recorded and used;
    a flag that contradicts it is refused naming both."""
    db = os.path.join(home, "file.db")
    with open(os.path.join(home, "two.txt"), "w") as f:
        f.write("Once upon a time\nThe little dog\n")
    study = os.path.join(home, "study.ini")
    with open(study, "w") as f:
        f.write("[study]\nname = filestudy\nprompts = two.txt\nblind = true\npacing = natural\n"
                "[sampling]\ntemperature = 0.5\nmax_tokens = 8\nseed = 3\n")
    base = [T.BIN, "study", "--a", T.MODEL_A, "--b", T.MODEL_B, "--db", db, "--threads", "2", "--study-file", study,
            "--participant", "p3"]
    err = os.path.join(home, "stderr.log")
    with Tmux(home) as tm:
        tm.run(" ".join(base + ["--max-tokens", "48", "2>>" + err]))
        rc = tm.exit_code(60)
        log = open(err, errors="replace").read()
        check("study file: a contradicting flag is refused naming both", rc == 1 and "study.ini:8" in log
              and "max_tokens 8" in log and "--max-tokens" in log, (rc, log))
        tm.run(" ".join(base + ["2>>" + err]))
        s = tm.wait(lambda s: "I agree" in s and "written." in s, 60, "the start screen")
        check("study file: the start screen shows its protocol", "Study filestudy" in s and "temperature 0.5" in s
              and "max_tokens 8" in s and "seed 3" in s and "each answer appears as it is" in s, s)
        tm.type("y")
        for k in (1, 2):
            tm.wait(lambda s: "Which answer is better?" in s and "answering…" not in s, 60, f"prompt {k}")
            tm.type("t")
            tm.wait_text("Saved: a tie.")
            tm.keys("Enter")
        tm.wait_text("Thank you", 30)
        tm.keys("Enter")
        check("study file: the study ends cleanly", tm.exit_code() == 0)
    rows = sql(db, "SELECT DISTINCT temp || '|' || max_tokens || '|' || seed FROM responses")
    check("study file: every response used its settings", rows == "0.5|8|3", rows)
    st = sql(db, "SELECT name || '|' || pacing || '|' || blind || '|' || source FROM studies")
    check("study file: recorded with where it came from", st == "filestudy|natural|1|study file study.ini", st)
    pacing = sql(db, "SELECT DISTINCT pacing FROM pairs")
    check("study file: its pairs record natural pacing", pacing == "natural", pacing)


SCENARIOS = {"locale": scenario_locale, "file": scenario_study_file, "labblind": scenario_lab_blind, "blind": scenario_blind_protocol, "refused": scenario_refused_set}


def main():
    names = sys.argv[1:] or list(SCENARIOS)
    for n in names:
        with tempfile.TemporaryDirectory(prefix="ablab-study-") as home:
            t0 = time.time()
            try:
                SCENARIOS[n](home)
            except Exception as ex:
                check(f"{n}: ran to the end", False, ex)
            print(f"# {n}: {time.time() - t0:.1f}s")
    finish()


if __name__ == "__main__":
    main()
