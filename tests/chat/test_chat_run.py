#!/usr/bin/env python3
"""Chat mode headless (issue 16): `ablab run` and `ablab generate` with a chat arm and a raw arm.
The chat model is the shipped gpt2-mini with a tokenizer_config.json carrying SmolLM2's published
template (tests/fixtures/ref/chat). Checks: each arm's prompt is sent as its mode says (the chat
arm's exact text equals `ablab template`'s rendering, itself equal to transformers' on the
references; the raw arm's is the plain text), JSONL conversations and --system reach both arms,
the record keeps every turn (mode, messages, exact prompt, conversation, turn) and export shows it,
generation stops at the template's end-of-turn token, and what cannot be done is refused."""
import json, os, sqlite3, subprocess, tempfile

from checks import check, finish
from chat_models import chat_model

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
REF = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "chat")
BASE = os.path.join(ASSETS, "models", "gpt2-mini")


def run(*args, env=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    smol = json.load(open(os.path.join(REF, "smollm2-instruct.json")))["template"]
    chat = os.path.join(tmp, "smol-chat")
    chat_model(chat, smol)
    conv = [{"role": "user", "content": "A dragon"}, {"role": "assistant", "content": " slept."},
            {"role": "user", "content": "Then what?"}]
    prompts = os.path.join(tmp, "set.jsonl")
    with open(prompts, "w") as f:
        f.write(json.dumps({"messages": conv}) + "\n")
        f.write("Once upon a time\n")
    db = os.path.join(tmp, "r.db")
    rc, out, err = run("run", "--db", db, "--a", chat, "--b", BASE, "--prompts", prompts, "--max-tokens", "4",
                       "--temp", "0", "--system", "Tell stories.", "--json", env=env)
    check("run: a chat arm and a raw arm over a JSONL conversation set", rc == 0, err[-800:])
    con = sqlite3.connect(db)
    rows = con.execute("SELECT p.id, pr.position, r.slot, t.mode, t.messages_json, t.prompt_text, t.conversation_id, t.turn "
                       "FROM turns t JOIN responses r ON r.id = t.response_id JOIN pairs p ON p.id = r.pair_id "
                       "JOIN prompts pr ON pr.id = p.prompt_id ORDER BY pr.position, r.slot").fetchall()
    check("every response has its turn recorded", len(rows) == 4, rows)
    want_msgs = [{"role": "system", "content": "Tell stories."}] + conv
    msgs_path = os.path.join(tmp, "m.json")
    json.dump(want_msgs, open(msgs_path, "w"))
    _, rendered, _ = run("template", "--model", chat, "--messages", msgs_path, "--generation-prompt")
    by = {(r[1], r[2]): r for r in rows}
    a0, b0 = by.get((0, 0)), by.get((0, 1))
    check("chat arm: mode chat, the system prompt and the conversation, as `ablab template` renders them",
          a0 and a0[3] == "chat" and json.loads(a0[4]) == want_msgs and a0[5] == rendered and rendered.endswith(
              "<|im_start|>assistant\n"), (a0, rendered))
    check("raw arm: mode raw, the same messages as plain text (system, blank line, the turns)",
          b0 and b0[3] == "raw" and json.loads(b0[4]) == want_msgs and
          b0[5] == "Tell stories.\n\nA dragon slept.\n\nThen what?", b0)
    check("a stored conversation is turn 1 (its second user turn) of its own conversation",
          a0 and a0[7] == 1 and a0[6] == a0[0], a0)
    a1, b1 = by.get((1, 0)), by.get((1, 1))
    check("a plain line: the chat arm gets it as the user's turn, the raw arm as text after the system prompt",
          a1 and "<|im_start|>user\nOnce upon a time<|im_end|>" in a1[5] and b1 and
          b1[5] == "Tell stories.\n\nOnce upon a time" and a1[7] == 0, (a1, b1))
    rc, out, err = run("export", "--db", db, "--what", "responses", "--format", "jsonl", env=env)
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    check("export shows each turn: mode, conversation, turn, messages and the exact prompt",
          rc == 0 and len(lines) == 4 and {x["mode"] for x in lines} == {"chat", "raw"} and
          all(json.loads(x["messages"])[-1]["role"] == "user" and x["prompt_text"] for x in lines), out[:600])
    # a flag for one arm: --a-raw sends model A's prompts as text although it has a template
    db2 = os.path.join(tmp, "r2.db")
    rc, out, err = run("run", "--db", db2, "--a", chat, "--b", BASE, "--prompts", prompts, "--max-tokens", "2",
                       "--temp", "0", "--a-raw", env=env)
    modes = sqlite3.connect(db2).execute("SELECT DISTINCT mode FROM turns").fetchall() if rc == 0 else None
    check("--a-raw: both arms raw", rc == 0 and modes == [("raw",)], (rc, err[-400:], modes))
    rc, out, err = run("run", "--db", os.path.join(tmp, "r3.db"), "--a", chat, "--b", BASE, "--prompts", prompts,
                       "--max-tokens", "2", "--b-chat", env=env)
    check("--b-chat on a model without a template is refused, naming it", rc == 1 and "model B" in err and
          "no chat template" in err, err[-400:])
    rc, out, err = run("run", "--db", os.path.join(tmp, "r4.db"), "--a", chat, "--b", BASE, "--prompts", prompts,
                       "--chat", "--raw", env=env)
    check("--chat with --raw is a usage error", rc == 2 and "contradicts" in err, err[-300:])
    bad = os.path.join(tmp, "bad.jsonl")
    open(bad, "w").write('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}\n')
    rc, out, err = run("run", "--db", os.path.join(tmp, "r5.db"), "--a", chat, "--b", BASE, "--prompts", bad, env=env)
    check("a conversation that does not end with the user's turn is refused with file and line",
          rc != 0 and "bad.jsonl:1" in err and "last message" in err, err[-300:])

    # generate: the chat arm ends at the template's end-of-turn token. This config names the token
    # the model writes first (the newline, 'Ċ' in GPT-2's vocabulary) as eos_token, so the stop shows.
    eos_model = os.path.join(tmp, "smol-eos")
    chat_model(eos_model, smol, eos="\u010a")
    rc, out, err = run("generate", "--model", eos_model, "--prompt", "Once upon a time", "--max-tokens", "6",
                       "--temp", "0", "--json", env=env)
    d = json.loads(out) if rc == 0 else {}
    check("generate --chat: stops at the template's end-of-turn token", d.get("mode") == "chat" and
          d.get("stop") == "eos" and d.get("ids") == [198], (rc, out[:300], err[-300:]))
    rc, out, err = run("generate", "--model", eos_model, "--prompt", "Once upon a time", "--max-tokens", "6",
                       "--temp", "0", "--raw", "--json", env=env)
    d = json.loads(out) if rc == 0 else {}
    check("generate --raw: the same model is not stopped there", d.get("mode") == "raw" and d.get("stop") == "length"
          and d.get("prompt_text") == "Once upon a time", (rc, out[:300]))
    rc, out, err = run("generate", "--model", BASE, "--ids", "1,2", "--chat", env=env)
    check("generate --chat with --ids is a usage error", rc == 2, err[-200:])
finish()
