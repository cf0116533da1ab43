#!/usr/bin/env python3
"""A remote arm streaming from an OpenAI-compatible server that is not ablab's own: llama.cpp's
llama-server (built from source: $LLAMA_SERVER, else /tmp/llama.cpp/build/bin/llama-server; skipped
with a message when neither exists). It serves the GGUF that `ablab convert` writes of the shipped
gpt2-mini; at temperature 0 the remote answer must equal ablab's own local answer token for token
(the text), through `generate` and through `run` with arm A local and arm B the server."""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.request

from checks import check, finish

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_server  # noqa: E402  (closed_port)

BIN = os.environ["ABLAB_BIN"]
MODEL = os.path.join(os.environ["ABLAB_ASSETS"], "models", "gpt2-mini")
server = os.environ.get("LLAMA_SERVER") or "/tmp/llama.cpp/build/bin/llama-server"
if not (os.path.isfile(server) and os.access(server, os.X_OK)):
    print(f"SKIP: no llama-server ({server}); build it from llama.cpp's source "
          "(cmake -DLLAMA_BUILD_SERVER=ON, target llama-server) or set LLAMA_SERVER")
    sys.exit(77)


def run(*args, env=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, env=env)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    gguf = os.path.join(tmp, "gpt2-mini.gguf")
    rc, out, err = run("convert", "--model", MODEL, "--out", gguf, env=env)
    check("ablab convert writes the GGUF llama-server serves", rc == 0, err)
    port = fault_server.closed_port()
    log = open(os.path.join(tmp, "llama-server.log"), "w")
    srv = subprocess.Popen([server, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-t", "1", "-c", "512"],
                           stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        ready = False
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    ready = r.status == 200
            except Exception:
                pass
            if ready or srv.poll() is not None:
                break
            time.sleep(0.1)
        if not check("llama-server starts", ready, open(log.name).read()[-1500:]):
            finish()
        rc, out, err = run("generate", "--model", url, "--prompt", "Once upon a time", "--max-tokens", "16",
                           "--temp", "0", "--json", env=env)
        j = json.loads(out) if rc == 0 else {}
        rc2, local, err2 = run("generate", "--model", gguf, "--prompt", "Once upon a time", "--max-tokens", "16",
                               "--temp", "0", env=env)
        check("generate: llama-server's stream equals ablab's local answer at temperature 0",
              rc == 0 and rc2 == 0 and j.get("text") + "\n" == local and j.get("stop") == "length", (j, local, err, err2))
        m = j.get("metrics", {})
        check("generate: llama-server's usage (16 tokens) and the client's TTFT and tok/s",
              m.get("usage_completion") == 16 and m.get("n_gen") == 16 and m.get("ttft_ms", 0) > 0 and
              m.get("decode_tok_s", 0) > 0, m)
        check("generate: the model is the one llama-server lists", j.get("remote", {}).get("model", "").endswith("gpt2-mini.gguf"),
              j.get("remote"))
        prompts = os.path.join(tmp, "p.txt")
        with open(prompts, "w") as f:
            f.write("To be, or not to be\nROMEO:\n")
        db = os.path.join(tmp, "r.db")
        rc, out, err = run("run", "--db", db, "--a", gguf, "--b", url, "--prompts", prompts, "--max-tokens", "12",
                           "--temp", "0", "--json", env=env)
        recs = [json.loads(x) for x in out.splitlines() if x.strip()]
        by = {(r["prompt_index"], r["slot"]): r for r in recs}
        check("run: A local and B llama-server, both answers recorded", rc == 0 and len(recs) == 4, (out, err))
        check("run: B (remote) writes what A (the same weights, local) writes at temperature 0",
              all(by.get((i, "A"), {}).get("output") == by.get((i, "B"), {}).get("output") for i in (0, 1)), recs)
        check("run: B's record says remote, with the client's metrics and no memory claimed",
              all(by[(i, "B")]["remote"] is True and by[(i, "B")]["engine_bytes"] is None and
                  by[(i, "B")]["ttft_ms"] > 0 and by[(i, "B")]["n_gen_tokens"] == 12 for i in (0, 1)), recs)
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
finish()
