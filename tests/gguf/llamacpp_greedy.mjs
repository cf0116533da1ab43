// Does llama.cpp read ablab's GGUFs as transformers' models? Runs llama.cpp (node-llama-cpp's
// prebuilt CPU build, as tests/bench/llamacpp_pp_tg.mjs) greedily on a GGUF from golden.json's
// prompt ids and compares the ids with golden.json's greedy_new_ids. Not part of the suite
// (llama.cpp is not in Debian 12; npm reaches it):
//
//   mkdir /tmp/lcpp && cd /tmp/lcpp && npm install node-llama-cpp@3.22.1
//   for f in tests/fixtures/ref/models/*; do
//     build/src/ablab convert --model $f --out /tmp/$(basename $f).gguf
//     NODE_PATH=/tmp/lcpp/node_modules node tests/gguf/llamacpp_greedy.mjs /tmp/$(basename $f).gguf $f/golden.json
//   done
//
// 4 December (node-llama-cpp 3.22.1, f32 GGUFs written by ablab convert): all 24 tokens identical
// for gpt_neox-parallel, gpt_neox-sequential, llama-head-dim, llama-rope-linear, llama-rope-llama3,
// phi, qwen2, qwen2-tied and qwen3. llama-smollm-tied parts at token 10, where transformers' top two
// logits are 0.0018 apart (llama.cpp keeps its KV cache in f16). gemma3_text parts at token 2:
// its query_pre_attn_scalar (24) is not its head_dim (16), and llama.cpp takes the scale from the
// model size, not from the file; with query_pre_attn_scalar 16 the same weights give all 24 of
// ablab's tokens in llama.cpp too.
import path from "node:path";
import fs from "node:fs";
import { pathToFileURL } from "node:url";
const modules = process.env.NODE_PATH;
const { getLlama } = await import(pathToFileURL(path.join(modules, "node-llama-cpp/dist/index.js")).href);
const [model, golden] = process.argv.slice(2);
const g = JSON.parse(fs.readFileSync(golden, "utf8"));
const llama = await getLlama({ gpu: false, maxThreads: 1, logLevel: "error", build: "never" });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const ctx = await m.createContext({ contextSize: 128, batchSize: 64, threads: { ideal: 1, min: 1 }, sequences: 1 });
const seq = ctx.getSequence();
const out = [];
for await (const t of seq.evaluate(g.input_ids, { temperature: 0 })) {
    out.push(t);
    if (out.length >= g.greedy_new_ids.length) break;
}
const same = out.length === g.greedy_new_ids.length && out.every((t, i) => t === g.greedy_new_ids[i]);
console.log(JSON.stringify({ model: path.basename(path.dirname(model)), same, ours: out, ref: g.greedy_new_ids }));
await ctx.dispose();
await m.dispose();
