#!/usr/bin/env python3
"""A LoRA adapter as an arm with the real binary: `ablab run` with A = the golden llama in F32 and
B = the same base converted to Q8_0 with a PEFT adapter beside it (--b-quant q8_0 --b-lora DIR:0.5)
records B as its own model whose row names the adapter, its sha256 and scale, so every response of
B carries them; `ablab inspect` shows the adapter kept unmerged; a refused adapter stores nothing."""
import hashlib, json, os, sqlite3, subprocess, tempfile

from checks import check, finish, need_shared

BIN = os.environ["ABLAB_BIN"]
(BASE,) = need_shared("golden/llama-tiny-gqa")
ADAPTER = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "peft", "llama-lora")
SHA = hashlib.sha256(open(os.path.join(ADAPTER, "adapter_model.safetensors"), "rb").read()).hexdigest()

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)
    db = os.path.join(tmp, "lab.db")
    prompts = os.path.join(tmp, "prompts.txt")
    with open(prompts, "w") as f:
        f.write("Once upon a time\nThe little dog\n")

    def ablab(*args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=120)

    p = ablab("run", "--a", BASE, "--b", BASE, "--b-quant", "q8_0", "--b-lora", ADAPTER + ":0.5",
              "--prompts", prompts, "--max-tokens", "8", "--seed", "3", "--db", db)
    check("run with a Q8_0 base + adapter exits 0", p.returncode == 0, p.stderr)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT r.slot, m.dtype, m.adapters FROM responses r JOIN models m ON m.id = r.model_id "
                       "ORDER BY r.id").fetchall()
    check("4 responses", len(rows) == 4, rows)
    a_rows = [r for r in rows if r[0] == 0]
    b_rows = [r for r in rows if r[0] == 1]
    check("A is the plain F32 base", all(r[1] == "f32" and r[2] == "" for r in a_rows), a_rows)
    ok = True
    for r in b_rows:
        ads = json.loads(r[2]) if r[2] else []
        ok = ok and r[1] == "q8_0" and len(ads) == 1 and ads[0]["name"] == "llama-lora" and ads[0]["sha256"] == SHA \
            and ads[0]["scale"] == 0.5 and abs(ads[0]["effective_scale"] - 1.0) < 1e-6 and ads[0]["format"] == "peft"
    check("every B response records the adapter's name, sha256 and scale", ok, b_rows)
    check("base and base + adapter are two models",
          con.execute("SELECT count(DISTINCT model_id) FROM responses").fetchone()[0] == 2)
    names = [r[0] for r in con.execute("SELECT name FROM sessions")]
    check("the session's name says B's type and adapter",
          names == [f"run:prompts.txt:{os.path.basename(BASE)}:{os.path.basename(BASE)}@q8_0+llama-lora:0.5"], names)
    # the same command with another scale is another arm: its own session, not a resume of the first
    p = ablab("run", "--a", BASE, "--b", BASE, "--b-quant", "q8_0", "--b-lora", ADAPTER + ":1",
              "--prompts", prompts, "--max-tokens", "8", "--seed", "3", "--db", db)
    check("another adapter scale starts a session of its own", p.returncode == 0 and "starting session" in p.stderr,
          p.stderr[-400:])
    check("each session holds its own 4 responses", [r[0] for r in con.execute(
        "SELECT count(*) FROM responses r JOIN pairs p ON p.id = r.pair_id GROUP BY p.session_id")] == [4, 4])
    n_before = con.execute("SELECT count(*) FROM responses").fetchone()[0]
    con.close()

    p = ablab("inspect", BASE, "--quant", "q8_0", "--lora", ADAPTER + ":0.5", "--json")
    check("inspect --json exits 0", p.returncode == 0, p.stderr)
    info = json.loads(p.stdout)
    ad = info["adapters"][0] if info.get("adapters") else {}
    check("inspect: the adapter stays beside the Q8_0 weights", ad.get("unmerged") == 8 and ad.get("merged") == 0
          and ad.get("sha256") == SHA and ad.get("scale") == 0.5, info.get("adapters"))
    p = ablab("inspect", BASE, "--lora", ADAPTER)
    check("inspect: merged into the F32 base, shown with its hash",
          p.returncode == 0 and "adapter    llama-lora (peft" in p.stdout and SHA in p.stdout
          and "8 matrices merged, 0 kept beside" in p.stdout, p.stdout)

    # a DoRA adapter is refused naming the file and the key, and nothing is stored
    dora = os.path.join(tmp, "dora")
    os.mkdir(dora)
    cfg = json.load(open(os.path.join(ADAPTER, "adapter_config.json")))
    cfg["use_dora"] = True
    json.dump(cfg, open(os.path.join(dora, "adapter_config.json"), "w"))
    os.symlink(os.path.join(ADAPTER, "adapter_model.safetensors"), os.path.join(dora, "adapter_model.safetensors"))
    p = ablab("run", "--a", BASE, "--b", BASE, "--b-lora", dora, "--prompts", prompts, "--max-tokens", "8",
              "--session", "dora", "--db", db)
    check("a DoRA adapter is refused naming the file and key",
          p.returncode != 0 and "adapter_config.json: \"use_dora\" is set" in p.stderr, p.stderr)
    con = sqlite3.connect(db)
    check("and nothing is stored", con.execute("SELECT count(*) FROM responses").fetchone()[0] == n_before)
    con.close()

finish()
