#!/usr/bin/env python3
"""Drives the real `ablab` lab in tmux (send-keys, capture-pane), with the real tiny models of
tests/fixtures/shared and the shipped default models, and checks what a user would see and what lands in the database (sqlite3 CLI).

Usage: test_tmux.py [SCENARIO ...]   (default: all). Exit 77 = skipped (meson's skip code).
Polls the screen with a deadline instead of sleeping for fixed times."""
import os, re, shutil, subprocess, sys, tempfile, time

from checks import check, finish, shared_file

SKIP = 77
BIN = os.environ.get("ABLAB_BIN", "")
MODEL_A = shared_file("models/stories260K/stories260K.bin")
MODEL_B = shared_file("golden/llama-tiny-gqa")
NAME_A, NAME_B = "stories260K", "llama-tiny-gqa"
# The shipped default models write at about a hundred tokens/s here: slow enough that a resize
# sent with the prompt lands while both are still writing (the resize and escape scenarios).
ASSETS = os.environ.get("ABLAB_ASSETS", "")
SLOW_A = os.path.join(ASSETS, "models", "scratch-shakespeare")
SLOW_B = os.path.join(ASSETS, "models", "gpt2-mini")

def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)

if not shutil.which("tmux"): skip("tmux is not installed (apt-get install tmux)")
if not shutil.which("sqlite3"): skip("the sqlite3 command-line tool is not installed (apt-get install sqlite3)")
if not BIN or not os.path.exists(BIN): skip("ABLAB_BIN is not set (run through meson test)")
if not MODEL_A or not MODEL_B:
    skip("tests/fixtures/shared lacks models/stories260K/stories260K.bin or golden/llama-tiny-gqa")
if not os.path.isdir(SLOW_A) or not os.path.isdir(SLOW_B):
    skip(f"the shipped default models are missing ({SLOW_A}, {SLOW_B}); ABLAB_ASSETS={ASSETS!r}")



