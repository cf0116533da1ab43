#!/usr/bin/env python3
"""Chat mode in the lab, driven in tmux (issue 16): a chat arm (the shipped gpt2-mini given
SmolLM2's published chat template) and a raw arm (gpt2-mini as shipped) answer the same three-turn
conversation side by side, each keeping its own history; the record holds every turn's exact
prompt. Then a blind study over a JSONL conversation set with the same chat and raw arms."""
import json, os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.environ["ABLAB_SRC"], "tests", "ui"))
from test_tmux import Tmux, sql  # noqa: E402  (skips, as it does, without tmux or sqlite3)
from checks import check, finish  # noqa: E402
from chat_models import chat_model  # noqa: E402

BIN = os.environ["ABLAB_BIN"]
BASE = os.path.join(os.environ["ABLAB_ASSETS"], "models", "gpt2-mini")
REF = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "chat")


def render(model, msgs, tmp):
    path = os.path.join(tmp, "msgs.json")
    json.dump(msgs, open(path, "w"))
    return subprocess.run([BIN, "template", "--model", model, "--messages", path, "--generation-prompt"],
                          capture_output=True, text=True, timeout=60).stdout


def lab_cmd(db, chat, *extra, sub=None):
    log = os.path.join(os.path.dirname(db), "stderr.log")
    return " ".join([BIN, *([sub] if sub else []), "--a", chat, "--b", BASE, "--db", db, "--max-tokens", "6",
                     "--temp", "0", "--threads", "2", *extra, "2>>" + log])


def scenario_three_turns(home):
    chat = os.path.join(home, "smol-chat")
    chat_model(chat)
    db = os.path.join(home, "lab.db")
    with Tmux(home) as tm:
        tm.run(lab_cmd(db, chat))
        s = tm.wait_text("type a prompt", 60)
        check("lab: the arm with a template is chat, the other raw (auto), shown in the pane headers",
              re.search(r"smol-chat \[chat\]", s) is not None and re.search(r"gpt2-mini \[raw\]", s) is not None, s)
        tm.keys("F2")
        tm.wait_text("prompts sent as")
        tm.keys("Up")  # the last row: the conversation
        tm.keys("Enter")
        s = tm.wait_text("multi-turn")
        check("settings: the conversation row turns multi-turn on", "multi-turn" in s, s)
        tm.keys("Up", "Up", "Up")  # prompts sent as: A and B
        s = tm.screen()
        check("settings: each side's mode is shown (auto: chat / auto: raw)", "auto: chat" in s and "auto: raw" in s, s)
        tm.keys("Escape")
        # the prompt line shows behind the settings box too: wait for the box to close, or the first
        # typed letter lands within the Esc delay and reads as Alt+letter
        tm.wait(lambda s: "prompts sent as" not in s, 20, "the settings box to close")
        turns = ["Hello there", "And then?", "Why so?"]
        for k, text in enumerate(turns):
            tm.ask(text)
            s = tm.wait(lambda s: "Which answer is better?" in s, 60, f"turn {k + 1} to be answered")
            if k == 2:
                check("lab: the third prompt is shown as turn 3", "turn 3" in s, s)
            tm.keys("Escape")  # skip the vote
        tm.wait_text("type a prompt", 30)
        tm.keys("C-q")
        check("lab: quits with status 0", tm.exit_code() == 0)
    rows = sql(db, "SELECT r.slot || '|' || t.turn || '|' || t.mode || '|' || t.conversation_id FROM turns t "
                   "JOIN responses r ON r.id = t.response_id ORDER BY t.turn, r.slot").splitlines()
    check("db: six turns, A chat and B raw, turns 0..2 of one conversation",
          len(rows) == 6 and [r.split("|")[:3] for r in rows] == [["0", "0", "chat"], ["1", "0", "raw"],
                                                                  ["0", "1", "chat"], ["1", "1", "raw"],
                                                                  ["0", "2", "chat"], ["1", "2", "raw"]]
          and len({r.split("|")[3] for r in rows}) == 1, rows)
    con = __import__("sqlite3").connect(db)
    got = {}
    for slot, turn, msgs, ptext, out in con.execute(
            "SELECT r.slot, t.turn, t.messages_json, t.prompt_text, r.output FROM turns t "
            "JOIN responses r ON r.id = t.response_id"):
        got[(slot, turn)] = (json.loads(msgs), ptext, out)
    for slot in (0, 1):
        hist = []
        for turn, text in enumerate(turns):
            hist.append({"role": "user", "content": text})
            msgs, ptext, out = got.get((slot, turn), (None, None, None))
            check(f"db: model {'AB'[slot]} turn {turn}: its own history and the new turn", msgs == hist, (msgs, hist))
            if slot == 0:
                want = render(chat, hist, home)
                check(f"db: model A turn {turn}: the exact prompt is the template's rendering", ptext == want,
                      (ptext, want))
            else:
                want = ""
                for m in hist:
                    want += ("\n\n" + m["content"] if m["role"] == "user" and want else m["content"])
                check(f"db: model B turn {turn}: the conversation as plain text", ptext == want, (ptext, want))
            hist.append({"role": "assistant", "content": out or ""})


