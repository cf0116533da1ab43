#!/usr/bin/env python3
"""Remote arms in the lab, in tmux with the real binary (issue 20's done-when):
  study   a blind study with arm A local (scratch-shakespeare) and arm B remote (`ablab serve` of
          gpt2-mini on another port): nothing tells the arms apart before the vote, both are named
          after it (B as remote, memory unknown), and the record holds both arms' answers with
          their metrics (B's measured on the client; its model row the URL and the served id);
  cancel  Esc while a remote answer streams slowly (the misbehaving server's `slow` mode) stops it
          at once: the pane shows the stop within a second, the answer so far is recorded as
          cancelled, and the server sees the connection go.
Usage: test_remote_study_tmux.py [SCENARIO ...]. Exit 77 = skipped."""
import os, re, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ui"))
sys.path.insert(0, HERE)
import test_tmux as T  # noqa: E402  (skips with 77 when tmux, sqlite3 or the models are missing)
import fault_server  # noqa: E402
from checks import check, finish  # noqa: E402

Tmux, sql = T.Tmux, T.sql
LOCAL = T.SLOW_A                       # scratch-shakespeare
SERVED = T.SLOW_B                      # gpt2-mini, behind `ablab serve`


def start_serve(home):
    """`ablab serve` on a port the OS picks; returns (process, base URL)."""
    p = subprocess.Popen([T.BIN, "serve", "--model", SERVED, "--port", "0", "--threads", "1"],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(home, "serve.log"), "w"), text=True,
                         env=dict(os.environ, XDG_STATE_HOME=os.path.join(home, "serve-state")))
    line = p.stdout.readline()
    m = re.search(r"(http://\S+/v1)", line)
    if not m:
        p.kill()
        raise RuntimeError(f"ablab serve did not say where it serves: {line!r}")
    return p, m.group(1)


def scenario_study(home):
    serve, url = start_serve(home)
    port = url.split(":")[2].split("/")[0]
    remote_name = f"gpt2-mini @ 127.0.0.1:{port}"
    db = os.path.join(home, "study.db")
    prompts = os.path.join(home, "two.txt")
    with open(prompts, "w") as f:
        f.write("To be, or not to be\nROMEO:\n")
    err = os.path.join(home, "stderr.log")
    names = ["scratch-shakespeare", "gpt2-mini", "127.0.0.1"]
    try:
        with Tmux(home, 160, 50) as tm:
            tm.run(" ".join([T.BIN, "study", "--a", LOCAL, "--b", url, "--db", db, "--threads", "2",
                             "--max-tokens", "24", "--prompts", prompts, "--blind", "--participant", "p1",
                             "2>>" + err]))
            s = tm.wait(lambda s: "I agree" in s, 90, "the study's start screen")
            check("study: the start screen names neither arm", not any(n in s for n in names), s)
            tm.type("y")
            for k in (1, 2):
                frames = []
                deadline = time.time() + 120
                while time.time() < deadline:
                    s = tm.screen()
                    frames.append(s)
                    if "Which answer is better?" in s and "answering…" not in s:
                        break
                    time.sleep(0.02)
                told = [fr for fr in frames if any(n in fr for n in names) or "tok/s" in fr or "remote" in fr]
                check(f"study {k}: no frame before the vote names an arm or says which is remote ({len(frames)} frames)",
                      not told and "Which answer is better?" in s, told[:1] or s)
                tm.type("a")
                s = tm.wait_text("Saved: A is better.", 30)
                check(f"study {k}: after the vote both arms are named, B as the served model at its port",
                      "scratch-shakespeare" in s and remote_name in s, s)
                check(f"study {k}: the local arm's memory shows, the remote arm's is unknown",
                      "MiB" in s and "remote, mem unknown" in s and s.count("tok/s") == 2, s)
                tm.keys("Enter")
                tm.wait(lambda s: "Saved: A is better." not in s, 30, "the next prompt")
            tm.wait_text("Thank you", 60)
            tm.keys("Enter")
            check("study: ends cleanly", tm.exit_code() == 0)
    finally:
        serve.terminate()
        serve.wait(10)
    rows = sql(db, "SELECT r.slot, m.format, m.path, m.name, r.n_gen, r.ttft_ms > 0, r.decode_tok_s > 0, r.total_ms > 0, "
                   "r.bytes_weights_mapped + r.bytes_weights_owned > 0, r.peak_rss > 0, r.stop_reason, length(r.output) > 0 "
                   "FROM responses r JOIN models m ON m.id = r.model_id JOIN pairs p ON p.id = r.pair_id "
                   "JOIN sessions s ON s.id = p.session_id WHERE s.kind = 'study' ORDER BY p.id, r.slot").splitlines()
    v = [r.split("|") for r in rows]
    check("record: two pairs, each with a local and a remote answer", [x[0] for x in v] == ["0", "1", "0", "1"], rows)
    loc = [x for x in v if x[0] == "0"]
    rem = [x for x in v if x[0] == "1"]
    check("record: the local answers with their metrics (tokens, TTFT, tok/s, total, memory)",
          all(int(x[4]) > 0 and x[5:10] == ["1"] * 5 and x[11] == "1" for x in loc), loc)
    check("record: the remote answers with the client's metrics (tokens from usage, TTFT, tok/s, total)",
          all(int(x[4]) > 0 and x[5:8] == ["1"] * 3 and x[11] == "1" and x[10] in ("eos", "length") for x in rem), rem)
    check("record: B's model row is remote: its URL and served model id (path), 'MODEL @ HOST:PORT' (name)",
          all(x[1] == "remote" and x[2] == url + "#gpt2-mini" and x[3] == remote_name for x in rem), rem)
    check("record: B's memory is not claimed (0 with the model row saying remote)", all(x[8:10] == ["0", "0"] for x in rem), rem)
    votes = sql(db, "SELECT count(*) FROM ratings")
    check("record: both votes", votes == "2", votes)
    served = open(os.path.join(home, "serve.log"), errors="replace").read()
    check("serve: the server wrote both answers (its access log has two completions)",
          served.count("/v1/completions") >= 2, served[-500:])


