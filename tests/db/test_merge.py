#!/usr/bin/env python3
"""`ablab merge` on records made by the real binary: three machines' records with an overlapping
session (one is a copy of another that went on) and one conflicting rating, plus a record written
by the schema-10 code (tests/fixtures/db/v10-run.db): the counts add up, merging again changes
nothing, the inputs' sha256 are unchanged, the order of the inputs does not change what is pooled,
and a bad input (not SQLite, newer, damaged, missing) names the file and leaves the output as it
was; `stats` and `export` on the pooled record give each machine's share beside the pooled
figures. Checked with the sqlite3 CLI and Python's sqlite3."""
import csv, hashlib, json, os, re, shutil, sqlite3, subprocess, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
MODELS = os.path.join(os.environ["ABLAB_ASSETS"], "models")
A_MODEL, B_MODEL = os.path.join(MODELS, "gpt2-mini"), os.path.join(MODELS, "scratch-shakespeare")
FIXTURE = os.path.join(os.environ["TEST_DATA_DIR"], "db", "v10-run.db")
TABLES = ["sources", "models", "studies", "sessions", "prompts", "pairs", "responses", "ratings",
          "rating_revisions", "evaluations", "benchmarks", "scale_results"]
# the references of each pooled table: column -> the table it points into
REFS = {"sessions": {"study_id": "studies"}, "prompts": {"session_id": "sessions"},
        "pairs": {"session_id": "sessions", "prompt_id": "prompts", "model_a_id": "models", "model_b_id": "models"},
        "responses": {"pair_id": "pairs", "model_id": "models"},
        "ratings": {"pair_id": "pairs", "winner_model_id": "models"},
        "rating_revisions": {"rating_id": "ratings", "pair_id": "pairs", "winner_model_id": "models"},
        "evaluations": {"model_id": "models"}, "benchmarks": {"model_id": "models"},
        "scale_results": {"model_id": "models", "eval_id": "evaluations", "prefill_bench_id": "benchmarks",
                          "decode_bench_id": "benchmarks"}}
# what a merge writes about itself rather than the rows' content
LOCAL = {"sources": {"is_self", "merged_ms", "file", "schema_version"}}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def sqlite_cli(db, sql):
    p = subprocess.run(["sqlite3", db, sql], capture_output=True, text=True, timeout=60)
    return p.stdout.strip() if p.returncode == 0 else f"sqlite3 failed: {p.stderr}"


def logical(db, skip_uuids=()):
    """Every pooled row as (table, uuid, content) with references as the UUIDs they point to (a
    model as its hashes) and without the local row ids: what merges in two orders must agree on."""
    con = sqlite3.connect(db)
    uuid_of = {}
    for t in TABLES:
        uuid_of[t] = dict(con.execute(f"SELECT id, uuid FROM {t}"))
    # a model is what it is, whichever machine's row of it came first
    uuid_of["models"] = {r[0]: r[1:] for r in con.execute(
        "SELECT id, weights_sha256, tokenizer_sha256, dtype, adapters FROM models")}
    rows = set(("models", m) for m in uuid_of["models"].values())
    for t in ["sources"] + TABLES[2:]:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})") if r[1] != "id" and r[1] not in LOCAL.get(t, ())]
        # each output's own source (the machine that merged) is its own
        own = " WHERE is_self = 0" if t == "sources" else ""
        for r in con.execute(f"SELECT {', '.join(cols)} FROM {t}{own}"):
            r = dict(zip(cols, r))
            if r["uuid"] in skip_uuids:
                rows.add((t, r["uuid"], "(conflict)"))
                continue
            for c, parent in REFS.get(t, {}).items():
                r[c] = uuid_of[parent].get(r[c], "none" if r[c] is None else "orphan")
            if "source_id" in r:
                r["source_id"] = uuid_of["sources"].get(r["source_id"])
            rows.add((t, r["uuid"], repr(sorted(r.items()))))
    con.close()
    return rows


