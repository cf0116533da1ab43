#!/usr/bin/env python3
"""The sampling settings' one table (engine.h, dumped by settings_dump) against every surface that
shows or takes a setting: `ablab config`, the help of the commands that take the flags, the
engine's and the lab's defaults, and the errors for a value out of range from the config file, the
environment and a flag, which must all carry the same words. (The settings screen is checked in
tests/ui/test_tmux.py's settings scenario; a saved session and lab_open in tests/lab/test_lab.c.)"""
import json, os, subprocess, tempfile

from checks import check, finish, shared_file

BIN = os.environ["ABLAB_BIN"]
DUMP = os.environ["SETTINGS_DUMP"]
TABLE = [json.loads(l) for l in subprocess.run([DUMP], capture_output=True, text=True, check=True).stdout.splitlines()]
STORED = [r for r in TABLE if not r["per_command"]]


def run(*args, env_extra=None, home=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("ABLAB_") and k not in ("ABLAB_BIN", "ABLAB_ASSETS", "ABLAB_SRC"):
            del env[k]
    env.update({"XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home, "XDG_STATE_HOME": home})
    env.update(env_extra or {})
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


def g(v):
    """C's %g for the bounds (what the table's range text is built with)."""
    return "%g" % v


def expected_range(r):
    if r["type"] == "seed":
        return "'random' (or -1) or an integer in [0, 9223372036854775807]"
    if r["type"] == "text":
        return f"a text of {int(r['min'])} to {int(r['max'])} bytes"
    lo, hi = (g(r["min"]), g(r["max"])) if r["type"] == "real" else (str(int(r["min"])), str(int(r["max"])))
    return (f"{'a number' if r['type'] == 'real' else 'an integer'} in {'(' if r['min_open'] else '['}{lo}, "
            f"{hi}{')' if r['max_open'] else ']'}")


def outside(r):
    """Values just outside the range, as text, each the shortest way C's %g would write it."""
    if r["type"] == "seed":
        return ["-2"]
    below = r["min"] if r["min_open"] else r["min"] - 1
    above = r["max"] if r["max_open"] else (r["max"] + 0.5 if r["type"] == "real" else r["max"] + 1)
    return [g(below) if r["type"] == "real" else str(int(below)), g(above) if r["type"] == "real" else str(int(above))]


names = [r["name"] for r in TABLE]
check("the table has the settings the lab and the engine know",
      names[:8] == ["temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "max_tokens", "seed"]
      and "stop" in names, names)

# ---- the table itself: range words, defaults inside the range, the engine's and the lab's defaults
for r in TABLE:
    check(f"{r['name']}: the range text says the table's bounds", r["range"] == expected_range(r), (r["range"], expected_range(r)))
    if r["type"] == "text":
        continue
    d = r["default"]
    inside = (d > r["min"] if r["min_open"] else d >= r["min"]) and (d < r["max"] if r["max_open"] else d <= r["max"])
    check(f"{r['name']}: the default {r['default_text']} lies in the range", inside, r)
    check(f"{r['name']}: the lab's default is the table's", r["lab_default_text"] == r["default_text"], r)
    check(f"{r['name']}: the lab's row names and range are the table's",
          r["lab_name"] == r["name"] and r["lab_range"] == r["range"], r)
    if r["type"] == "seed":
        # the engine takes a concrete seed; the table's -1 ("random") is drawn by its callers
        check("seed: the engine's default is a concrete seed, 'random' in the table",
              r["engine_default_text"] == "0" and r["default_text"] == "random", r)
    else:
        check(f"{r['name']}: the engine's default is the table's", r["engine_default_text"] == r["default_text"], r)

with tempfile.TemporaryDirectory() as home:
    # ---- `ablab config`: one line per stored row, the table's default, source default
    rc, out, err = run("config", home=home)
    lines = {l.split()[0]: l.split() for l in out.splitlines() if l.startswith("sampling.")}
    check("ablab config runs", rc == 0, err)
    check("ablab config lists exactly the table's stored rows as [sampling] keys",
          sorted(lines) == sorted("sampling." + r["name"] for r in STORED), sorted(lines))
    for r in STORED:
        l = lines.get("sampling." + r["name"], [])
        check(f"ablab config: sampling.{r['name']} = {r['default_text']} (default)",
              len(l) >= 3 and l[1] == r["default_text"] and l[2] == "default", l)

    # ---- help: every flag with its argument, help, range and default
    for cmd in (["generate", "--help"], ["help", "generate"], ["run", "--help"], ["lab", "--help"], ["study", "--help"],
                ["config", "--help"]):
        rc, out, err = run(*cmd, home=home)
        ls = out.splitlines()
        for r in TABLE:
            want = r["name"] != "stop" or cmd[-1] == "generate" or cmd[0] == "generate"
            at = [i for i, l in enumerate(ls) if l.split()[:2] == [f"--{r['flag']}", r["arg"]]]
            if not want:
                check(f"{' '.join(cmd)}: no --{r['flag']} (a flag of generate only)", not at, out)
                continue
            ok = (len(at) == 1 and ls[at[0]].strip().endswith(r["help"]) and at[0] + 1 < len(ls)
                  and ls[at[0] + 1].strip() == f"{r['range']}; default {r['default_text']}")
            check(f"{' '.join(cmd)}: --{r['flag']} {r['arg']} with the table's help, range and default", rc == 0 and ok,
                  "\n".join(ls[at[0]:at[0] + 2]) if at else out)

    # ---- a value out of range: the same words from the file, the environment and a flag
    cfgdir = os.path.join(home, "ablab")
    os.makedirs(cfgdir, exist_ok=True)
    ini = os.path.join(cfgdir, "config.ini")
    for r in STORED:
        for v in outside(r):
            body = f"{r['name']} must be {r['range']}, not {v}"
            with open(ini, "w") as f:
                f.write(f"[sampling]\n{r['name']} = {v}\n")
            rc, out, err = run("config", home=home)
            check(f"config file {r['name']} = {v}: refused at its line with the table's range",
                  rc != 0 and f"{ini}:2: {body}" in err, (rc, err))
            os.unlink(ini)
            var = "ABLAB_" + r["name"].upper()
            rc, out, err = run("config", home=home, env_extra={var: v})
            check(f"{var}={v}: refused naming the variable", rc != 0 and f"{var}: {body}" in err, (rc, err))
            rc, out, err = run("config", f"--{r['flag']}", v, home=home)
            check(f"--{r['flag']} {v}: refused naming the flag (usage error)", rc == 2 and f"--{r['flag']}: {body}" in err,
                  (rc, err))
    # integers are whole: 1.5 is refused, not cut to 1
    rc, out, err = run("config", "--top-k", "1.5", home=home)
    check("--top-k 1.5: an integer row refuses a fraction",
          rc == 2 and "--top-k: top_k must be an integer in [0, 1073741824], not 1.5" in err, err)
    # a value in range from each source is shown with its source
    with open(ini, "w") as f:
        f.write("[sampling]\nmax_tokens = 64\nseed = 7\n")
    rc, out, err = run("config", "--top-p", "0.5", home=home, env_extra={"ABLAB_MIN_P": "0.1"})
    got = {l.split()[0]: l for l in out.splitlines() if l.strip()}
    check("file, environment and flag values shown with their sources",
          rc == 0 and "config.ini:2" in got.get("sampling.max_tokens", "") and " 64 " in got["sampling.max_tokens"]
          and "(ABLAB_MIN_P)" in got.get("sampling.min_p", "") and "(--top-p)" in got.get("sampling.top_p", ""), out)
    os.unlink(ini)
    # the per-command row: --stop takes 1 to 4096 bytes, checked before any model is loaded
    rc, out, err = run("generate", "--model", "/nonexistent", "--prompt", "x", "--stop", "", home=home)
    stop = next(r for r in TABLE if r["name"] == "stop")
    check("--stop '': refused with the table's range", rc != 0 and f"--stop: stop must be {stop['range']}, not ''" in err, err)

    # ---- what is stored with each response and exported: one column per stored row, the values used
    A, B = shared_file("models/stories260K/stories260K.bin"), shared_file("golden/llama-tiny-gqa")
    if A and B:
        db = os.path.join(home, "lab.db")
        prompts = os.path.join(home, "prompts.txt")
        with open(prompts, "w") as f:
            f.write("Once upon a time\n")
        given = {"top_p": "0.5", "max_tokens": "8", "seed": "11", "repeat_last_n": "-1"}
        rc, out, err = run("run", "--a", A, "--b", B, "--db", db, "--prompts", prompts, "--threads", "2",
                           *[a for r in STORED if r["name"] in given for a in (f"--{r['flag']}", given[r["name"]])], home=home)
        check("ablab run with sampling flags", rc == 0, err[-2000:])
        rc, out, err = run("export", "--what", "responses", "--format", "jsonl", "--db", db, home=home)
        rows = [json.loads(l) for l in out.splitlines() if l.strip()]
        check("export: two responses", rc == 0 and len(rows) == 2, (rc, err, out[:500]))
        for r in STORED:
            want = given.get(r["name"], r["default_text"])
            got = [str(x.get(r["name"])) for x in rows]
            norm = [("%g" % float(v)) if r["type"] == "real" and v != "None" else v for v in got]
            check(f"export: column {r['name']} holds the value used ({want})", norm == [want, want], got)
    else:
        print("# skipped the export part: no stories260K and llama-tiny-gqa in tests/fixtures/shared or SHARED_DIR")

finish()
