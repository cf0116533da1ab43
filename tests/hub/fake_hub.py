#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub, for `ablab pull`'s tests: it lays out folders the way
the hub does, on 127.0.0.1 at a port the OS picks (printed as the first line of stdout).

  GET /api/models/OWNER/NAME/tree/REV     JSON array of {type, oid, size, path, lfs: {oid, size,
                                          pointerSize}} (lfs for *.safetensors, *.gguf, *.bin, *.model)
  GET /api/models/OWNER/NAME/revision/REV {id, sha, siblings: [{rfilename}]}
  GET|HEAD /OWNER/NAME/resolve/REV/FILE   a small file: 200 with ETag "GIT-SHA1" and X-Repo-Commit;
                                          an LFS file: 302 to /lfs-storage/SHA256 carrying
                                          X-Linked-Etag "SHA256", X-Linked-Size, ETag, X-Repo-Commit
  GET /lfs-storage/SHA256                 the bytes; honours `Range: bytes=N-` with a 206
Errors as the hub sends them (X-Error-Code): an unknown repository 401 RepoNotFound, an unknown
revision 404 RevisionNotFound, a missing file 404 EntryNotFound, a gated repository 401 GatedRepo
without a token and 403 GatedRepo with a wrong one.

Faults on purpose: --drop-after N (the first transfer of each LFS file stops after N bytes and the
connection is closed), --corrupt FILE (that file's bytes are served with one byte flipped; the
listing keeps the true sha256), --list-size FILE=BYTES (the listing claims another size),
--ignore-range (a server without range support: the whole file again with a 200). Every request is appended to --log as a JSON line."""
import argparse, fnmatch, hashlib, http.server, json, os, socketserver, sys, threading, urllib.parse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_GLOBS = ["*.safetensors", "*.gguf", "*.bin", "*.model"]

ap = argparse.ArgumentParser()
ap.add_argument("--repo", action="append", default=[], help="OWNER/NAME=FOLDER")
ap.add_argument("--gated", action="append", default=[], help="OWNER/NAME that needs --token")
ap.add_argument("--token", default="hf_test_token")
ap.add_argument("--drop-after", type=int, default=0)
ap.add_argument("--corrupt", action="append", default=[])
ap.add_argument("--log", default=None)
ap.add_argument("--ignore-range", action="store_true", help="answer a Range request with the whole file (200)")
ap.add_argument("--list-size", action="append", default=[], help="FILE=BYTES: the listing claims this size")
args = ap.parse_args()

repos = {}
for spec in args.repo:
    name, folder = spec.split("=", 1)
    files = {}
    for f in sorted(os.listdir(folder)):
        p = os.path.join(folder, f)
        if not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        lfs = any(fnmatch.fnmatch(f, g) for g in LFS_GLOBS)
        files[f] = {"data": data, "lfs": lfs, "sha256": hashlib.sha256(data).hexdigest(),
                    "git": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
    repos[name] = files
by_sha = {}
for files in repos.values():
    for f, v in files.items():
        by_sha[v["sha256"]] = (f, v)
served = set()          # LFS files already sent once (--drop-after applies to the first transfer)
lock = threading.Lock()


def log(entry):
    if args.log:
        with lock, open(args.log, "a") as fh:
            fh.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", headers=None, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, xcode, msg):
        self.send(code, json.dumps({"error": msg}).encode(), {"X-Error-Code": xcode})

    def repo_access(self, name):
        """None if the request may read repository `name`, else it has answered."""
        if name not in repos:
            self.error(401, "RepoNotFound", "Repository not found")
            return False
        if name in args.gated:
            auth = self.headers.get("Authorization")
            if not auth:
                self.error(401, "GatedRepo", "Access to model %s is restricted. You must have access to it and be authenticated." % name)
                return False
            if auth != "Bearer " + args.token:
                self.error(403, "GatedRepo", "Access to model %s is restricted and you are not in the authorized list." % name)
                return False
        return True

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        log({"method": self.command, "path": path, "range": self.headers.get("Range"),
             "auth": self.headers.get("Authorization") is not None})
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] in ("tree", "revision"):
            name, kind, rev = parts[2] + "/" + parts[3], parts[4], "/".join(parts[5:])
            if not self.repo_access(name):
                return
            if rev not in ("main", COMMIT):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            files = repos[name]
            if kind == "revision":
                body = {"id": name, "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}
            else:
                body = []
                for f, v in files.items():
                    size = len(v["data"])
                    for ls in args.list_size:
                        if ls.split("=")[0] == f:
                            size = int(ls.split("=")[1])
                    e = {"type": "file", "oid": v["git"], "size": size, "path": f}
                    if v["lfs"]:
                        e["lfs"] = {"oid": v["sha256"], "size": size, "pointerSize": 134}
                    body.append(e)
            return self.send(200, json.dumps(body).encode())
        if len(parts) >= 5 and parts[2] == "resolve":
            name, rev, fname = parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:])
            if not self.repo_access(name):
                return
            if rev not in ("main", COMMIT):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            v = repos[name].get(fname)
            if v is None:
                return self.error(404, "EntryNotFound", "Entry not found")
            common = {"X-Repo-Commit": COMMIT}
            if v["lfs"]:
                return self.send(302, b"", dict(common, **{
                    "Location": "/lfs-storage/" + v["sha256"] + "?name=" + urllib.parse.quote(fname),
                    "X-Linked-Etag": '"%s"' % v["sha256"], "X-Linked-Size": str(len(v["data"])),
                    "ETag": '"%s"' % v["sha256"]}))
            return self.send(200, self.content(fname, v), dict(common, ETag='"%s"' % v["git"]), "text/plain")
        if len(parts) == 2 and parts[0] == "lfs-storage" and parts[1] in by_sha:
            fname, v = by_sha[parts[1]]
            data = self.content(fname, v)
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-") and not args.ignore_range:
                start = int(rng[6:-1])
                if start >= len(data):
                    return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            with lock:
                first = parts[1] not in served
                served.add(parts[1])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"%s"' % v["sha256"])
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if first and args.drop_after and args.drop_after < len(body):
                self.wfile.write(body[:args.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)
            return
        self.error(404, "EntryNotFound", "not found: " + path)

    def content(self, fname, v):
        data = v["data"]
        if fname in args.corrupt and data:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
        return data


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