def parse_report(out):
    """{input: {table: (added, present, conflicts)}} and the conflict lines of a merge's stdout."""
    rep, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"  (\w+) +(\d+) +(\d+) +(\d+)$", line)
        if m and cur is not None:
            rep[cur][m.group(1)] = tuple(int(x) for x in m.groups()[1:])
        elif not line.startswith(" ") and not line.startswith("merged"):
            cur = line.strip()
            rep[cur] = {}
    return rep, [l.strip() for l in out.splitlines() if l.strip().startswith("conflict:")]


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp)

    def ablab(*args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=300, cwd=tmp)

    def path(name):
        return os.path.join(tmp, name)

    def prompts(name, lines):
        with open(path(name), "w") as f:
            f.write("\n".join(lines) + "\n")
        return name

    def run(db, pfile):
        p = ablab("run", "--a", A_MODEL, "--b", B_MODEL, "--prompts", pfile, "--max-tokens", "6", "--db", path(db))
        check(f"run {pfile} into {db}", p.returncode == 0, p.stderr)

    def rate(db, pair, choice, who=None):
        extra = ["--participant", who] if who else []
        p = ablab("rate", "--response-pair", str(pair), "--choice", choice, *extra, "--db", path(db))
        check(f"rate pair {pair} {choice} in {db}", p.returncode == 0, p.stderr)

    # ---- three machines ----
    run("alice.db", prompts("p1.txt", ["Once upon a time", "The king said", "To be or not"]))
    rate("alice.db", 1, "a")
    rate("alice.db", 2, "b", "ann")
    run("bob.db", prompts("p2.txt", ["The little dog", "A storm was coming"]))
    rate("bob.db", 1, "tie")
    # carol's laptop started from a copy of alice's record (the overlapping session), then went on:
    # a changed vote on a pair alice had rated (the conflict) and a session of its own
    shutil.copy(path("alice.db"), path("carol.db"))
    rate("carol.db", 1, "b")
    run("carol.db", prompts("p3.txt", ["Lily and Ben went to the park"]))
    rate("carol.db", 4, "a", "cy")
    shutil.copy(FIXTURE, path("old.db"))
    check("the fixture is a schema-10 record", sqlite_cli(path("old.db"), "PRAGMA user_version") == "10")
    inputs = ["alice.db", "bob.db", "carol.db", "old.db"]
    before = {f: sha256(path(f)) for f in inputs}
    files_before = sorted(os.listdir(tmp))
    conflict_uuid = sqlite_cli(path("alice.db"), "SELECT uuid FROM ratings WHERE pair_id = 1")

    # ---- the merge ----
    p = ablab("merge", "class.db", *inputs)
    check("merge exits 0 (a conflict is not an error)", p.returncode == 0, p.stderr + p.stdout)
    rep, conflicts = parse_report(p.stdout)
    check("a report for every input and the total", list(rep) == inputs + ["all 4 inputs"], list(rep))
    check("the one conflict is alice's rating that carol changed, listed with its table and UUID",
          conflicts == [f"conflict: ratings {conflict_uuid}: the same id holds another choice here: kept this "
                        "record's row"], conflicts)
    check("the inputs' sha256 are unchanged", {f: sha256(path(f)) for f in inputs} == before)
    check("nothing new beside the inputs", sorted(os.listdir(tmp)) == sorted(files_before + ["class.db"]),
          sorted(set(os.listdir(tmp)) - set(files_before)))
    check("the old input is still at schema 10", sqlite_cli(path("old.db"), "PRAGMA user_version") == "10")
    con = sqlite3.connect(path("class.db"))
    in_rows = {t: sum(sqlite3.connect(path(f)).execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for f in inputs if f != "old.db") for t in TABLES}
    old = sqlite3.connect(path(FIXTURE))
    for t in TABLES:
        if t != "sources":
            in_rows[t] += old.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    in_rows["sources"] += 1  # the old file has no sources table: its own source is made when read
    tot = rep["all 4 inputs"]
    bad = [t for t in TABLES if sum(rep[f][t][k] for f in inputs for k in range(3)) != in_rows[t]]
    check("every input row is counted once: added + present + conflicts = the inputs' rows", not bad,
          [(t, [rep[f][t] for f in inputs], in_rows[t]) for t in bad])
    out_rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    bad = [t for t in TABLES if tot[t][0] + (1 if t == "sources" else 0) != out_rows[t]]
    check("the output holds exactly the rows added (and its own source)", not bad,
          [(t, tot[t], out_rows[t]) for t in bad])
    check("carol's copy of alice's session is present, not added again",
          rep["carol.db"]["sessions"] == (1, 1, 0) and rep["carol.db"]["responses"] == (2, 6, 0),
          rep["carol.db"])
    check("the same two models on every machine are two models",
          out_rows["models"] == 2 and tot["models"] == (2, 6, 0), (out_rows["models"], tot["models"]))
    check("the conflicting rating kept alice's choice",
          con.execute("SELECT choice FROM ratings WHERE uuid = ?", (conflict_uuid,)).fetchone() == ("a",))
    check("carol's changed vote is still kept, as a revision of that rating",
          con.execute("SELECT count(*) FROM rating_revisions v JOIN ratings g ON g.id = v.rating_id "
                      "WHERE g.uuid = ? AND v.choice = 'b'", (conflict_uuid,)).fetchone() == (1,))
    # carol's record is a copy of alice's: it carries on as the same source (a record's own source
    # is made once, when it is created or upgraded)
    hosts = con.execute("SELECT count(*), count(DISTINCT uuid) FROM sources WHERE is_self = 0").fetchone()
    check("three sources: alice's record (carol's copy goes on as it), bob's, the old one", hosts == (3, 3), hosts)
    check("the old record's machine is labelled by its file",
          con.execute("SELECT host, origin, schema_version FROM sources WHERE file = 'old.db'").fetchone()
          == ("old.db", "migrated", 10))
    names = [r[0] for r in con.execute("SELECT name FROM sessions ORDER BY name")]
    check("sessions of the same name from two machines keep both, named by machine",
          len(names) == 4 and len(set(names)) == 4 and all(re.search(r"@[^@]+:[0-9a-f]{8}$", n) for n in names), names)
    check("every row has its machine", all(con.execute(f"SELECT count(*) FROM {t} WHERE source_id IS NULL "
                                                       f"OR uuid IS NULL").fetchone()[0] == 0 for t in TABLES[1:]))
    con.close()
    check("sqlite3 finds the output sound", sqlite_cli(path("class.db"), "PRAGMA integrity_check; PRAGMA "
                                                       "foreign_key_check") == "ok")
    check("full-text search reaches merged answers",
          sqlite_cli(path("class.db"), "SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH 'Lily'") == "1")

    # ---- stats and export: each machine beside the pooled figures ----
    p = ablab("stats", "--format", "json", "--db", path("class.db"))
    st = json.loads(p.stdout) if p.returncode == 0 else {}
    ms = st.get("machines", [])
    check("stats names the three machines that recorded something", len(ms) == 3 and all(not m["own"] for m in ms),
          p.stdout[-1500:] + p.stderr)
    check("the machines' responses and votes add up to the pooled ones",
          sum(m["responses"] for m in ms) == st.get("responses") and sum(m["votes"] for m in ms) == st.get("votes"),
          [(m["host"], m["responses"], m["votes"]) for m in ms])
    pooled = st.get("pairs", [{}])[0]
    check("per machine, the votes of the model pair add up to the pooled wins and ties",
          all(sum(m["pairs"][0][k] for m in ms) == pooled.get(k) for k in ("wins_a", "wins_b", "ties", "both_bad")),
          (pooled, [m["pairs"] for m in ms]))
    by_file = {m["merged_from"]: m for m in ms}
    alice = sqlite3.connect(path("alice.db")).execute("SELECT uuid FROM sources WHERE is_self = 1").fetchone()[0]
    check("alice's machine holds alice's session and carol's own one (a copy carries on as its source)",
          by_file.get("alice.db", {}).get("uuid") == alice and by_file["alice.db"]["sessions"] == 2
          and by_file["alice.db"]["responses"] == 8 and by_file.get("bob.db", {}).get("responses") == 4
          and by_file.get("old.db", {}).get("host") == "old.db", ms)
    p = ablab("stats", "--db", path("class.db"))
    check("stats text has a per-machine table", p.returncode == 0 and "by machine (pooled with ablab merge):" in p.stdout
          and "from old.db" in p.stdout, p.stdout[-800:])
    p = ablab("export", "--what", "all", "--format", "md", "--db", path("class.db"))
    md = p.stdout
    check("export md: a per-machine table and a methods sentence from the record",
          p.returncode == 0 and "### Per machine (pooled with ablab merge)" in md
          and "They were recorded on 3 machines and pooled into one record with ablab merge" in md
          and "old.db with 6 responses and 2 votes" in md and "(from bob.db) with 4 responses and 1 vote" in md, md[:3000])
    p = ablab("export", "--what", "all", "--format", "csv", "--out", path("csv"), "--db", path("class.db"))
    rows = list(csv.DictReader(open(path("csv/machines.csv")))) if p.returncode == 0 else []
    check("export csv: machines.csv, one row per machine and model pair",
          len(rows) == 3 and {r["merged_from"] for r in rows} == {"alice.db", "bob.db", "old.db"}
          and sum(int(r["responses"]) for r in rows) == st.get("responses"), (p.stderr, rows))
    p = ablab("export", "--what", "all", "--format", "md", "--db", path("bob.db"))
    check("a record of one machine has no per-machine table or sentence",
          p.returncode == 0 and "Per machine" not in p.stdout and "machines" not in p.stdout, p.stdout[:2000])
    p = ablab("stats", "--format", "json", "--db", path("bob.db"))
    check("stats json of one machine lists it as the record's own",
          p.returncode == 0 and [m["own"] for m in json.loads(p.stdout)["machines"]] == [True], p.stdout[-600:])

    # ---- again: nothing changes ----
    dump = sqlite_cli(path("class.db"), ".dump")
    p = ablab("merge", "class.db", *inputs)
    rep2, conflicts2 = parse_report(p.stdout)
    check("merging again exits 0 and adds nothing",
          p.returncode == 0 and all(rep2["all 4 inputs"][t][0] == 0 for t in TABLES), p.stdout)
    check("merging again finds the same conflict and the rest present",
          conflicts2 == conflicts and all(rep2["all 4 inputs"][t][1] + rep2["all 4 inputs"][t][2] == in_rows[t]
                                          for t in TABLES), rep2.get("all 4 inputs"))
    check("merging again leaves the output's content as it was", sqlite_cli(path("class.db"), ".dump") == dump)
    p = ablab("merge", "twice.db", "bob.db", "bob.db")
    rep3, _ = parse_report(p.stdout)
    check("the same file twice in one merge adds it once",
          p.returncode == 0 and rep3.get("all 2 inputs", {}).get("responses") == (4, 4, 0), p.stdout)

    # ---- order ----
    p = ablab("merge", "reversed.db", *reversed(inputs))
    check("the reversed merge exits 0", p.returncode == 0, p.stderr)
    check("the reversed order pools the same rows (the conflicting one aside, each order keeps its first)",
          logical(path("class.db"), {conflict_uuid}) == logical(path("reversed.db"), {conflict_uuid}),
          sorted(logical(path("class.db"), {conflict_uuid}) ^ logical(path("reversed.db"), {conflict_uuid}))[:4])
    clean = ["alice.db", "bob.db", "old.db"]
    p1, p2 = ablab("merge", "ab.db", *clean), ablab("merge", "ba.db", *reversed(clean))
    check("without a conflict both orders pool exactly the same content",
          p1.returncode == 0 and p2.returncode == 0 and logical(path("ab.db")) == logical(path("ba.db")),
          sorted(logical(path("ab.db")) ^ logical(path("ba.db")))[:4])
    # a pooled record merged again (a teacher pooling two assistants' pools) adds nothing new
    p = ablab("merge", "ab.db", "class.db")
    rep4, _ = parse_report(p.stdout)
    check("a pool merged into a pool: machines and rows recognised",
          p.returncode == 0 and rep4["class.db"]["sessions"] == (1, 3, 0) and rep4["class.db"]["sources"] == (1, 3, 0),
          p.stdout)

    # ---- bad inputs: the output is left as it was ----
    with open(path("notes.txt"), "w") as f:
        f.write("not a database\n" * 100)
    shutil.copy(path("bob.db"), path("newer.db"))
    c = sqlite3.connect(path("newer.db"))
    c.execute("PRAGMA user_version = 99")
    c.close()
    shutil.copy(path("bob.db"), path("damaged.db"))
    with open(path("damaged.db"), "r+b") as f:
        size = f.seek(0, 2)
        f.seek(size // 2)
        f.write(os.urandom(4096))
    run("dave.db", prompts("p4.txt", ["The sun was shining"]))
    out_sha, out_dump = sha256(path("class.db")), sqlite_cli(path("class.db"), ".dump")
    for bad_file, says in [("notes.txt", "not an ablab record"), ("newer.db", "newer ablab"),
                           ("damaged.db", "damaged"), ("missing.db", "missing.db")]:
        p = ablab("merge", "class.db", "dave.db", bad_file)
        check(f"{bad_file}: exit 1 with one message naming the file",
              p.returncode == 1 and bad_file in p.stderr and says in p.stderr and "nothing was merged" in p.stderr,
              (p.returncode, p.stderr))
        check(f"{bad_file}: the output is as it was (dave's good record before it is not half-merged)",
              sha256(path("class.db")) == out_sha and sqlite_cli(path("class.db"), ".dump") == out_dump)
    check("the bad inputs are unchanged too", sqlite_cli(path("newer.db"), "PRAGMA user_version") == "99")
    p = ablab("merge", "class.db", "class.db")
    check("merging the output into itself is refused", p.returncode == 1 and "output itself" in p.stderr, p.stderr)
    p = ablab("merge", "only.db")
    check("merge without inputs is a usage error", p.returncode == 2 and "usage: ablab merge" in p.stderr, p.stderr)

finish()