class Tmux:
    """A private tmux server (its own socket) running one shell in a window of a given size."""
    def __init__(self, home, cols=160, lines=50):
        self.sock = f"ablab-test-{os.getpid()}-{int(time.time()*1000)%100000}"
        self.home = home
        env = dict(os.environ)
        env.update({"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, "cfg"), "XDG_DATA_HOME": os.path.join(home, "data"),
                    "XDG_STATE_HOME": os.path.join(home, "state"), "TERM": "xterm-256color", "LANG": "C.UTF-8",
                    "LC_ALL": "C.UTF-8", "PS1": "$ ", "ENV": ""})
        env.pop("NO_COLOR", None)
        env.pop("TMUX", None)
        self.env = env
        self.t("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(cols), "-y", str(lines), "sh")
        self.t("set-option", "-g", "status", "off")
        self.t("set-option", "-g", "escape-time", "0")
        self.wait(lambda s: re.search(r"[$#] *$", s.rstrip() + " ", re.M) is not None, 10, "shell prompt")

    def t(self, *args, check=True):
        p = subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, env=self.env, timeout=30)
        if check and p.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {p.stderr}")
        return p.stdout

    def keys(self, *keys):
        self.t("send-keys", "-t", "t", *keys)

    def type(self, text):
        self.t("send-keys", "-t", "t", "-l", text)

    def screen(self):
        return self.t("capture-pane", "-p", "-t", "t")

    def resize(self, cols, lines):
        self.t("resize-window", "-t", "t", "-x", str(cols), "-y", str(lines))

    def wait(self, pred, timeout, what):
        deadline = time.time() + timeout
        s = ""
        while time.time() < deadline:
            s = self.screen()
            if pred(s): return s
            time.sleep(0.05)
        raise TimeoutError(f"waited {timeout}s for {what}; screen:\n{s}")

    def wait_text(self, text, timeout=20):
        return self.wait(lambda s: text in s, timeout, repr(text))

    def wait_drawn(self, text, timeout=20):
        """Like wait_text, for a screen that should stop changing (an overlay): returns once two
        captures 0.1 s apart agree, so a half-drawn frame is never read (seen under ASan in CI)."""
        prev = [None]
        def settled(s):
            ok = text in s and s == prev[0]
            prev[0] = s
            if not ok: time.sleep(0.05)
            return ok
        return self.wait(settled, timeout, f"{text!r} drawn and still")

    def ask(self, prompt, *more_keys):
        """Waits for the lab's empty prompt editor, types `prompt` and sends it (then more_keys)."""
        self.wait_text("type a prompt", 60)
        self.type(prompt)
        self.keys("Enter", *more_keys)

    def run(self, cmdline, then=""):
        """Runs a command in the shell; its exit status is written to a file once it and `then`
        (run after it, e.g. `stty -a > FILE`) have ended."""
        h = self.home
        self.type(f"{cmdline}; echo $? > {h}/rc.tmp; {then or ':'}; mv {h}/rc.tmp {h}/rc")
        self.keys("Enter")

    def exit_code(self, timeout=20):
        path = os.path.join(self.home, "rc")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path):
                s = open(path).read().strip()
                if s:
                    os.unlink(path)
                    return int(s)
            time.sleep(0.05)
        raise TimeoutError(f"the command did not end within {timeout}s; screen:\n{self.screen()}")

    def close(self):
        self.t("kill-server", check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

def sql(db, q):
    p = subprocess.run(["sqlite3", "-batch", "-noheader", db, q], capture_output=True, text=True, timeout=30)
    if p.returncode != 0: raise RuntimeError(f"sqlite3 {q}: {p.stderr}")
    return p.stdout.strip()

def lab_cmd(db, *extra, sub=None, max_tokens=48, models=(MODEL_A, MODEL_B)):
    # tiny models, short answers: the suite stays fast
    # stderr to a file: nothing of ours writes there while curses runs, but a sanitizer report from
    # a library would otherwise land on the screen being checked
    return " ".join([BIN, *([sub] if sub else []), "--a", models[0], "--b", models[1], "--db", db,
                     "--max-tokens", str(max_tokens), "--threads", "2", "--seed", "7", *extra,
                     "2>>" + os.path.join(os.path.dirname(db), "stderr.log")])

def metrics_lines(s):
    return len(re.findall(r"TTFT \d+ ms · [\d.]+ tok/s · \d+ tok", s))

# ---------------------------------------------------------------------------------------------
def scenario_compare_rate(home):
    """Type a prompt, both panes fill and show metrics, rate `a`, quit; the db holds the pair and the rating."""
    db = os.path.join(home, "lab.db")
    with Tmux(home) as tm:
        tm.run(lab_cmd(db))
        # a bracketed paste (tmux paste-buffer -p) keeps its line break instead of sending
        tm.wait_text("type a prompt", 60)
        tm.t("set-buffer", "Once upon a time\nthere was")
        tm.t("paste-buffer", "-p", "-t", "t")
        s = tm.wait(lambda s: "› Once upon a time" in s and "  there was" in s, 10, "the pasted prompt on two lines")
        check("paste: two lines in the editor, nothing sent yet", "writing" not in s and "Which answer" not in s, s)
        tm.keys("Enter")
        s = tm.wait(lambda s: "Which answer is better?" in s, 60, "both answers to end")
        check("compare: both panes show their live metrics line", metrics_lines(s) == 2, s)
        check("compare: pane headers name the models (open mode)", NAME_A in s and NAME_B in s, s)
        check("compare: side by side at 160 columns (both headers on one row)",
              any(NAME_A in ln and NAME_B in ln for ln in s.splitlines()), s)
        check("compare: the prompt is shown above the vote", "Once upon a time" in s, s)
        tm.type("a")
        s = tm.wait_text("Saved: A is better")
        # u steps back one change at a time: the score goes, the vote stays
        tm.type("4")
        tm.wait_text("score A = 4 saved")
        tm.type("u")
        s = tm.wait_text("stepped back one change")
        check("compare: u steps back the score and keeps the vote", "Saved: A is better" in s, s)
        tm.keys("C-q")
        rc = tm.exit_code()
        check("compare: Ctrl-Q quits with status 0", rc == 0, rc)
        score = sql(db, "SELECT coalesce(score_a, 0) || '|' || (SELECT count(*) FROM rating_revisions) || '|' || "
                        "(SELECT count(*) FROM rating_revisions WHERE undone_ms IS NOT NULL) FROM ratings")
        check("db: the score stepped back (no score), both changes kept, one undone", score == "0|2|1", score)
        pairs = sql(db, "SELECT count(*) FROM pairs")
        resp = sql(db, "SELECT count(*) FROM responses WHERE length(output) > 0 AND n_gen > 0")
        rating = sql(db, "SELECT r.choice || '|' || m.name FROM ratings r JOIN models m ON m.id = r.winner_model_id")
        prompt = sql(db, "SELECT text FROM prompts")
        check("db: one pair with two non-empty responses", pairs == "1" and resp == "2", (pairs, resp))
        check("db: the rating says A won, resolved to the model", rating.startswith("a|") and NAME_A in rating, rating)
        check("db: the prompt text as pasted, line break included", prompt == "Once upon a time\nthere was", repr(prompt))
        hist = open(os.path.join(home, "state", "ablab", "history")).read() if os.path.exists(os.path.join(home, "state", "ablab", "history")) else ""
        check("editor history persisted between runs", "Once upon a time\\nthere was" in hist, hist)

def scenario_blind_study(home):
    """A blind study of 3 prompts with a participant: names hidden until each vote, progress k/3,
    a quit after the first vote resumes at 2/3."""
    db = os.path.join(home, "study.db")
    prompts = os.path.join(home, "three.txt")
    with open(prompts, "w") as f:
        f.write("# three prompts for the test\nOnce upon a time\nThe little dog\nLily went to the park\n")
    with Tmux(home) as tm:
        cmd = lab_cmd(db, "--prompts", prompts, "--blind", "--participant", "p7", sub="study")
        tm.run(cmd)
        s = tm.wait_text("I agree", 60)
        check("study: start screen shows the consent text", "Consent" in s and "p7" in s, s)
        tm.type("y")
        seen = set()
        for k in range(1, 4):
            s = tm.wait(lambda s: "Which answer is better?" in s, 60, f"prompt {k} to be answered")
            m = re.search(r"prompt (\d)/3", s)
            check(f"study: progress shows k/3 ({m.group(0) if m else 'none'})", m is not None, s)
            if m: seen.add(m.group(1))
            check(f"study {k}: names hidden before the vote",
                  "Model A" in s and "Model B" in s and NAME_A not in s and NAME_B not in s, s)
            tm.type("b")
            s = tm.wait_text("Saved: B is better.")
            check(f"study {k}: names revealed after the vote", NAME_A in s and NAME_B in s, s)
            if k == 1:
                # quit after the first vote and start again: the study resumes at 2/3
                tm.keys("C-q")
                check("study: Ctrl-Q mid-study exits 0", tm.exit_code() == 0)
                tm.run(cmd)
                tm.wait_text("I agree", 60)
                tm.type("y")
                # a capture can catch a frame half painted (title drawn, status line not yet): wait
                # for the whole frame rather than judging the first one that shows 2/3
                s = tm.wait(lambda s: "prompt 2/3" in s and "welcome back" in s, 30, "the resumed study at 2/3 with a welcome back")
                check("study: resumed with a welcome back", "welcome back" in s, s)
            else:
                tm.keys("Enter")
        s = tm.wait_text("Thank you", 30)
        check("study: the three prompts came as 1/3, 2/3, 3/3", seen == {"1", "2", "3"}, seen)
        tm.keys("Enter")
        rc = tm.exit_code()
        check("study: exits 0 after the thank-you screen", rc == 0, rc)
        # `choice` is resolved to models; the side the participant picked is chosen_side (1 = B)
        n = sql(db, "SELECT count(*) FROM ratings WHERE participant = 'p7' AND chosen_side = 1")
        blind = sql(db, "SELECT count(*) FROM pairs WHERE blind = 1")
        sess = sql(db, "SELECT kind || '|' || participant || '|' || blind || '|' || consent || '|' || (ended_ms IS NOT NULL) FROM sessions WHERE kind = 'study'")
        responses = sql(db, "SELECT count(*) FROM responses")
        check("db: three ratings by p7, each for the side shown as B", n == "3", n)
        check("db: three blind pairs, six responses (none generated twice on resume)", blind == "3" and responses == "6", (blind, responses))
        check("db: a blind study session with consent, ended", sess == "study|p7|1|1|1", sess)

def scenario_screens(home):
    """History (search, open, re-rate, copy), stats and models screens on the real record."""
    db = os.path.join(home, "screens.db")
    with Tmux(home, 140, 40) as tm:
        tm.run(lab_cmd(db))
        tm.ask("Once upon a time")
        tm.wait_text("Which answer is better?", 60)
        tm.type("a")
        tm.wait_text("Saved: A is better")
        tm.keys("Enter")
        tm.ask("The little dog")
        tm.wait_text("Which answer is better?", 60)
        tm.type("x")
        tm.wait_text("Saved: both bad")
        tm.keys("F3")
        s = tm.wait_text("2 pairs (newest first)")
        check("history: both pairs listed with their votes",
              re.search(r"both-bad .*The little dog", s) is not None and re.search(r" a +.*Once upon a time", s) is not None, s)
        tm.type("/")
        tm.wait_text("search prompts and answers")
        tm.type("dog")
        tm.keys("Enter")
        s = tm.wait_text("1 pair matching 'dog'")
        check("history: full-text search finds the one pair", "The little dog" in s and "Once upon a time" not in s, s)
        tm.type("y")
        s = tm.wait_text("copied pair")
        copies = os.path.join(home, "data", "ablab", "copies")
        files = os.listdir(copies) if os.path.isdir(copies) else []
        text = open(os.path.join(copies, files[0])).read() if files else ""
        check("history: y writes the pair as Markdown", len(files) == 1 and "## Prompt" in text and "The little dog" in text, (files, text[:200]))
        tm.keys("Enter")
        s = tm.wait_text("Saved: both bad")
        check("history: Enter opens the pair with its current rating, ready to change", "The little dog" in s, s)
        tm.type("b")
        tm.wait_text("Saved: B is better")
        tm.keys("F4")
        s = tm.wait_text("Win rates")
        check("stats: the pair's votes as `ablab stats` counts them (latest vote per pair)",
              f"{NAME_A} vs {NAME_B}: votes 2" in s.replace(".bin", ""), s)
        tm.keys("F5")
        s = tm.wait_text("architecture")
        check("models: both models with their shapes and memory", s.count("architecture") == 2 and "in memory" in s, s)
        tm.type("s")
        s = tm.wait_text("sides swapped")
        check("models: s swaps the sides", f"A = {NAME_B}" in s and f"B: {NAME_A}" in s, s)
        tm.type("a")
        tm.wait_text("load into A")
        tm.keys("C-u")
        tm.type(MODEL_A)
        tm.keys("Enter")
        s = tm.wait_text(f"model A: {NAME_A}", 60)
        check("models: a loads another model into A (on a worker thread)", f"A: {NAME_A}" in s, s)
        s = tm.wait_text("the other slot's copy")
        check("models: the file B holds, loaded into A, reads B's weights (one copy, shown as such)",
              s.count("weights: the other slot's copy") == 1 and "(the same file as the other slot: weights shared)" in s, s)
        tm.type("b")
        tm.wait_text("load into B")
        tm.keys("C-u")
        tm.type("/nonexistent/model")
        tm.keys("Enter")
        s = tm.wait_text("model B kept", 30)
        check("models: a failed load keeps the loaded model and says why", "/nonexistent/model" in s and f"B: {NAME_A}" in s, s)
        tm.keys("C-q")
        check("screens: quits cleanly", tm.exit_code() == 0)
        votes = sql(db, "SELECT group_concat(choice, ',') FROM (SELECT choice FROM ratings ORDER BY id)")
        check("db: the current ratings: a, and the changed vote b", votes == "a,b", votes)
        changes = sql(db, "SELECT group_concat(choice, ',') FROM (SELECT choice FROM rating_revisions ORDER BY id)")
        check("db: every change kept: a, both-bad, then b", changes == "a,both-bad,b", changes)

def scenario_resize(home):
    """160x50 -> 60x20 -> back while the models write: stacked below 100 columns, side by side again after."""
    db = os.path.join(home, "resize.db")
    names = ("scratch-shakespeare", "gpt2-mini")
    with Tmux(home, 160, 50) as tm:
        tm.run(lab_cmd(db, max_tokens=200, models=(SLOW_A, SLOW_B)))
        tm.wait_text("type a prompt", 60)
        tm.type("ROMEO:")
        # Enter and the resize in one tmux command: the window shrinks while the answers stream
        tm.t("send-keys", "-t", "t", "Enter", ";", "resize-window", "-t", "t", "-x", "60", "-y", "20")
        # the first small frame may come before either engine has produced a token (slower under
        # the sanitizers): wait until the small layout shows both writing
        small = lambda s: len(s.splitlines()) <= 20 and "A · " in s and "B · " in s
        s = tm.wait(lambda s: small(s) and (s.count("writing…") == 2 or "length" in s), 20, "the small layout")
        lines = s.splitlines()
        check("resize 60x20: no line wider than 60 columns", all(len(ln) <= 60 for ln in lines), s)
        heads = [i for i, ln in enumerate(lines) if re.match(r"\s*[AB] · ", ln)]
        check("resize 60x20: panes stacked (A's header above B's)", len(heads) == 2 and heads[0] < heads[1], s)
        check("resize 60x20: redrawn while both models are still writing", s.count("writing…") == 2, s)
        tm.resize(160, 50)
        s = tm.wait(lambda s: any(names[0] in ln and names[1] in ln for ln in s.splitlines()), 20, "side by side again")
        check("resize back to 160x50 mid-answer: side by side, still writing", "writing…" in s, s)
        s = tm.wait(lambda s: "Which answer" in s, 60, "both answers to end")
        check("after the resizes: side by side with both metrics lines",
              metrics_lines(s) == 2 and any(names[0] in ln and names[1] in ln for ln in s.splitlines()), s)
        tm.resize(30, 8)
        s = tm.wait_text("Terminal too small")
        check("below the minimum size: a clear message", "at least 40×12" in s, s)
        tm.resize(160, 50)
        tm.wait(lambda s: "Which answer" in s, 20, "the vote after growing again")
        tm.keys("C-q")
        check("resize: quits cleanly", tm.exit_code() == 0)
        n = sql(db, "SELECT count(*) FROM responses")
        check("db: both answers recorded across the resizes", n == "2", n)

def scenario_escape(home):
    """Esc mid-generation stops both; what was written is kept and recorded."""
    db = os.path.join(home, "esc.db")
    with Tmux(home) as tm:
        tm.run(lab_cmd(db, max_tokens=250, models=(SLOW_A, SLOW_B)))
        tm.ask("Once upon a time", "Escape")          # Esc reaches the lab right after the prompt is sent
        s = tm.wait(lambda s: "Which answer is better?" in s or "cannot be rated" in s, 30, "both answers to stop")
        check("esc: both answers end and can still be rated", "Which answer is better?" in s, s)
        tm.keys("C-q")
        check("esc: quits cleanly", tm.exit_code() == 0)
        rows = sql(db, "SELECT stop_reason || ':' || n_gen FROM responses ORDER BY slot").splitlines()
        check("db: both stopped answers are recorded", len(rows) == 2, rows)
        cut = [r for r in rows if r.startswith("cancel:") and int(r.split(":")[1]) < 250]
        # the shipped models write ~100 tokens/s: Esc stops both
        check("db: answers cut short by Esc (stop reason cancel, fewer than 250 tokens)", len(cut) == 2, rows)

def scenario_ctrl_c(home):
    """Ctrl-C and SIGTERM restore the terminal (stty -a unchanged) and keep the ratings."""
    db = os.path.join(home, "ctrlc.db")
    with Tmux(home) as tm:
        before, after = os.path.join(home, "stty.before"), os.path.join(home, "stty.after")
        tm.run(f"stty -a > {before}; {lab_cmd(db)}", then=f"stty -a > {after}")
        tm.ask("Once upon a time")
        tm.wait_text("Which answer is better?", 60)
        tm.type("t")
        tm.wait_text("Saved: a tie")
        tm.keys("C-c")
        rc = tm.exit_code()
        check("ctrl-c: the lab ends with status 0 (raw mode: Ctrl-C is the quit key)", rc == 0, repr(rc))
        check("ctrl-c: stty -a identical before and after", open(before).read() == open(after).read(),
              subprocess.run(["diff", before, after], capture_output=True, text=True).stdout)
        check("ctrl-c: the tie is in the database", sql(db, "SELECT choice FROM ratings") == "tie")
        # a real SIGTERM from outside, while the lab waits for input
        pidf = os.path.join(home, "pid")
        tm.run(f"stty -a > {before}; sh -c 'echo $$ > {pidf}; exec {lab_cmd(db)}'", then=f"stty -a > {after}")
        tm.wait_text("type a prompt", 60)
        pid = int(open(pidf).read())
        os.kill(pid, 15)
        rc = tm.exit_code()
        check("sigterm: exits with 128+15 after restoring the terminal", rc == 143, repr(rc))
        check("sigterm: stty -a identical", open(before).read() == open(after).read())
        s = tm.screen()
        check("sigterm: the shell is usable (prompt visible, no curses left over)", s.rstrip()[-1:] in ("$", "#"), s)
        check("sigterm: ratings kept", sql(db, "SELECT count(*) FROM ratings") == "1")

def scenario_not_a_tty(home):
    """Without a terminal the lab says to use `ablab run`; TERM=dumb is refused with a message."""
    env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home, XDG_STATE_HOME=home)
    p = subprocess.run([BIN, "--db", os.path.join(home, "x.db")], capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=30)
    check("not a tty: exit 1 with a pointer to `ablab run`", p.returncode == 1 and "ablab run" in p.stderr, (p.returncode, p.stderr))
    with Tmux(home) as tm:
        # NO_COLOR: attributes only (bold, reverse), no colour codes in what tmux holds
        colour = re.compile(r"\x1b\[[0-9;]*(3[0-7]|4[0-7]|38;5;\d+|48;5;\d+)[;m]")
        for no_color in ("", "1"):
            tm.run(f"NO_COLOR={no_color} {lab_cmd(os.path.join(home, 'c.db'))}")
            tm.wait_text("type a prompt", 60)
            styled = tm.t("capture-pane", "-p", "-e", "-t", "t")
            tm.keys("C-q")
            tm.exit_code()
            if no_color:
                check("NO_COLOR=1: no colour codes on the screen", not colour.search(styled), repr(styled[:400]))
            else:
                check("colour without NO_COLOR (the check above can fail)", colour.search(styled) is not None, repr(styled[:400]))
        tm.run(f"TERM=dumb {BIN} --db {home}/x.db")
        rc = tm.exit_code()
        s = tm.screen()
        check("TERM=dumb: refused with a message", rc == 1 and "TERM=dumb" in s, (rc, s))

