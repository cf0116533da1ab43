#!/usr/bin/env python3
"""A chat template inside a GGUF file (tokenizer.chat_template, where llama.cpp's converter puts
tokenizer_config.json's chat_template): `ablab convert` writes it, `template`, `run` and the lab read
it, so a GGUF from the hub is a chat arm as its folder would be. The model is the shipped gpt2-mini
with SmolLM2's published template (tests/fixtures/ref/chat). Checks: the GGUF's rendering equals the
folder's, byte for byte, also after a re-quantization GGUF -> GGUF; `run` over the folder and over the
GGUF sends the same chat prompt and, at F32 and temperature 0, gets the same answer; a GGUF without a
template is raw, and `template` says what is missing; a template in the file that the renderer refuses
leaves the model usable raw and says why when chat is asked for.
Checked once by hand against llama.cpp's gguf-py (c392e509): its gguf_dump reads the key ablab writes,
and a file whose template gguf_new_metadata.py wrote renders here exactly as the folder."""
import json, os, sqlite3, subprocess, tempfile

from checks import check, finish
from chat_models import chat_model

BIN = os.environ["ABLAB_BIN"]
BASE = os.path.join(os.environ["ABLAB_ASSETS"], "models", "gpt2-mini")
REF = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "chat")


def run(*args, env=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    smol = json.load(open(os.path.join(REF, "smollm2-instruct.json")))["template"]
    folder = os.path.join(tmp, "smol-chat")
    chat_model(folder, smol)
    f32, q8 = os.path.join(tmp, "smol.gguf"), os.path.join(tmp, "smol-q8_0.gguf")
    rc, _, err = run("convert", "--model", folder, "--out", f32)
    check("convert: the chat folder to GGUF", rc == 0, err)
    rc, _, err = run("convert", "--model", f32, "--out", q8, "--quant", "q8_0")
    check("convert: that GGUF to Q8_0", rc == 0, err)
    check("the GGUF carries tokenizer.chat_template", b"tokenizer.chat_template" in open(f32, "rb").read())

    msgs = os.path.join(tmp, "m.json")
    json.dump([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Why?"}], open(msgs, "w"))
    _, want, _ = run("template", "--model", folder, "--messages", msgs, "--generation-prompt")
    for path in (f32, q8):
        rc, got, err = run("template", "--model", path, "--messages", msgs, "--generation-prompt")
        check(f"template: {os.path.basename(path)} renders exactly as the folder", rc == 0 and got == want and want,
              (got, want, err))

    plain = os.path.join(tmp, "plain.gguf")
    run("convert", "--model", BASE, "--out", plain)
    rc, out, err = run("template", "--model", plain, "--messages", msgs)
    check("template: a GGUF without one says what is missing",
          rc != 0 and "plain.gguf" in err and "tokenizer.chat_template" in err and out == "", err)

    db = os.path.join(tmp, "r.db")
    story, hello = os.path.join(tmp, "story.txt"), os.path.join(tmp, "hello.txt")
    open(story, "w").write("Tell me a story\n")
    open(hello, "w").write("Hello\n")
    rc, out, err = run("run", "--db", db, "--a", folder, "--b", f32, "--prompts", story,
                       "--max-tokens", "6", "--temp", "0", "--threads", "2", env=env)
    check("run: folder as A, its GGUF as B", rc == 0, err[-800:])
    rows = sqlite3.connect(db).execute(
        "SELECT r.slot, t.mode, t.prompt_text, r.output FROM turns t JOIN responses r ON r.id = t.response_id "
        "ORDER BY r.slot").fetchall()
    check("run: both arms are chat (auto) with the same rendered prompt",
          len(rows) == 2 and rows[0][1] == rows[1][1] == "chat" and rows[0][2] == rows[1][2]
          and "<|im_start|>user" in rows[0][2], rows)
    check("run: the F32 GGUF answers as the folder at temperature 0", len(rows) == 2 and rows[0][3] == rows[1][3], rows)
    rc, out, err = run("run", "--db", db, "--a", plain, "--b", q8, "--prompts", story,
                       "--max-tokens", "4", "--temp", "0", "--threads", "2", "--json", env=env)
    modes = sqlite3.connect(db).execute(
        "SELECT r.slot, t.mode FROM turns t JOIN responses r ON r.id = t.response_id "
        "WHERE r.id > (SELECT MAX(id) - 2 FROM responses) ORDER BY r.slot").fetchall()
    check("run: a GGUF without a template is raw, one with it chat", rc == 0 and modes == [(0, "raw"), (1, "chat")],
          (modes, err[-500:]))

    # a template the renderer refuses, inside the file (same length, so the GGUF stays well-formed):
    # the model still loads, raw, and asking for its template names the file, the key and the construct
    data = open(f32, "rb").read()
    old = b"{% for message in messages %}"
    new = b"{{ messages | frobnicate }}".ljust(len(old))
    check("the fixture's template has the loop to break", data.count(old) == 1)
    badg = os.path.join(tmp, "bad.gguf")
    open(badg, "wb").write(data.replace(old, new))
    rc, out, err = run("template", "--model", badg, "--messages", msgs)
    check("template: a refused template in a GGUF names the file, the key and the filter",
          rc != 0 and "bad.gguf" in err and "tokenizer.chat_template" in err and "frobnicate" in err, err)
    rc, out, err = run("run", "--db", db, "--a", badg, "--b", plain, "--prompts", hello, "--max-tokens", "3",
                       "--temp", "0", "--threads", "2", env=env)
    mode = sqlite3.connect(db).execute("SELECT t.mode FROM turns t JOIN responses r ON r.id = t.response_id "
                                       "WHERE r.slot = 0 ORDER BY r.id DESC LIMIT 1").fetchone()
    check("run: that GGUF still answers, raw", rc == 0 and mode == ("raw",), (mode, err[-500:]))
    rc, out, err = run("run", "--db", db, "--a", badg, "--b", plain, "--prompts", hello, "--max-tokens", "3",
                       "--chat", env=env)
    check("run --chat: refused, with the template's own reason", rc != 0 and "frobnicate" in err, err[-500:])
finish()