def scenario_blind_study(home):
    chat = os.path.join(home, "smol-chat")
    chat_model(chat)
    db = os.path.join(home, "study.db")
    prompts = os.path.join(home, "chats.jsonl")
    with open(prompts, "w") as f:
        f.write(json.dumps({"messages": [{"role": "user", "content": "Tell me a story."}]}) + "\n")
        f.write(json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Hi"},
                                         {"role": "assistant", "content": "Hello!"},
                                         {"role": "user", "content": "How are you?"}]}) + "\n")
    with Tmux(home) as tm:
        tm.run(lab_cmd(db, chat, "--prompts", prompts, "--blind", "--participant", "p1", sub="study"))
        tm.wait_text("I agree", 60)
        tm.type("y")
        for k in range(2):
            s = tm.wait(lambda s: "Which answer is better?" in s, 60, f"conversation {k + 1} to be answered")
            check(f"study {k + 1}: blind (names and modes hidden before the vote)",
                  "smol-chat" not in s and "gpt2-mini" not in s and "[chat]" not in s and "[raw]" not in s, s)
            tm.type("a")
            tm.wait_text("Saved")
            tm.keys("Enter")
        tm.wait_text("Thank you", 30)
        tm.keys("Enter")
        check("study: exits 0 after the thank-you screen", tm.exit_code() == 0)
    modes = sql(db, "SELECT group_concat(m.name || ':' || t.mode, ',') FROM turns t JOIN responses r ON r.id = t.response_id "
                    "JOIN models m ON m.id = r.model_id JOIN pairs p ON p.id = r.pair_id WHERE p.blind = 1 "
                    "ORDER BY r.id")
    check("db: every answer of the blind study recorded with its mode (chat arm chat, raw arm raw)",
          sorted(modes.split(",")) == ["gpt2-mini:raw", "gpt2-mini:raw", "smol-chat:chat", "smol-chat:chat"], modes)
    sysmsg = sql(db, "SELECT count(*) FROM turns WHERE messages_json LIKE '%\"system\"%' AND turn = 1")
    rated = sql(db, "SELECT count(*) FROM ratings WHERE participant = 'p1'")
    check("db: the conversation with history is turn 1 for both arms, and both pairs are rated",
          sysmsg == "2" and rated == "2", (sysmsg, rated))


SCENARIOS = {"three_turns": scenario_three_turns, "blind_study": scenario_blind_study}
for name in sys.argv[1:] or list(SCENARIOS):
    with tempfile.TemporaryDirectory() as home:
        try:
            SCENARIOS[name](home)
        except TimeoutError as ex:
            check(f"{name}: finished", False, str(ex)[-3000:])
finish()