def settings_table():
    """The sampling settings' table (engine.h) as tests/settings/settings_dump prints it."""
    import json
    out = subprocess.run([os.environ["SETTINGS_DUMP"]], capture_output=True, text=True, check=True).stdout
    return [r for r in map(json.loads, out.splitlines()) if not r["per_command"]]

def screen_value(s, label):
    """The first value shown after a settings row's label ("top-p      0.95" -> "0.95")."""
    for line in s.splitlines():
        m = re.match(r"\W*" + re.escape(label) + r"  +(\S+)", line)
        if m: return m.group(1)
    return None

def scenario_settings(home):
    """The settings screen (F2) against the table: one row per setting with the table's label and
    default; a value out of range is refused with the words the config file and the flags use."""
    table = settings_table()
    db = os.path.join(home, "settings.db")
    with Tmux(home, 160, 50) as tm:
        # no sampling flags: the screen starts from the defaults
        tm.run(" ".join([BIN, "--a", MODEL_A, "--b", MODEL_B, "--db", db, "--threads", "2",
                         "2>>" + os.path.join(home, "stderr.log")]))
        tm.wait_text("type a prompt", 60)
        tm.keys("F2")
        s = tm.wait_text("settings (stored with each response)")
        for r in table:
            v = screen_value(s, r["label"])
            check(f"settings screen: {r['label']} shows the table's default {r['default_text']}", v == r["default_text"], s)
        row = 1 + [r["name"] for r in table].index("top_p")   # the mode row comes first
        tm.keys(*["Down"] * row)
        tm.keys("Enter")
        tm.wait_text("top-p")
        top_p = next(r for r in table if r["name"] == "top_p")
        tm.keys("C-u")
        tm.type("1.5")
        tm.keys("Enter")
        body = f"top_p must be {top_p['range']}, not 1.5"
        s = tm.wait_text(body)
        check("settings screen: 1.5 for top-p refused with the table's words, naming the models",
              f"settings for both models: {body}" in s and screen_value(s, "top-p") == top_p["default_text"], s)
        tm.keys("Enter")
        tm.wait_text("top-p")
        tm.keys("C-u")
        tm.type("0.5")
        tm.keys("Enter")
        s = tm.wait_text("settings saved")
        check("settings screen: 0.5 for top-p is taken", screen_value(s, "top-p") == "0.5", s)
        tm.keys("Escape")
        tm.keys("C-q")
        check("settings: quits cleanly", tm.exit_code() == 0)
    saved = sql(db, "SELECT value FROM settings WHERE key = 'lab.settings'")
    check("settings: saved under the table's names", "a.top_p=0.5;" in saved and "b.top_p=0.5;" in saved, saved)

