#!/usr/bin/env python3
"""OpenAI's official Node client (npm package `openai`) against `ablab serve` (issue 20): it lists
the model, streams a completion and a chat completion (with stream_options.include_usage), reads
whole answers, and gets a 400 it understands for a bad field, through the API key. The answers must
be the ones `ablab generate` gives at temperature 0. The client is installed with npm in the test's
scratch folder; without npm or the registry the test is skipped with the reason."""
import json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from serve_util import STOPPED, Server, chat_model, generate, npm_available, sanitizer_report  # noqa: E402

SCRIPT = r"""
import OpenAI from 'openai';
const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const out = { version: OpenAI.VERSION ?? null };
const models = await client.models.list();
out.models = models.data.map((m) => m.id);

let text = '', finish = null, usage = null, n = 0;
const s1 = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0,
                                             stream: true, stream_options: { include_usage: true } });
for await (const chunk of s1) {
  n++;
  if (chunk.choices.length) { text += chunk.choices[0].text; finish = chunk.choices[0].finish_reason ?? finish; }
  if (chunk.usage) usage = chunk.usage;
}
out.completion_stream = { text, finish, usage, chunks: n };

text = ''; finish = null; usage = null; let role = null;
const s2 = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'What is a cat?' }],
                                                  max_tokens: 10, temperature: 0, stream: true,
                                                  stream_options: { include_usage: true } });
for await (const chunk of s2) {
  if (chunk.choices.length) {
    const d = chunk.choices[0].delta;
    if (d.role) role = d.role;
    text += d.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}
out.chat_stream = { text, finish, usage, role };

const c = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0 });
out.completion = { text: c.choices[0].text, finish: c.choices[0].finish_reason, usage: c.usage };
const cc = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'What is a cat?' }],
                                                  max_tokens: 10, temperature: 0 });
out.chat = { text: cc.choices[0].message.content, role: cc.choices[0].message.role, usage: cc.usage };

try {
  await client.completions.create({ model, prompt: 'x', temperature: 500 });
  out.bad = { thrown: false };
} catch (e) {
  out.bad = { thrown: true, status: e.status ?? null, param: e.param ?? e.error?.param ?? null,
              message: e.message ?? '' };
}
try {
  const bare = new OpenAI({ baseURL, apiKey: 'wrong-key', maxRetries: 0 });
  await bare.models.list();
  out.nokey = { thrown: false };
} catch (e) {
  out.nokey = { thrown: true, status: e.status ?? null };
}
console.log(JSON.stringify(out));
"""

if not npm_available():
    print("# skipped: npm and node are needed to install and run OpenAI's Node client (apt-get install npm)")
    finish(77)

with tempfile.TemporaryDirectory() as home:
    scratch = os.path.join(home, "node")
    os.mkdir(scratch)
    with open(os.path.join(scratch, "package.json"), "w") as f:
        json.dump({"name": "ablab-serve-openai-test", "private": True, "type": "module"}, f)
    try:
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "openai"], cwd=scratch,
                           capture_output=True, text=True, timeout=240)
        installed = p.returncode == 0
        why = (p.stderr or p.stdout).strip().splitlines()[-3:] if not installed else []
    except subprocess.TimeoutExpired:
        installed, why = False, ["npm install timed out after 240 s"]
    if not installed:
        print("# skipped: npm could not install the openai package (offline, or the registry is unreachable): "
              + " / ".join(why))
        finish(77)
    version = json.load(open(os.path.join(scratch, "node_modules", "openai", "package.json")))["version"]
    print(f"# openai (npm) {version}")
    with open(os.path.join(scratch, "client.mjs"), "w") as f:
        f.write(SCRIPT)

    model = chat_model(os.path.join(home, "smol-chat"))
    raw_ref = generate(home, model, "Once upon a time", "--raw", "--temp", "0", "--max-tokens", "10")
    chat_ref = generate(home, model, "What is a cat?", "--temp", "0", "--max-tokens", "10")
    s = Server(home, model, "--temp", "0", env_extra={"ABLAB_SERVE_API_KEY": "node-test-key"})
    try:
        p = subprocess.run(["node", "client.mjs", s.url, "node-test-key", s.model_id], cwd=scratch,
                           capture_output=True, text=True, timeout=120)
        ok = check("the node client script runs to the end", p.returncode == 0, p.stderr[-2000:])
        out = json.loads(p.stdout) if ok else {}
    finally:
        s.stop()
    if out:
        check("models.list() names the served model", out["models"] == ["smol-chat"], out["models"])
        cs = out["completion_stream"]
        check("completions stream: the text `ablab generate --raw` gives at temperature 0",
              cs["text"] == raw_ref["text"] and cs["chunks"] >= 2, (cs, raw_ref["text"]))
        check("completions stream: finish_reason and usage (include_usage) as the client reads them",
              cs["finish"] == "length" and cs["usage"] == {"prompt_tokens": raw_ref["metrics"]["n_prompt"],
                                                          "completion_tokens": 10,
                                                          "total_tokens": raw_ref["metrics"]["n_prompt"] + 10}, cs)
        ch = out["chat_stream"]
        check("chat stream: role assistant and the text `ablab generate` gives in chat mode",
              ch["role"] == "assistant" and ch["text"] == chat_ref["text"] and chat_ref["mode"] == "chat",
              (ch, chat_ref["text"]))
        check("chat stream: finish_reason and usage",
              ch["finish"] in ("stop", "length") and ch["usage"]["prompt_tokens"] == chat_ref["metrics"]["n_prompt"], ch)
        check("whole completion and chat completion: the same texts",
              out["completion"]["text"] == raw_ref["text"] and out["chat"]["text"] == chat_ref["text"]
              and out["chat"]["role"] == "assistant", (out["completion"], out["chat"]))
        check("a bad temperature: the client throws a 400 naming the field",
              out["bad"]["thrown"] and out["bad"]["status"] == 400 and out["bad"]["param"] == "temperature", out["bad"])
        check("a wrong key: the client throws 401", out["nokey"] == {"thrown": True, "status": 401}, out["nokey"])
bad = [(rc, sanitizer_report(err)) for rc, err in STOPPED if rc != 0 or sanitizer_report(err)]
check(f"every server ({len(STOPPED)}) exited 0 on SIGTERM with no sanitizer report", STOPPED and not bad, bad)
finish()
