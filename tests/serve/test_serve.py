#!/usr/bin/env python3
"""ablab serve over real HTTP with the shipped models (issue 20): /v1/models, completions and chat
completions streamed and whole in OpenAI's shapes, usage, answers equal to `ablab generate` at
temperature 0, the errors in OpenAI's shape, the API key, the body limit, the queue, a client that
leaves mid-answer, and SIGTERM."""
import json, os, signal, socket, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from serve_util import GPT2, MODELS, STOPPED, Server, chat_model, generate, raw_request, sanitizer_report


def scenario_completions(home):
    s = Server(home, GPT2, "--temp", "0")
    try:
        st, hd, out = s.request("GET", "/v1/models")
        models = json.loads(out)
        m = models["data"][0] if models.get("data") else {}
        check("GET /v1/models: a list with the model's id, owned_by and created",
              st == 200 and models.get("object") == "list" and len(models["data"]) == 1 and m.get("id") == "gpt2-mini"
              and m.get("object") == "model" and m.get("owned_by") == "ablab" and isinstance(m.get("created"), int)
              and s.model_id == "gpt2-mini", (st, out))
        st, _, out = s.request("GET", "/v1/models/gpt2-mini")
        check("GET /v1/models/ID: the one model", st == 200 and json.loads(out).get("id") == "gpt2-mini", (st, out))

        ref = generate(home, GPT2, "Once upon a time", "--temp", "0", "--max-tokens", "12")
        req = {"model": "gpt2-mini", "prompt": "Once upon a time", "max_tokens": 12}
        st, hd, body = s.post("/v1/completions", req)
        ch = body.get("choices", [{}])[0] if isinstance(body, dict) else {}
        check("completions: shape (id cmpl-, object text_completion, created, model, one choice)",
              st == 200 and body["id"].startswith("cmpl-") and body["object"] == "text_completion"
              and isinstance(body["created"], int) and body["model"] == "gpt2-mini" and len(body["choices"]) == 1
              and ch.get("index") == 0 and "logprobs" in ch and hd.get("content-type") == "application/json", body)
        check("completions at temperature 0 equal `ablab generate` with the same settings",
              ch.get("text") == ref["text"], (ch.get("text"), ref["text"]))
        check("completions: finish_reason length at max_tokens", ch.get("finish_reason") == "length", ch)
        u = body.get("usage", {})
        check("completions: usage filled (prompt, completion, total)",
              u == {"prompt_tokens": ref["metrics"]["n_prompt"], "completion_tokens": ref["metrics"]["n_gen"],
                    "total_tokens": ref["metrics"]["n_prompt"] + ref["metrics"]["n_gen"]}, (u, ref["metrics"]))

        st, hd, ev = s.stream("/v1/completions", dict(req, stream_options={"include_usage": True}))
        chunks = [json.loads(e) for e in ev[:-1]]
        text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
        check("stream: text/event-stream, ends with data: [DONE]",
              st == 200 and hd.get("content-type") == "text/event-stream" and ev and ev[-1] == "[DONE]", (st, hd, ev[-2:]))
        check("stream: the chunks' text is the same answer", text == ref["text"], (text, ref["text"]))
        check("stream: every chunk has the completion's id and object",
              all(c["id"] == chunks[0]["id"] and c["object"] == "text_completion" for c in chunks), chunks[:2])
        fin = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        check("stream: one final chunk with finish_reason length, after the text",
              len(fin) == 1 and fin[0]["choices"][0]["finish_reason"] == "length" and chunks.index(fin[0]) == len(chunks) - 2,
              fin)
        check("stream: include_usage gives a last chunk with choices [] and usage; the others usage null",
              chunks[-1]["choices"] == [] and chunks[-1]["usage"] == u and all(c["usage"] is None for c in chunks[:-1]),
              chunks[-1])
        st, _, ev2 = s.stream("/v1/completions", req)
        check("stream without include_usage: no usage field, no usage chunk",
              all("usage" not in json.loads(e) for e in ev2[:-1]) and all(json.loads(e)["choices"] for e in ev2[:-1]),
              ev2[-2:])

        # stop strings (a string or a list), seed and the llama.cpp extensions
        ref_stop = generate(home, GPT2, "Once upon a time", "--temp", "0", "--max-tokens", "12", "--stop", "\n")
        st, _, b = s.post("/v1/completions", dict(req, stop="\n"))
        st2, _, b2 = s.post("/v1/completions", dict(req, stop=["\n", "zzz"]))
        check("stop: a string or a list; the answer ends before it with finish_reason stop, as generate --stop",
              st == 200 and b["choices"][0]["text"] == ref_stop["text"] and b["choices"][0]["finish_reason"] == "stop"
              and b2["choices"][0]["text"] == ref_stop["text"] and "\n" not in ref_stop["text"], (b, b2, ref_stop["text"]))
        ref_seed = generate(home, GPT2, "Once upon a time", "--temp", "0.9", "--top-k", "20", "--max-tokens", "12",
                            "--seed", "7", "--repeat-penalty", "1.1")
        sampled = dict(req, temperature=0.9, top_k=20, seed=7, repetition_penalty=1.1)
        _, _, b1 = s.post("/v1/completions", sampled)
        _, _, b2 = s.post("/v1/completions", dict(sampled, repetition_penalty=None, repeat_penalty=1.1))
        check("seed, temperature, top_k, repetition_penalty: the answer `ablab generate` gives with the same settings",
              b1["choices"][0]["text"] == ref_seed["text"] and b2["choices"][0]["text"] == ref_seed["text"],
              (b1, ref_seed["text"]))
        _, _, b3 = s.post("/v1/completions", {"model": "gpt2-mini", "prompt": [464, 3290], "max_tokens": 3})
        check("prompt as token ids", b3.get("usage", {}).get("prompt_tokens") == 2 and b3["choices"][0]["text"], b3)

        # errors, in OpenAI's shape, naming the field
        def err(st, body, status, param=None, code=None, words=""):
            e = body.get("error") if isinstance(body, dict) else None
            return (st == status and isinstance(e, dict) and set(e) == {"message", "type", "param", "code"}
                    and e["param"] == param and (code is None or e["code"] == code) and words in e["message"])
        st, _, b = s.post("/v1/completions", None, raw=b'{"model": "gpt2-mini", "prompt": ')
        check("bad JSON: 400 naming the parse error", err(st, b, 400, None, None, "parse the JSON"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, temperature=500))
        check("temperature 500: 400 naming the field and the setting table's range",
              err(st, b, 400, "temperature", None, "temperature must be a number in [0, 100]"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, top_p="high"))
        check("top_p a string: 400 naming top_p", err(st, b, 400, "top_p", None, "must be a number"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, max_completion_tokens=0))
        check("max_completion_tokens 0: 400 naming it", err(st, b, 400, "max_completion_tokens"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, top_k=2.5))
        check("top_k 2.5: 400 (an integer)", err(st, b, 400, "top_k"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, n=2))
        check("n 2: 400 naming n (one choice per request)", err(st, b, 400, "n", None, "n must be 1"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, stop=[""]))
        check("an empty stop string: 400 naming stop[0]", err(st, b, 400, "stop[0]"), (st, b))
        st, _, b = s.post("/v1/completions", dict(req, model="gpt-4o"))
        check("unknown model: 404 model_not_found", err(st, b, 404, "model", "model_not_found", "gpt-4o"), (st, b))
        st, _, b = s.post("/v1/completions", {"prompt": "x"})
        check("no model: 400 naming model", err(st, b, 400, "model"), (st, b))
        st, _, b = s.post("/v1/completions", {"model": "gpt2-mini", "prompt": "x " * 3000})
        check("a prompt longer than the context: 400 context_length_exceeded",
              err(st, b, 400, "prompt", "context_length_exceeded"), (st, b))
        st, _, b = s.post("/v1/chat/completions", {"model": "gpt2-mini", "messages": [{"role": "user", "content": "hi"}]})
        check("chat on a model without a chat template: 400 saying so",
              err(st, b, 400, "messages", None, "has no chat template"), (st, b))
        st, hd, out = s.request("GET", "/v1/engines")
        check("unknown path: 404 in the error shape", err(st, json.loads(out), 404, None, "unknown_url"), (st, out))
        st, hd, out = s.request("GET", "/v1/completions")
        check("GET on a POST path: 405 with Allow", st == 405 and hd.get("allow") == "POST", (st, hd))
        got = raw_request(s, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d" % (9 << 20))
        check("a body announced over --max-body (8 MiB by default): 413 before it is sent, connection closed",
              got.startswith(b"HTTP/1.1 413") and b"larger than 8388608 bytes" in got, got[:300])
        big = b"x" * (9 << 20)
        chunked = b"%x\r\n" % len(big) + big + b"\r\n0\r\n\r\n"
        got = raw_request(s, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", chunked)
        check("a chunked body over --max-body: 413 (nothing kept past the limit)", got.startswith(b"HTTP/1.1 413"), got[:300])
        st, _, b = s.post("/v1/completions", req)
        check("the server still answers after the errors", st == 200, (st, b))
        log = s.stderr()
        check("access log: one line per request with method, path, status and tokens",
              "POST /v1/completions 200 prompt=" in log and "GET /v1/models 200" in log and "POST /v1/completions 413" in log,
              log[-2000:])
    finally:
        rc = s.stop()
    check("SIGTERM on an idle server: exit 0", rc == 0, (rc, s.stderr()[-500:]))


def scenario_chat(home):
    model = chat_model(os.path.join(home, "smol-chat"))
    s = Server(home, model, "--temp", "0")
    try:
        ref = generate(home, model, "What is a cat?", "--temp", "0", "--max-tokens", "10")
        req = {"model": "smol-chat", "messages": [{"role": "user", "content": "What is a cat?"}], "max_tokens": 10}
        st, _, b = s.post("/v1/chat/completions", req)
        ch = b["choices"][0] if st == 200 else {}
        check("chat: shape (chatcmpl-, chat.completion, message role assistant)",
              st == 200 and b["id"].startswith("chatcmpl-") and b["object"] == "chat.completion"
              and ch["message"]["role"] == "assistant" and ch["finish_reason"] in ("stop", "length"), b)
        check("chat at temperature 0 equals `ablab generate` in chat mode (the model's template)",
              ch.get("message", {}).get("content") == ref["text"] and ref["mode"] == "chat", (ch, ref["text"]))
        check("chat: usage counts the rendered prompt",
              b.get("usage", {}).get("prompt_tokens") == ref["metrics"]["n_prompt"]
              and b["usage"]["completion_tokens"] == ref["metrics"]["n_gen"], (b.get("usage"), ref["metrics"]))
        st, hd, ev = s.stream("/v1/chat/completions", dict(req, stream_options={"include_usage": True}))
        chunks = [json.loads(e) for e in ev[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        check("chat stream: first delta has role assistant, all chat.completion.chunk, [DONE] last",
              st == 200 and chunks[0]["choices"][0]["delta"].get("role") == "assistant"
              and all(c["object"] == "chat.completion.chunk" for c in chunks) and ev[-1] == "[DONE]", ev[:2])
        check("chat stream: the deltas are the same answer", text == ref["text"], (text, ref["text"]))
        fin = chunks[-2]["choices"][0]
        check("chat stream: final chunk has an empty delta and finish_reason; usage chunk last",
              fin["delta"] == {} and fin["finish_reason"] == ch.get("finish_reason") and chunks[-1]["usage"] == b["usage"],
              chunks[-2:])
        parts = {"model": "smol-chat", "max_tokens": 10,
                 "messages": [{"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "a cat?"}]}]}
        st, _, b2 = s.post("/v1/chat/completions", parts)
        check("chat: content as text parts reads as one text", st == 200 and b2["choices"][0]["message"]["content"] == ref["text"],
              b2)
        st, _, b3 = s.post("/v1/chat/completions", dict(req, messages=[{"role": "tool", "content": "x"}]))
        check("chat: a tool turn is refused naming messages[0].role",
              st == 400 and b3["error"]["param"] == "messages[0].role", b3)
        st, _, b4 = s.post("/v1/chat/completions", dict(req, messages=[]))
        check("chat: empty messages refused", st == 400 and b4["error"]["param"] == "messages", b4)
    finally:
        s.stop()


def scenario_api_key(home):
    s = Server(home, GPT2, "--max-body", "4096", env_extra={"ABLAB_SERVE_API_KEY": "s3cret-key"})
    try:
        body = {"model": "gpt2-mini", "prompt": "Hello", "max_tokens": 2}
        st, hd, out = s.request("POST", "/v1/completions", body)
        e = json.loads(out).get("error", {})
        check("no key: 401 invalid_api_key with WWW-Authenticate",
              st == 401 and e.get("code") == "invalid_api_key" and hd.get("www-authenticate") == "Bearer", (st, out))
        st, _, _ = s.request("GET", "/v1/models", headers={"Authorization": "Bearer wrong"})
        check("a wrong key: 401", st == 401, st)
        st, _, _ = s.request("GET", "/v1/models", headers={"Authorization": "Bearer s3cret-key"})
        st2, _, out = s.request("POST", "/v1/completions", body, headers={"Authorization": "Bearer s3cret-key"})
        check("the right key (ABLAB_SERVE_API_KEY): 200", st == 200 and st2 == 200, (st, st2, out))
        got = raw_request(s, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-key\r\n"
                             "Content-Length: 5002", b"{" + b" " * 5000 + b"}")
        check("--max-body 4096: a 5002-byte body gets 413", got.startswith(b"HTTP/1.1 413"), got[:300])
        st, _, _ = s.request("GET", "/health")
        check("/health needs no key", st == 200, st)
    finally:
        s.stop()
    check("the key never appears in the log", "s3cret-key" not in s.stderr() and "401" in s.stderr(), s.stderr()[-800:])


def open_stream(s, body, stall=False):
    """A raw socket with a streaming request sent and the first event read: the answer is running.
    stall: a client that then reads nothing, with a tiny receive buffer, so that the answer (written as
    the client takes it) stays running however fast the machine generates."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if stall:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.settimeout(30)
    sock.connect((s.host, s.port))
    data = json.dumps(dict(body, stream=True)).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(data) + data)
    got = b""
    while b"data: " not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return sock, got


def long_model(home):
    """The shipped scratch Llama with a context of 16384 (RoPE has no position table): an answer long
    enough that it is still being written when the next requests come, on any machine, since the
    client below stops reading and the server writes only as fast as the client takes."""
    src = os.path.join(MODELS, "scratch-shakespeare")
    dst = os.path.join(home, "long-ctx")
    if os.path.isdir(dst):
        return dst
    os.mkdir(dst)
    for f in os.listdir(src):
        if f != "config.json":
            os.symlink(os.path.join(src, f), os.path.join(dst, f))
    cfg = json.load(open(os.path.join(src, "config.json")))
    cfg["max_position_embeddings"] = 16384
    json.dump(cfg, open(os.path.join(dst, "config.json"), "w"))
    return dst


def scenario_queue_and_disconnect(home):
    s = Server(home, long_model(home), "--max-concurrent", "1", "--queue", "1", "--ctx", "16384")
    try:
        long_req = {"model": "long-ctx", "prompt": "The", "max_tokens": 16000, "temperature": 0.8, "seed": 1}
        a, got = open_stream(s, long_req, stall=True)
        check("a long stream starts (HTTP 200, first event)", got.startswith(b"HTTP/1.1 200") and b"data: " in got, got[:200])
        result = {}

        def queued():
            t0 = time.monotonic()
            result["resp"] = s.post("/v1/completions", {"model": "long-ctx", "prompt": "Hi", "max_tokens": 3}, timeout=120)
            result["t"] = time.monotonic() - t0

        th = threading.Thread(target=queued)
        th.start()
        time.sleep(1.0)
        check("the second request waits in the queue while the first writes", th.is_alive(), result)
        st, hd, b = s.post("/v1/completions", {"model": "long-ctx", "prompt": "Hi", "max_tokens": 3})
        check("a third request finds the queue full: 429 with Retry-After",
              st == 429 and hd.get("retry-after") == "1" and b["error"]["code"] == "rate_limit_exceeded", (st, hd, b))
        t_close = time.monotonic()
        a.close()  # the first client leaves mid-answer
        th.join(60)
        st, _, b = result.get("resp", (None, None, None))
        check("the client that left gave its place up: the queued request is answered at once",
              st == 200 and time.monotonic() - t_close < 10, (st, b, time.monotonic() - t_close))
        time.sleep(0.3)
        log = s.stderr()
        check("the server cancelled the abandoned answer (access log) well before its 16000 tokens",
              "client gone" in log and "completion=16000" not in log, log[-1500:])
    finally:
        s.stop()


def scenario_two_copies(home):
    s = Server(home, long_model(home), "--max-concurrent", "2", "--queue", "0", "--ctx", "16384")
    try:
        long_req = {"model": "long-ctx", "prompt": "The", "max_tokens": 16000, "temperature": 0.8, "seed": 3}
        a, got_a = open_stream(s, long_req, stall=True)
        b, got_b = open_stream(s, dict(long_req, seed=4), stall=True)
        check("--max-concurrent 2: two answers are written at once (both streams running)",
              got_a.startswith(b"HTTP/1.1 200") and got_b.startswith(b"HTTP/1.1 200") and b"data: " in got_a + got_b,
              (got_a[:100], got_b[:100]))
        st, hd, body = s.post("/v1/completions", dict(long_req, max_tokens=2))
        check("--queue 0: a third request is refused at once with 429", st == 429 and hd.get("retry-after") == "1", (st, body))
        a.close()
        b.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and s.stderr().count("client gone") < 2:
            time.sleep(0.1)
        check("both abandoned streams are cancelled", s.stderr().count("stream: client gone, answer cancelled") == 2,
              s.stderr()[-1000:])
        # a whole (not streamed) answer whose client leaves is cancelled too
        c = socket.create_connection((s.host, s.port), timeout=30)
        data = json.dumps(long_req).encode()
        c.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(data) + data)
        time.sleep(0.5)
        c.close()
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline:
            lines = [l for l in s.stderr().splitlines() if "client gone" in l]
            if len(lines) >= 3:
                break
            time.sleep(0.2)
        whole = [l for l in lines if "stream" not in l]
        check("a client that leaves a whole answer: cancelled at the next token (499 in the log, short of its 16000 tokens)",
              len(whole) == 1 and " 499 " in whole[0] and "completion=16000" not in whole[0], lines)
        st, _, _ = s.post("/v1/completions", dict(long_req, max_tokens=2))
        check("both copies are free again afterwards", st == 200, st)
    finally:
        s.stop()


def scenario_sigterm(home):
    s = Server(home, GPT2, "--ctx", "1024", "--grace", "0.5")
    a, got = open_stream(s, {"model": "gpt2-mini", "prompt": "The", "max_tokens": 1000, "temperature": 0.8, "seed": 2})
    t0 = time.monotonic()
    s.p.send_signal(signal.SIGTERM)
    rest = b""
    try:
        while True:
            chunk = a.recv(65536)
            if not chunk:
                break
            rest += chunk
    except OSError:
        pass
    a.close()
    rc = s.stop(timeout=30)
    took = time.monotonic() - t0
    check("SIGTERM mid-stream: the stream ends with an error event saying the server is shutting down",
          b"shutting down" in rest and b"[DONE]" not in rest, rest[-400:])
    check("SIGTERM mid-stream: exit status 0 within the grace time and a little", rc == 0 and took < 15, (rc, took))
    check("SIGTERM: the log says it shut down", "shutting down: 1 answer running" in s.stderr(), s.stderr()[-800:])
    # no one listens afterwards
    try:
        socket.create_connection((s.host, s.port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    check("after exit the port is closed", refused)


def scenario_cli(home):
    import subprocess
    from serve_util import BIN, isolated_env
    p = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, env=isolated_env(home))
    check("serve --help: usage with the options and sampling flags",
          p.returncode == 0 and p.stdout.startswith("usage: ablab serve") and "--max-concurrent" in p.stdout
          and "--api-key" in p.stdout and "--temp" in p.stdout, p.stdout[:300])
    p = subprocess.run([BIN, "serve"], capture_output=True, text=True, env=isolated_env(home))
    check("serve without --model: usage error (exit 2)", p.returncode == 2 and "--model" in p.stderr, p.stderr)
    s = Server(home, GPT2)
    try:
        p = subprocess.run([BIN, "serve", "--model", GPT2, "--port", str(s.port)], capture_output=True, text=True,
                           env=isolated_env(home), timeout=60)
        check("a port in use: exit 1 with one clear line", p.returncode == 1 and "Address already in use" in p.stderr
              and str(s.port) in p.stderr, p.stderr)
    finally:
        s.stop()


with tempfile.TemporaryDirectory() as home:
    for sc in (scenario_cli, scenario_completions, scenario_chat, scenario_api_key, scenario_queue_and_disconnect,
               scenario_two_copies, scenario_sigterm):
        print(f"# {sc.__name__}")
        try:
            sc(home)
        except Exception as ex:  # a scenario that crashes is a failure, with the reason
            import traceback
            check(f"{sc.__name__} ran to the end", False, traceback.format_exc())
bad = [(rc, sanitizer_report(err)) for rc, err in STOPPED if rc != 0 or sanitizer_report(err)]
check(f"every server ({len(STOPPED)}) exited 0 on SIGTERM with no sanitizer report", STOPPED and not bad, bad)
finish()