def scenario_help(home):
    """F1 and ? open the help generated from the key tables (`ablab keys` prints the same lines);
    ? is typed once the prompt is not empty; the status line follows the overlay."""
    db = os.path.join(home, "help.db")
    ref = subprocess.run([BIN, "keys"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, XDG_CONFIG_HOME=home, XDG_STATE_HOME=home, XDG_DATA_HOME=home))
    check("ablab keys: exit 0 with the compare screen's keys", ref.returncode == 0 and "Compare screen" in ref.stdout, ref.stderr)
    with Tmux(home, 140, 45) as tm:
        tm.run(lab_cmd(db))
        tm.wait_text("type a prompt", 60)
        tm.keys("F1")
        s = tm.wait_drawn("help: keys")
        rows = [re.sub(r"^.*?[│x] (.*?) *[│x] *$", r"\1", ln) for ln in s.splitlines() if re.match(r"^ *[│x] ", ln)]
        keyrows = [r for r in rows if r.startswith("  ") and r.strip()]
        check("help: opens on the compare screen's keys", any(ln.strip() == "Compare screen" for ln in rows[:2]), s)
        missing = [r for r in keyrows if r.rstrip() not in ref.stdout]
        check(f"help: every key line drawn is a line of `ablab keys` ({len(keyrows)} lines)", keyrows and not missing, missing or s)
        check("help: the status line shows the help's own keys", re.search(r"Esc q \? F1 Enter close\s*$", s.rstrip()) is not None, s)
        tm.keys("Escape")
        s = tm.wait(lambda s: "help: keys" not in s, 10, "the help to close")
        tm.type("why")
        tm.type("?")
        s = tm.wait_text("why?")
        check("help: ? in a prompt being typed is text", "help: keys" not in s, s)
        tm.keys("C-u")
        tm.wait_text("type a prompt")
        tm.type("?")
        s = tm.wait_text("help: keys")
        check("help: ? on an empty prompt opens the help", "Compare screen" in s, s)
        tm.keys("q")
        tm.wait(lambda s: "help: keys" not in s, 10, "the help to close with q")
        tm.keys("C-q")
        check("help: quits cleanly", tm.exit_code() == 0)

