"""An OpenAI-compatible server on 127.0.0.1 (port chosen by the OS) that misbehaves on purpose, for
the remote arm's tests. The first part of the path picks the behaviour: http://127.0.0.1:PORT/MODE/v1.

  ok          streams "Hello", ", ", "world" (one event each), finish_reason stop, usage, [DONE]
  chat        like ok on /chat/completions only; the text echoes the last user message
  echo        streams the request's JSON body back as the answer (to check the mapping)
  json        answers with one whole JSON completion (no stream)
  auth        401 unless "Authorization: Bearer sekrit"; then ok
  forbidden   403 always
  gone        lists model "m" but 404s every completion ("model does not exist")
  limited     429 Retry-After: 1 for the first two completions of the server's life, then ok
  limited0    429 Retry-After: 0 forever
  limitedlong 429 Retry-After: 120
  error500    500 with an OpenAI error body
  die         two events, then the connection is cut (no [DONE])
  badjson     one good event, then data that is not JSON
  garbage     200 text/event-stream whose body is HTML
  midevent    one good event, then a data line and the end of the stream (no blank line)
  errorevent  one good event, then a stream chunk carrying {"error": ...}
  stall       one event, then nothing for 60 s (the client's stall timeout must fire)
  slow        one event every 0.3 s, 40 of them (for cancelling)
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chunk(text=None, finish=None, chat=False, usage=None, model="m"):
    c = {"id": "cmpl-1", "object": "chat.completion.chunk" if chat else "text_completion", "model": model,
         "choices": []}
    if text is not None or finish is not None:
        ch = {"index": 0, "finish_reason": finish}
        if chat:
            ch["delta"] = {"content": text} if text is not None else {}
        else:
            ch["text"] = text if text is not None else ""
        c["choices"] = [ch]
    if usage:
        c["usage"] = usage
    return "data: " + json.dumps(c) + "\n\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def mode(self):
        parts = self.path.split("/")
        return parts[1] if len(parts) > 2 else ""

    def send_json(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def put(self, s):
        self.wfile.write(s.encode())
        self.wfile.flush()

    def do_GET(self):
        m = self.mode()
        if self.path.endswith("/v1/models"):
            if m == "auth" and self.headers.get("Authorization") != "Bearer sekrit":
                return self.send_json(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
            if m == "forbidden":
                return self.send_json(403, {"error": {"message": "this key may not use this server"}})
            return self.send_json(200, {"object": "list", "data": [{"id": "m", "object": "model"},
                                                                   {"id": "other-model", "object": "model"}]})
        self.send_json(404, {"error": {"message": "no route " + self.path}})

    def do_POST(self):
        m = self.mode()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        req = json.loads(raw)
        chat = self.path.endswith("/chat/completions")
        srv = self.server
        with srv.lock:
            srv.requests.append({"path": self.path, "body": req,
                                 "auth": self.headers.get("Authorization")})
        if m == "auth" and self.headers.get("Authorization") != "Bearer sekrit":
            return self.send_json(401, {"error": {"message": "Invalid API key"}})
        if m == "forbidden":
            return self.send_json(403, {"error": {"message": "forbidden"}})
        if m == "gone":
            return self.send_json(404, {"error": {"message": "The model `%s` does not exist." % req.get("model")}})
        if m == "limited":
            with srv.lock:
                srv.n429 += 1
                k = srv.n429
            if k <= 2:
                return self.send_json(429, {"error": {"message": "slow down"}}, [("Retry-After", "1")])
        if m == "limited0":
            return self.send_json(429, {"error": {"message": "rate limit reached"}}, [("Retry-After", "0")])
        if m == "limitedlong":
            return self.send_json(429, {"error": {"message": "quota"}}, [("Retry-After", "120")])
        if m == "error500":
            return self.send_json(500, {"error": {"message": "CUDA out of memory", "type": "server_error"}})
        if m == "chat" and not chat:
            return self.send_json(404, {"error": {"message": "only chat here"}})
        if m == "json":
            return self.send_json(200, {"object": "text_completion", "model": "m",
                                        "choices": [{"index": 0, "text": "whole answer", "finish_reason": "length"}],
                                        "usage": {"prompt_tokens": 4, "completion_tokens": 2}})
        self.start_stream()
        try:
            if m == "echo":
                self.put(chunk(json.dumps(req, sort_keys=True), None, chat))
                self.put(chunk(None, "stop", chat))
                self.put("data: [DONE]\n\n")
                return
            if m == "chat":
                last = [x for x in req["messages"] if x["role"] == "user"][-1]["content"]
                self.put(chunk("you said: ", None, True))
                self.put(chunk(last, "stop", True))
                self.put(chunk(None, None, True, {"prompt_tokens": 9, "completion_tokens": 2}))
                self.put("data: [DONE]\n\n")
                return
            if m in ("die", "badjson", "midevent", "errorevent", "stall", "garbage"):
                if m == "garbage":
                    self.put("<html><body>502 Bad Gateway</body></html>\n")
                    return
                self.put(": keep-alive\n\n")
                self.put(chunk("Partial", None, chat))
                self.put(chunk(" answer", None, chat))
                if m == "die":
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if m == "badjson":
                    self.put("data: {\"choices\": [{\"text\": oops}\n\n")
                elif m == "midevent":
                    self.put("data: {\"choices\": [{\"text\": \"x\"}]}\n")
                elif m == "errorevent":
                    self.put("data: " + json.dumps({"error": {"message": "the model crashed", "code": 500}}) + "\n\n")
                elif m == "stall":
                    time.sleep(60)
                return
            if m == "slow":
                for i in range(40):
                    self.put(chunk("tick%d " % i, None, chat))
                    time.sleep(0.3)
                self.put(chunk(None, "length", chat))
                self.put("data: [DONE]\n\n")
                return
            # ok, auth, limited
            for t in ("Hello", ", ", "world"):
                self.put(chunk(t, None, chat))
            self.put(chunk(None, "stop", chat))
            self.put(chunk(None, None, chat, {"prompt_tokens": 3, "completion_tokens": 3}))
            self.put("data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = []
        self.n429 = 0

    def url(self, mode):
        return "http://127.0.0.1:%d/%s/v1" % (self.server_address[1], mode)


def start():
    s = Server()
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def closed_port():
    """A port on 127.0.0.1 where nothing listens (bound by the OS, then closed)."""
    so = socket.socket()
    so.bind(("127.0.0.1", 0))
    p = so.getsockname()[1]
    so.close()
    return p


if __name__ == "__main__":  # a standing server for trying things by hand
    s = start()
    print(s.url("ok"), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.exit(0)
