"""Shared by the ablab serve tests: start `ablab serve --port 0` on the shipped models, learn its
address from the line it prints, talk to it with http.client, parse server-sent events."""
import http.client, json, os, shutil, subprocess, tempfile, time, urllib.parse

from chat_models import chat_model  # noqa: F401  (the serve tests take it from here)

BIN = os.environ["ABLAB_BIN"]
MODELS = os.path.join(os.environ["ABLAB_ASSETS"], "models")
GPT2 = os.path.join(MODELS, "gpt2-mini")
REF = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "chat")


def isolated_env(home, extra=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("ABLAB_") and k not in ("ABLAB_BIN", "ABLAB_ASSETS", "ABLAB_SRC"):
            del env[k]
    env.update({"XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home, "XDG_STATE_HOME": home, "HOME": home})
    env.update(extra or {})
    return env


STOPPED = []  # (exit status, stderr) of every server stopped: the tests check none crashed or leaked


class Server:
    """`ablab serve` on a free port; stderr (the access log) goes to a file."""

    def __init__(self, home, model, *args, env_extra=None):
        self.log_path = os.path.join(home, f"serve-{time.monotonic_ns()}.log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([BIN, "serve", "--model", model, "--port", "0", "--threads", "1", *args],
                                  stdout=subprocess.PIPE, stderr=self.log, text=True,
                                  env=isolated_env(home, env_extra))
        line = self.p.stdout.readline()  # "ablab serve: serving ID at http://127.0.0.1:PORT/v1"
        if " at http://" not in line:
            self.p.kill()
            raise RuntimeError(f"ablab serve did not start: {line!r}\n{self.stderr()}")
        self.model_id = line.split("serving ", 1)[1].split(" at ")[0]
        self.url = line.strip().rsplit(" at ", 1)[1]
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        return open(self.log_path).read()

    def conn(self, timeout=60):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=None, timeout=60):
        """(status, headers dict lower-case, body bytes)."""
        c = self.conn(timeout)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = r.read()
        hd = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hd, out

    def post(self, path, body, **kw):
        status, hd, out = self.request("POST", path, body, **kw)
        try:
            return status, hd, json.loads(out)
        except ValueError:
            return status, hd, out

    def stream(self, path, body, headers=None, timeout=60):
        """POSTs with stream: true; returns (status, headers, [event data strings])."""
        status, hd, out = self.request("POST", path, dict(body, stream=True), headers=headers, timeout=timeout)
        return status, hd, sse_events(out.decode())

    def stop(self, sig=15, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        self.p.stdout.close()
        self.log.close()
        STOPPED.append((rc, self.stderr()))
        return rc


def raw_request(s, head, body=b"", timeout=30):
    """Sends head (request line and headers, CRLF-separated, no blank line) and body on a raw socket
    and returns what comes back until the server closes or times out: for a server that answers
    before reading the body (413 on Content-Length), which http.client cannot send."""
    import socket
    sock = socket.create_connection((s.host, s.port), timeout=timeout)
    sock.sendall(head.encode() + b"\r\n\r\n" + body)
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    sock.close()
    return got


def sanitizer_report(text):
    """The first line of an AddressSanitizer / UBSan / LeakSanitizer report in text, or None."""
    for line in text.splitlines():
        if "Sanitizer" in line or "runtime error:" in line:
            return line
    return None


def sse_events(text):
    """The data of each event ("data: X" lines, events split by a blank line)."""
    events = []
    for block in text.split("\n\n"):
        lines = [l[6:] if l.startswith("data: ") else l[5:] for l in block.split("\n") if l.startswith("data:")]
        if lines:
            events.append("\n".join(lines))
    return events


def generate(home, model, prompt, *args):
    """`ablab generate --json` with the same settings: the reference a temperature 0 answer must match."""
    p = subprocess.run([BIN, "generate", "--model", model, "--prompt", prompt, "--json", "--threads", "1", *args],
                       capture_output=True, text=True, timeout=120, env=isolated_env(home))
    if p.returncode != 0:
        raise RuntimeError(f"ablab generate failed: {p.stderr}")
    return json.loads(p.stdout)


def npm_available():
    return shutil.which("npm") is not None and shutil.which("node") is not None
