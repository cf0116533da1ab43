#!/usr/bin/env python3
"""`ablab template` against transformers 5.17's apply_chat_template (tests/fixtures/ref/chat): for
every case of every template, stdout is exactly the rendered text and nothing else; where
transformers raised, ablab exits 1 with the template's message. Also the model-folder form, a
JSON-lines conversation object, and refusals naming the construct and line."""
import glob, json, os, subprocess, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]
REF = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "chat")


def run(*args, stdin=None):
    p = subprocess.run([BIN, "template", *args], capture_output=True, input=stdin, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


with tempfile.TemporaryDirectory() as tmp:
    total = 0
    for path in sorted(glob.glob(os.path.join(REF, "*.json"))):
        doc = json.load(open(path))
        name = os.path.basename(path)[:-5]
        cfg = os.path.join(tmp, name + ".json")
        # the tokenizer used for the references carried unk_token <unk> besides bos/eos
        json.dump({"chat_template": doc["template"], "bos_token": doc["bos_token"], "eos_token": doc["eos_token"],
                   "unk_token": "<unk>"}, open(cfg, "w"))
        wrong = []
        for case in doc["cases"]:
            msgs = os.path.join(tmp, "m.json")
            json.dump(case["messages"], open(msgs, "w"), ensure_ascii=False)
            args = ["--tokenizer-config", cfg, "--messages", msgs]
            if case["add_generation_prompt"]:
                args.append("--generation-prompt")
            for k, v in case["extra_vars"].items():
                args += ["--var", f"{k}={json.dumps(v)}"]
            rc, out, err = run(*args)
            if case.get("error"):
                ok = rc == 1 and out == b"" and case["error_message"] in err
            else:
                ok = rc == 0 and out == case["rendered"].encode() and err == ""
            if not ok:
                wrong.append(f"{case['id']}: rc {rc}, stderr {err!r}\n got  {out.decode(errors='replace')!r}\n want "
                             f"{case.get('rendered', case.get('error_message'))!r}")
            total += 1
        check(f"{name}: {len(doc['cases'])} cases byte for byte", not wrong, "\n".join(wrong[:3]))
    check("every reference case was run", total >= 280, total)

    # a model folder: chat_template.jinja beside tokenizer_config.json wins, specials from the config
    d = os.path.join(tmp, "model")
    os.mkdir(d)
    json.dump({"bos_token": {"content": "<B>"}, "chat_template": "{{ 'from config' }}"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    open(os.path.join(d, "chat_template.jinja"), "w").write("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}\n")
    msgs = os.path.join(tmp, "conv.json")
    json.dump({"messages": [{"role": "user", "content": "x{y}"}]}, open(msgs, "w"))
    rc, out, err = run("--model", d, "--messages", msgs)
    check("--model: chat_template.jinja, bos from the config, an object with messages", rc == 0 and out == b"<B>x{y}", (rc, out, err))
    rc, out, err = run("--model", d, "--messages", "-", stdin=b'[{"role": "user", "content": "stdin"}]')
    check("--messages - reads standard input", rc == 0 and out == b"<B>stdin", (rc, out, err))
    rc, out, err = run("--model", tmp, "--messages", msgs)
    check("a folder without a template: exit 1, says so", rc == 1 and out == b"" and "no chat template" in err, err)

    bad = os.path.join(tmp, "bad.json")
    json.dump({"chat_template": "{% for m in messages %}\n{{ m.content|wordwrap(10) }}\n{% endfor %}"}, open(bad, "w"))
    rc, out, err = run("--tokenizer-config", bad, "--messages", msgs)
    check("an unsupported filter is refused with its line", rc == 1 and out == b"" and "line 2" in err and "wordwrap" in err and bad in err, err)
    rc, out, err = run("--tokenizer-config", cfg, "--messages", os.path.join(tmp, "missing.json"))
    check("a missing messages file is named", rc == 1 and "missing.json" in err, err)
    open(os.path.join(tmp, "broken.json"), "w").write("[{\"role\": ")
    rc, out, err = run("--tokenizer-config", cfg, "--messages", os.path.join(tmp, "broken.json"))
    check("broken messages JSON is named with its place", rc == 1 and "broken.json" in err and "line 1" in err, err)
    rc, out, err = run("--tokenizer-config", cfg, "--messages", msgs, "--var", "novalue")
    check("--var without = is a usage error", rc != 0 and "NAME=JSON" in err, err)
    rc, out, err = run("--messages", msgs)
    check("neither --model nor --tokenizer-config: usage error", rc == 2 and "exactly one" in err, err)
finish()