def scenario_read_only(home):
    """Issue 14.6: a record handed in read-only (chmod 444): the lab opens it, says so, and the
    history and stats screens show what it holds; the file is left byte for byte as it was."""
    import hashlib, stat
    db = os.path.join(home, "ro.db")
    with Tmux(home, 140, 40) as tm:
        tm.run(lab_cmd(db))
        tm.ask("Once upon a time")
        tm.wait_text("Which answer is better?", 60)
        tm.type("a")
        tm.wait_text("Saved: A is better")
        tm.keys("C-q")
        check("read-only: the record was made (exit 0)", tm.exit_code() == 0)
        before = hashlib.sha256(open(db, "rb").read()).hexdigest()
        os.chmod(db, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(home, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        try:
            # as nobody when we are root (root writes through chmod 444)
            who = "setpriv --reuid=65534 --regid=65534 --clear-groups " if os.geteuid() == 0 and shutil.which("setpriv") else ""
            log = os.path.join(tempfile.gettempdir(), f"ablab-ro-{os.getpid()}.log")
            cmd = lab_cmd(db).rsplit(" 2>>", 1)[0] + f" 2>>{log}"
            tm.run(f"env HOME=/tmp XDG_STATE_HOME=/tmp/ablab-ro-state-{os.getpid()} XDG_DATA_HOME=/tmp/ablab-ro-data-{os.getpid()} {who}{cmd}")
            s = tm.wait_text("read-only", 60)
            check("read-only: the lab says the record is read-only", "is read-only" in s, s)
            tm.keys("F3")
            s = tm.wait_text("1 pair", 30)
            check("read-only: the history screen lists the stored pair", "Once upon a time" in s, s)
            tm.keys("F4")
            s = tm.wait(lambda s: "Elo" in s, 30, "the stats screen")
            check("read-only: the stats screen shows the record's numbers (one rated pair, the models)",
                  NAME_A in s and NAME_B in s and re.search(r"votes 1 · complete pairs 1", s) is not None, s)
            tm.keys("C-q")
            rc = tm.exit_code()
            check("read-only: the lab exits 0", rc == 0, rc)
        finally:
            os.chmod(home, 0o700)
            os.chmod(db, 0o600)
        after = hashlib.sha256(open(db, "rb").read()).hexdigest()
        check("read-only: the record is unchanged (sha256)", before == after, (before, after))
        check("read-only: no -wal or -journal file was made", not any(os.path.exists(db + x) for x in ("-wal", "-journal")),
              os.listdir(home))

REF_MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ref", "models")

def scenario_families(home):
    """Two different model families (issue 15) side by side: phi against gemma3_text in the open lab,
    then qwen3 against gpt_neox blind; both answer, the names show only when they should, and the
    record names each family."""
    db = os.path.join(home, "fam.db")
    pairs = [(("phi", "gemma3_text"), False), (("qwen3", "gpt_neox-sequential"), True)]
    with Tmux(home) as tm:
        for (a, b), blind in pairs:
            models = (os.path.join(REF_MODELS, a), os.path.join(REF_MODELS, b))
            tm.run(lab_cmd(db, *(["--blind"] if blind else []), max_tokens=12, models=models))
            tm.ask("Once upon a time")
            s = tm.wait(lambda s: "Which answer is better?" in s, 60, f"{a} and {b} to answer")
            what = f"families {a} | {b} ({'blind' if blind else 'open'})"
            if blind:
                check(f"{what}: no name before the vote", a not in s and b not in s and "Model A" in s, s)
            else:
                check(f"{what}: both panes named and measured", a in s and b in s and metrics_lines(s) == 2, s)
            tm.type("a")
            s = tm.wait_text("Saved: A is better")
            check(f"{what}: both names shown after the vote", a in s and b in s, s)
            tm.keys("C-q")
            check(f"{what}: Ctrl-Q exits 0", tm.exit_code() == 0)
    arch = sql(db, "SELECT group_concat(m.name || ':' || r.n_gen, ' ') FROM responses r JOIN models m ON m.id = r.model_id "
                   "ORDER BY r.id")
    for name in ("phi", "gemma3_text", "qwen3", "gpt_neox-sequential"):
        check(f"db: {name} answered (a response with tokens)", re.search(re.escape(name) + r":[1-9]", arch) is not None, arch)
    rated = sql(db, "SELECT count(*) FROM ratings")
    check("db: both pairs rated", rated == "2", rated)


SCENARIOS = {"compare": scenario_compare_rate, "study": scenario_blind_study, "screens": scenario_screens, "resize": scenario_resize,
             "escape": scenario_escape, "ctrlc": scenario_ctrl_c, "notty": scenario_not_a_tty,
             "settings": scenario_settings, "help": scenario_help,
             "families": scenario_families, "read-only": scenario_read_only}

def main():
    names = sys.argv[1:] or list(SCENARIOS)
    for n in names:
        with tempfile.TemporaryDirectory(prefix="ablab-ui-") as home:
            t0 = time.time()
            try:
                SCENARIOS[n](home)
            except Exception as ex:   # a timeout is a failure with the screen attached
                check(f"{n}: ran to the end", False, ex)
            log = os.path.join(home, "stderr.log")
            if os.path.exists(log) and os.path.getsize(log):
                print(f"# {n}: the lab's stderr:\n# " + open(log, errors="replace").read()[-2000:].replace("\n", "\n# "))
            print(f"# {n}: {time.time() - t0:.1f}s")
    finish()

if __name__ == "__main__":
    main()