def scenario_cancel(home):
    srv = fault_server.start()
    db = os.path.join(home, "cancel.db")
    err = os.path.join(home, "stderr.log")
    try:
        with Tmux(home, 160, 50) as tm:
            tm.run(" ".join([T.BIN, "--a", LOCAL, "--b", srv.url("slow"), "--db", db, "--threads", "2",
                             "--max-tokens", "8", "2>>" + err]))
            tm.ask("Once upon a time")
            tm.wait_text("tick2", 30)
            n_before = len(srv.requests)
            t0 = time.time()
            tm.keys("Escape")
            s = tm.wait(lambda s: "tick2" in s and ("Which answer is better?" in s or "cannot be rated" in s), 10,
                        "the answers to stop")
            dt = time.time() - t0
            check(f"cancel: Esc stops the remote answer at once ({dt * 1000:.0f} ms; the server had 10 s to go)",
                  dt < 1.5, (dt, s))
            m = re.findall(r"tick(\d+)", s)
            check("cancel: what streamed stays on screen", m and int(m[-1]) < 39, s)
            tm.keys("C-q")
            check("cancel: quits cleanly", tm.exit_code() == 0)
        row = sql(db, "SELECT r.stop_reason || '|' || (r.output LIKE 'tick0 tick1 tick2%') FROM responses r WHERE r.slot = 1")
        check("cancel: the remote answer so far is recorded, stop reason cancel", row == "cancel|1", row)
        check("cancel: one request, not retried", len(srv.requests) == n_before, len(srv.requests))
    finally:
        srv.shutdown()


SCENARIOS = {"study": scenario_study, "cancel": scenario_cancel}
if __name__ == "__main__":
    for name in sys.argv[1:] or list(SCENARIOS):
        with tempfile.TemporaryDirectory() as home:
            try:
                SCENARIOS[name](home)
            except TimeoutError as ex:
                check(f"{name}: {str(ex).splitlines()[0]}", False, str(ex)[-3000:])
    finish()
