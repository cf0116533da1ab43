#!/usr/bin/env python3
"""`ablab pull` (issue 20) against tests/hub/fake_hub.py, a local server that lays the shipped
gpt2-mini out as the hub does (tree API, resolve URLs, redirects to LFS storage with X-Linked-Etag /
X-Linked-Size / ETag). Checks: only the files ablab loads come; an interrupted download leaves a
.part and no final file, and the next run resumes with a Range request and finishes with the right
sha256; the pulled folder generates exactly what the original does; a corrupt file is rejected by its
sha256 and deleted; unknown repository / revision, a gated repository with and without HF_TOKEN, an
unresolvable host and a refused connection each give their own clear message; a GGUF-only repository
gets one GGUF (Q4_K_M by default, said so; another by --include)."""
import hashlib, json, os, shutil, subprocess, sys, tempfile, time

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
ASSETS = os.environ["ABLAB_ASSETS"]
SRC = os.path.join(ASSETS, "models", "gpt2-mini")
HUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_hub.py")
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # fake_hub.py's
LOADED = ["config.json", "generation_config.json", "merges.txt", "model.safetensors", "tokenizer.json",
          "tokenizer_config.json", "vocab.json"]


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


class Hub:
    def __init__(self, tmp, *extra):
        self.log = os.path.join(tmp, "hub-%d.jsonl" % time.monotonic_ns())
        self.p = subprocess.Popen([sys.executable, HUB, "--log", self.log, *extra], stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())
        self.url = "http://127.0.0.1:%d" % self.port

    def requests(self):
        if not os.path.exists(self.log):
            return []
        return [json.loads(l) for l in open(self.log)]

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def run(env, *args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


def generate(env, model):
    return run(env, "generate", "--model", model, "--prompt", "Once upon a time", "--greedy", "--max-tokens", "12")


with tempfile.TemporaryDirectory() as tmp:
    base = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=os.path.join(tmp, "data"), XDG_STATE_HOME=tmp)
    base.pop("HF_TOKEN", None)
    repo = "ablab-test/gpt2-mini"

    # 1. interrupted after 1 MB of the weights, then resumed
    hub = Hub(tmp, "--repo", repo + "=" + SRC, "--drop-after", "1000000")
    env = dict(base, HF_ENDPOINT=hub.url)
    dest = os.path.join(tmp, "data", "ablab", "models", "ablab-test", "gpt2-mini")
    rc, out, err = run(env, "pull", repo)
    check("a dropped connection fails the pull", rc == 1, err)
    check("... saying where it stopped and that running again resumes",
          "stopped after 1000000 of 15383976 bytes" in err and "run the same command again to resume" in err, err)
    check("... leaving model.safetensors.part of what came, and no model.safetensors",
          os.path.exists(os.path.join(dest, "model.safetensors.part")) and not os.path.exists(os.path.join(dest, "model.safetensors"))
          and os.path.getsize(os.path.join(dest, "model.safetensors.part")) == 1000000, os.listdir(dest) if os.path.isdir(dest) else dest)
    check("... and no record of a finished pull", not os.path.exists(os.path.join(dest, "ablab-pull.json")))
    rc, out, err = run(env, "pull", repo)
    check("the second run finishes", rc == 0, err)
    check("... into $XDG_DATA_HOME/ablab/models/REPO (printed on stdout)", out.strip() == dest, out)
    ranges = [r["range"] for r in hub.requests() if r["path"].startswith("/lfs-storage/")]
    check("... resuming with Range: bytes=1000000-", ranges == [None, "bytes=1000000-"], ranges)
    check("... and says it resumed and checked the sha256", "resumed after 1.0 MB" in err and "sha256 ok" in err, err)
    got = sorted(f for f in os.listdir(dest))
    check("only the files ablab loads come (no MODEL_CARD.md), no .part left",
          got == sorted(LOADED + ["ablab-pull.json"]), got)
    check("every pulled file is byte-identical to the hub's",
          all(sha(os.path.join(dest, f)) == sha(os.path.join(SRC, f)) for f in LOADED))
    rec = json.load(open(os.path.join(dest, "ablab-pull.json")))
    resolves = [r["path"] for r in hub.requests() if "/resolve/" in r["path"]]
    check("every file comes from the commit 'main' named when the pull began (one snapshot)",
          resolves and all(p.startswith("/%s/resolve/%s/" % (repo, COMMIT)) for p in resolves), resolves)
    check("the record names repo, revision, commit and each file's sha256",
          rec["repo"] == repo and rec["revision"] == "main" and rec["commit"] == COMMIT and
          any(f["path"] == "model.safetensors" and f["sha256"] == sha(os.path.join(SRC, "model.safetensors")) for f in rec["files"]), rec)
    r1, o1, e1 = generate(env, SRC)
    r2, o2, e2 = generate(env, dest)
    check("the pulled folder generates exactly what the original does", r1 == 0 and r2 == 0 and o1 == o2 and o1.strip(), (o1, o2, e1, e2))
    n_before = len(hub.requests())
    rc, out, err = run(env, "pull", repo)
    later = hub.requests()[n_before:]
    check("a third run downloads nothing", rc == 0 and "already here" in err and
          not any(r["path"].startswith("/lfs-storage/") or "/resolve/" in r["path"] for r in later), (err, later))

    hub.stop()

    # 1b. a new revision whose files have the old sizes: what changed comes again, the rest stays
    v2 = os.path.join(tmp, "v2")
    shutil.copytree(SRC, v2)
    cfg = open(os.path.join(v2, "config.json")).read()
    open(os.path.join(v2, "config.json"), "w").write(cfg.replace("gpt2", "GPT2", 1))
    w = bytearray(open(os.path.join(v2, "model.safetensors"), "rb").read())
    w[len(w) // 2] ^= 1
    open(os.path.join(v2, "model.safetensors"), "wb").write(bytes(w))
    hub = Hub(tmp, "--repo", repo + "=" + v2)
    env = dict(base, HF_ENDPOINT=hub.url)
    rc, out, err = run(env, "pull", repo)
    fetched = sorted(r["path"].rsplit("/", 1)[1] for r in hub.requests() if "/resolve/" in r["path"])
    check("a new revision with same-size files: exactly the changed ones come again",
          rc == 0 and fetched == ["config.json", "model.safetensors"], (fetched, err))
    check("... and the folder holds the new revision",
          all(sha(os.path.join(dest, f)) == sha(os.path.join(v2, f)) for f in LOADED), err)
    os.unlink(os.path.join(dest, "ablab-pull.json"))
    n_before = len(hub.requests())
    rc, out, err = run(env, "pull", repo)
    fetched = sorted(r["path"].rsplit("/", 1)[1] for r in hub.requests()[n_before:] if "/resolve/" in r["path"])
    check("without the record: the weights are kept after hashing them, small files come again",
          rc == 0 and "model.safetensors" not in fetched and "config.json" in fetched, (fetched, err))

    # 2. errors from the hub
    rc, out, err = run(env, "pull", "ablab-test/no-such-model")
    check("an unknown repository: not found, and HF_TOKEN named for a private one",
          rc == 1 and "ablab-test/no-such-model: not found" in err and "HF_TOKEN" in err, err)
    rc, out, err = run(env, "pull", repo + "@v9")
    check("an unknown revision says so", rc == 1 and "has no revision 'v9'" in err, err)
    rc, out, err = run(env, "pull", repo, "--include", "*.onnx", "--dir", os.path.join(tmp, "x"))
    check("--include matching nothing lists what there is", rc == 1 and "'*.onnx' matches no file" in err and "model.safetensors" in err, err)
    rc, out, err = run(env, "pull", "../evil")
    check("a repository name that climbs out of the models folder is refused", rc == 2 and "not a repository name" in err, err)
    hub.stop()

    # 3. a corrupt download is rejected by its sha256 and deleted
    hub = Hub(tmp, "--repo", repo + "=" + SRC, "--corrupt", "model.safetensors")
    env = dict(base, HF_ENDPOINT=hub.url)
    bad = os.path.join(tmp, "bad")
    rc, out, err = run(env, "pull", repo, "--dir", bad)
    check("a corrupt file fails the pull with a sha256 mismatch", rc == 1 and "model.safetensors: sha256 mismatch" in err
          and sha(os.path.join(SRC, "model.safetensors")) in err, err)
    check("... and neither model.safetensors nor its .part is left",
          not os.path.exists(os.path.join(bad, "model.safetensors")) and not os.path.exists(os.path.join(bad, "model.safetensors.part"))
          and not os.path.exists(os.path.join(bad, "ablab-pull.json")), os.listdir(bad))
    hub.stop()

    # 3a. a server that ignores Range: the whole file comes again and replaces the part
    hub = Hub(tmp, "--repo", repo + "=" + SRC, "--drop-after", "1000000", "--ignore-range")
    env = dict(base, HF_ENDPOINT=hub.url)
    nr = os.path.join(tmp, "norange")
    rc1, _, err1 = run(env, "pull", repo, "--dir", nr)
    rc, out, err = run(env, "pull", repo, "--dir", nr)
    check("a server that ignores Range: the second run starts the file over and ends right",
          rc1 == 1 and rc == 0 and sha(os.path.join(nr, "model.safetensors")) == sha(os.path.join(SRC, "model.safetensors"))
          and "resumed" not in err and "model.safetensors" in err, err1 + err)
    hub.stop()

    # 3b. more than the disk holds: refused before the first byte
    hub = Hub(tmp, "--repo", repo + "=" + SRC, "--list-size", "model.safetensors=900000000000000000")
    env = dict(base, HF_ENDPOINT=hub.url)
    full = os.path.join(tmp, "full")
    rc, out, err = run(env, "pull", repo, "--dir", full)
    check("a pull larger than the free space stops before downloading, saying how much is needed",
          rc == 1 and "not enough disk space" in err and "the pull needs 900000000.0" in err and not any(
              "/resolve/" in r["path"] for r in hub.requests()), err)
    hub.stop()

    # 4. a gated repository
    hub = Hub(tmp, "--repo", repo + "=" + SRC, "--gated", repo, "--token", "hf_secret")
    env = dict(base, HF_ENDPOINT=hub.url)
    rc, out, err = run(env, "pull", repo, "--dir", os.path.join(tmp, "g"))
    check("a gated repository without a token: says gated, names HF_TOKEN", rc == 1 and "is gated" in err and "HF_TOKEN" in err, err)
    rc, out, err = run(dict(env, HF_TOKEN="hf_wrong"), "pull", repo, "--dir", os.path.join(tmp, "g"))
    check("... with a token that has no access: says so", rc == 1 and "HF_TOKEN's account has no access" in err, err)
    rc, out, err = run(dict(env, HF_TOKEN="hf_secret"), "pull", repo, "--dir", os.path.join(tmp, "g"))
    check("... with HF_TOKEN it pulls (sent as a Bearer token)", rc == 0 and
          sha(os.path.join(tmp, "g", "model.safetensors")) == sha(os.path.join(SRC, "model.safetensors")), err)
    check("... and the token never appears in the output", "hf_secret" not in err + out)
    hub.stop()

    # 5. offline
    rc, out, err = run(dict(base, HF_ENDPOINT="http://ablab-pull-test.invalid"), "pull", repo, "--dir", os.path.join(tmp, "o"))
    check("an unresolvable host: 'cannot resolve', 'offline'", rc == 1 and "cannot resolve ablab-pull-test.invalid" in err
          and "offline" in err, err)
    rc, out, err = run(dict(base, HF_ENDPOINT=hub.url), "pull", repo, "--dir", os.path.join(tmp, "o"))
    check("a refused connection: 'cannot connect'", rc == 1 and "cannot connect to 127.0.0.1:%d" % hub.port in err, err)

    # 6. a repository of GGUF files only: one is chosen
    gg = os.path.join(tmp, "gguf-repo")
    os.mkdir(gg)
    for n, content in [("tiny-Q4_K_M.gguf", b"GGUF-q4"), ("tiny-Q8_0.gguf", b"GGUF-q8"), ("tiny-F16.gguf", b"GGUF-f16"),
                       ("README.md", b"# card")]:
        open(os.path.join(gg, n), "wb").write(content)
    hub = Hub(tmp, "--repo", "ablab-test/tiny-GGUF=" + gg)
    env = dict(base, HF_ENDPOINT=hub.url)
    rc, out, err = run(env, "pull", "ablab-test/tiny-GGUF", "--dir", os.path.join(tmp, "g1"))
    check("a GGUF-only repository: the Q4_K_M one, and it says which and how to pick another",
          rc == 0 and sorted(os.listdir(os.path.join(tmp, "g1"))) == ["ablab-pull.json", "tiny-Q4_K_M.gguf"]
          and "taking tiny-Q4_K_M.gguf" in err and "--include" in err, (err, os.listdir(os.path.join(tmp, "g1"))))
    rc, out, err = run(env, "pull", "ablab-test/tiny-GGUF", "--include", "*Q8_0.gguf", "--dir", os.path.join(tmp, "g2"))
    check("--include picks another", rc == 0 and sorted(os.listdir(os.path.join(tmp, "g2"))) == ["ablab-pull.json", "tiny-Q8_0.gguf"],
          (err, os.listdir(os.path.join(tmp, "g2"))))
    hub.stop()

finish()
