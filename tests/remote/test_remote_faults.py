#!/usr/bin/env python3
"""Remote arms against a local server that misbehaves on purpose (fault_server.py, 127.0.0.1, a port
the OS picks): every fault gives one clear line and, once text has come, a recorded answer with stop
reason "error"; the lab's settings reach the request; the API key is sent and never stored or
logged; `run` against an unreachable URL stops at once; `run` against a server that dies mid-stream
records the partial answer; what a server cannot give (logits) is refused by the engine commands."""
import json, os, sqlite3, subprocess, sys, tempfile, time

from checks import check, finish

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_server  # noqa: E402

BIN = os.environ["ABLAB_BIN"]
LOCAL = os.path.join(os.environ["ABLAB_ASSETS"], "models", "scratch-shakespeare")


def run(*args, env=None, timeout=60):
    t = time.monotonic()
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t


srv = fault_server.start()
U = srv.url

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    env.pop("ABLAB_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)

    def gen(url, *more, extra_env=None):
        e = dict(env, **(extra_env or {}))
        rc, out, err, dt = run("generate", "--model", url, "--prompt", "Hi", "--json", *more, env=e)
        try:
            j = json.loads(out)
        except ValueError:
            j = {}
        return rc, j, err, dt

    # a healthy stream: text, finish, usage, the client's measurements
    rc, j, err, _ = gen(U("ok"))
    m = j.get("metrics", {})
    check("ok: the stream's pieces make the answer", rc == 0 and j.get("text") == "Hello, world", (rc, j, err))
    check("ok: stop 'eos', usage from the server, client-side ttft and tok/s",
          j.get("stop") == "eos" and m.get("n_prompt") == 3 and m.get("n_gen") == 3 and m.get("n_chunks") == 3
          and m.get("ttft_ms", -1) > 0 and m.get("total_ms", 0) >= m.get("ttft_ms", 0), j)
    check("ok: the model is the first the server lists; parameters and memory unknown (null)",
          j.get("remote", {}).get("model") == "m" and m.get("n_params", 0) is None and m.get("bytes_weights", 0) is None, j)
    rc, j, err, _ = gen(U("ok") + "#other-model")
    check("#MODEL picks a listed model", rc == 0 and j.get("remote", {}).get("model") == "other-model", (rc, j, err))
    rc, out, err, _ = run("generate", "--model", U("ok") + "#nope", "--prompt", "Hi", env=env)
    check("#MODEL that is not served: one line naming what is",
          rc != 0 and "model 'nope' is not served here (it serves: m, other-model)" in err and err.count("\n") == 1, err)
    rc, j, err, _ = gen(U("json"))
    check("a whole JSON answer (no stream) is taken", rc == 0 and j.get("text") == "whole answer" and j.get("stop") == "length",
          (rc, j, err))
    rc, out, err, _ = run("generate", "--model", U("chat"), "--prompt", "Hi there", "--chat", "--system", "Be kind.",
                          env=env)
    check("--chat streams from /v1/chat/completions", rc == 0 and out == "you said: Hi there\n", (rc, out, err))
    last = srv.requests[-1]
    check("chat: the system prompt then the user's turn are the messages",
          last["path"].endswith("/chat/completions") and last["body"].get("messages") ==
          [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi there"}], last)

    # the lab's sampling settings in the request
    rc, j, err, _ = gen(U("echo"), "--temp", "0.3", "--top-k", "7", "--top-p", "0.5", "--min-p", "0.1",
                        "--repeat-penalty", "1.2", "--max-tokens", "11", "--seed", "99", "--stop", "END")
    body = json.loads(j.get("text") or "{}")
    check("settings: temperature, top_p, max_tokens, seed, stop, and the top_k/min_p/repeat_penalty extensions",
          body.get("temperature") == 0.3 and body.get("top_p") == 0.5 and body.get("max_tokens") == 11 and
          body.get("seed") == 99 and body.get("stop") == ["END"] and body.get("top_k") == 7 and body.get("min_p") == 0.1
          and body.get("repeat_penalty") == 1.2 and body.get("repetition_penalty") == 1.2 and body.get("stream") is True
          and body.get("prompt") == "Hi" and body.get("model") == "m", body)
    rc, j, err, _ = gen(U("echo"), "--top-k", "0", "--top-p", "1", "--min-p", "0", "--repeat-penalty", "1")
    body = json.loads(j.get("text") or "{}")
    check("settings that are off are not sent", not {"top_k", "top_p", "min_p", "repeat_penalty"} & set(body), body)

    # faults: one line each, at once
    port = fault_server.closed_port()
    rc, out, err, dt = run("generate", "--model", "http://127.0.0.1:%d/v1" % port, "--prompt", "x", env=env)
    check("connection refused: one line, at once", rc != 0 and "cannot connect" in err and err.count("\n") == 1 and dt < 5,
          (err, dt))
    rc, out, err, dt = run("generate", "--model", "http://no-such-host.invalid/v1", "--prompt", "x", env=env)
    check("DNS failure: one line naming the host", rc != 0 and "cannot resolve host 'no-such-host.invalid'" in err
          and err.count("\n") == 1, err)
    rc, out, err, dt = run("generate", "--model", U("ok").replace("http:", "https:"), "--prompt", "x", env=env)
    check("TLS error (https to a plain server): one line", rc != 0 and "TLS error" in err and err.count("\n") == 1, err)
    rc, j, err, _ = gen(U("auth"))
    check("401 without a key: says which variables to set", rc != 0 and "401 Unauthorized: Invalid API key" in err
          and "ABLAB_API_KEY" in err and err.count("\n") == 1, err)
    rc, j, err, _ = gen(U("auth"), extra_env={"OPENAI_API_KEY": "wrong"})
    check("401 with a wrong key: says the key was refused", rc != 0 and "was refused" in err and "wrong" not in err, err)
    rc, j, err, _ = gen(U("auth"), extra_env={"ABLAB_API_KEY": "sekrit", "OPENAI_API_KEY": "wrong"})
    check("ABLAB_API_KEY is sent as a bearer token (before OPENAI_API_KEY)",
          rc == 0 and j.get("text") == "Hello, world" and srv.requests[-1]["auth"] == "Bearer sekrit", (rc, j, err))
    rc, j, err, _ = gen(U("forbidden"), extra_env={"ABLAB_API_KEY": "sekrit"})
    check("403: one line", rc != 0 and "403 Forbidden" in err and "sekrit" not in err, err)
    rc, j, err, _ = gen(U("gone"))
    check("404 model at the completion: one line naming the model", rc != 0 and "404 Not Found" in err and "'m'" in err,
          err)
    n0 = len(srv.requests)
    rc, j, err, dt = gen(U("limited"))
    check("429 with Retry-After: 1, twice: waited out and answered",
          rc == 0 and j.get("text") == "Hello, world" and j["metrics"].get("retries") == 2 and dt >= 2
          and len(srv.requests) - n0 == 3, (rc, j, err, dt))
    n0 = len(srv.requests)
    rc, j, err, dt = gen(U("limited0"))
    check("429 forever: bounded (3 retries, then one line)",
          rc != 0 and "429 Too Many Requests" in err and "after 3 retries" in err and len(srv.requests) - n0 == 4, err)
    rc, j, err, dt = gen(U("limitedlong"))
    check("429 asking for 120 s: not waited, said", rc != 0 and "retry after 120 s" in err and dt < 5, (err, dt))
    rc, j, err, _ = gen(U("error500"))
    check("5xx: the server's message", rc != 0 and "500 Internal Server Error: CUDA out of memory" in err, err)
    for mode, what in [("die", "ended before the answer was complete"), ("badjson", "not JSON"),
                       ("midevent", "ended inside an event"), ("errorevent", "the server stopped with an error: the model crashed")]:
        rc, j, err, _ = gen(U(mode))
        check(f"{mode}: the text so far kept, stop 'error', one line", rc != 0 and j.get("text") == "Partial answer"
              and j.get("stop") == "error" and what in err and err.count("\n") == 1, (rc, j, err))
    rc, j, err, _ = gen(U("garbage"))
    check("garbage: a 200 event stream without events is an error", rc != 0 and "ended before" in err, err)
    rc, j, err, dt = gen(U("stall"), extra_env={"ABLAB_REMOTE_TIMEOUT": "1"})
    check("stalled stream: the timeout fires, text so far kept", rc != 0 and "sent nothing for 1 s" in err and
          j.get("text") == "Partial answer" and dt < 10, (err, dt))

    # engine commands cannot measure a server
    for cmd in (["eval", "--model", U("ok"), "--text", __file__], ["inspect", U("ok")],
                ["logits", "--model", U("ok"), "--ids", "1", "--out", os.path.join(tmp, "l.bin")],
                ["scale", "--models", U("ok"), "--corpus", __file__, "--out", os.path.join(tmp, "sc")]):
        rc, out, err, _ = run(*cmd, env=env)
        check(f"{cmd[0]}: a remote model is refused, saying why", rc != 0 and "is a remote model" in err and "logits" in err,
              err)

    # run: unreachable, then a server that dies mid-stream, with a key that must not be stored
    prompts = os.path.join(tmp, "p.txt")
    with open(prompts, "w") as f:
        f.write("To be\nor not\n")
    db = os.path.join(tmp, "r.db")
    rc, out, err, dt = run("run", "--db", db, "--a", LOCAL, "--b", "http://127.0.0.1:%d/v1" % port, "--prompts", prompts,
                           "--max-tokens", "4", env=env)
    lines = [x for x in err.splitlines() if x.strip()]
    check("run against an unreachable URL: stops at once with one clear line",
          rc != 0 and len(lines) == 1 and "model B" in lines[0] and "cannot connect" in lines[0] and dt < 10, (err, dt))
    kenv = dict(env, ABLAB_API_KEY="sekrit-key-123")
    rc, out, err, dt = run("run", "--db", db, "--a", LOCAL, "--b", U("die") + "#m", "--prompts", prompts,
                           "--max-tokens", "4", "--temp", "0", "--json", env=kenv)
    check("run against a server that dies mid-stream: fails, saying so",
          rc != 0 and "ended before the answer was complete" in err, err[-600:])
    con = sqlite3.connect(db)
    rows = con.execute("SELECT r.slot, r.output, r.stop_reason, r.n_gen, r.bytes_weights_mapped, r.peak_rss, r.threads, "
                       "r.ttft_ms, r.token_ids, m.path, m.name, m.format, m.n_params FROM responses r "
                       "JOIN models m ON m.id = r.model_id ORDER BY r.id").fetchall()
    remote = [r for r in rows if r[0] == 1]
    check("the partial answers are recorded with stop reason 'error'",
          len(remote) == 2 and all(r[1] == "Partial answer" and r[2] == "error" and r[3] == 2 for r in remote), rows)
    check("the remote rows: URL without credentials, the served model id, format 'remote', no tokens",
          remote and all(r[9] == U("die") + "#m" and r[10] == "m @ 127.0.0.1:%d" % srv.server_address[1] and r[11] == "remote" and r[8] in ("", "[]")
                         for r in remote), remote)
    check("the local side's answers are stored beside them", len([r for r in rows if r[0] == 0]) == 2, rows)
    con.close()
    blob = open(db, "rb").read() + b"".join(open(os.path.join(d, f), "rb").read() for d, _, fs in os.walk(tmp)
                                             for f in fs if f.endswith((".log", "-wal")))
    check("the API key is in neither the record nor the log", b"sekrit-key-123" not in blob)
    rc, out, err, _ = run("run", "--db", db, "--a", LOCAL, "--b", U("ok") + "#m", "--prompts", prompts,
                          "--max-tokens", "4", "--temp", "0", "--session", "healthy", "--json", env=kenv)
    recs = [json.loads(x) for x in out.splitlines() if x.strip()]
    rb = [r for r in recs if r["slot"] == "B"]
    check("run with a healthy server: B's records say remote, memory and threads null",
          rc == 0 and len(rb) == 2 and all(r["output"] == "Hello, world" and r["remote"] is True and
                                            r["engine_bytes"] is None and r["threads"] is None for r in rb), (out, err))
    check("the start line says B's parameters are unknown", "parameters unknown" in err, err)
    rc, out, err, _ = run("run", "--db", db, "--a", LOCAL, "--b", U("ok") + "#m", "--prompts", prompts,
                          "--max-tokens", "4", "--temp", "0", "--session", "parallel", "--parallel", "2", env=kenv)
    check("--parallel with a remote arm: refused in one line naming it, nothing asked",
          rc != 0 and "--parallel" in err and "model B is served remotely" in err and "--parallel 1" in err
          and out == "", err)
    rc, out, err, _ = run("export", "--db", db, "--what", "responses", "--format", "jsonl", env=env)
    ex = [json.loads(x) for x in out.splitlines() if x.strip()]
    exb = [x for x in ex if x.get("slot") == "B"]
    exa = [x for x in ex if x.get("slot") == "A"]
    check("export: B's memory, threads and per-token times are null (unknown), A's are numbers",
          rc == 0 and exb and exa and all(x["peak_rss_bytes"] is None and x["threads"] is None and
                                          x["bytes_weights_mapped"] is None for x in exb)
          and all(isinstance(x["peak_rss_bytes"], int) and x["peak_rss_bytes"] > 0 for x in exa), (err, ex[:2]))
    rc, out, err, _ = run("stats", "--db", db, "--format", "json", env=env)
    st = json.loads(out) if rc == 0 else {}
    sm = {m["arch"]: m for m in st.get("models", [])}
    check("stats: the remote model's parameters and memory are null, the local one's are numbers",
          "remote" in sm and sm["remote"]["n_params"] is None and sm["remote"]["engine_bytes_median"] is None
          and sm["remote"]["ttft_ms_median"] > 0 and any(m["n_params"] and m["engine_bytes_median"] for a, m in sm.items()
                                                          if a != "remote"), (err, out[:1500]))
    rc, out, err, _ = run("stats", "--db", db, env=env)
    check("stats (text): the remote model's parameters and memory read 'unknown'",
          rc == 0 and any("m @ 127.0.0.1" in ln and ln.count("unknown") == 2 for ln in out.splitlines()), out)
    check("export: B's rows name the served model and where it ran",
          all(x["model"].startswith("m @ 127.0.0.1:") for x in exb), exb[:1])

srv.shutdown()
finish()
