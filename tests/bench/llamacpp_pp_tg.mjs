// llama.cpp's side of a paired benchmark: pp N and tg N on a GGUF file, measured as `ablab bench`
// (and llama-bench) measure them, through node-llama-cpp's prebuilt llama.cpp (CPU build, ggml
// picking its CPU variant at run time). Not part of ablab: a tool for tests/bench/README.md, so
// that llama.cpp and ablab can run on the same machine in the same minutes (llama.cpp itself is not
// in Debian 12, and this machine reaches only Debian's and npm's registries).
//
//   mkdir /tmp/lcpp && cd /tmp/lcpp && npm install node-llama-cpp@3.22.1
//   NODE_PATH=/tmp/lcpp/node_modules node tests/bench/llamacpp_pp_tg.mjs MODEL.gguf -V VOCAB [-p 512] [-n 128] [-t 1] [-r 3]
//
// pp N: N token ids as one batch into an empty sequence. tg N: N ids one at a time (a decode step
// each; no sampling, as llama-bench's tg). Ids are ablab bench's walk: (i * 7919 + 13) % vocab.
// Prints one CSV line per test: model,threads,test,tokens_per_s_mean,tokens_per_s_sd. The
// JavaScript call per decode step costs llama.cpp some microseconds per token (under 1 % at
// these speeds); treat the tg figures as a slight underestimate.
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.NODE_PATH || path.join(process.cwd(), "node_modules");
const { getLlama } = await import(pathToFileURL(path.join(modules, "node-llama-cpp/dist/index.js")).href);

const args = process.argv.slice(2);
const model = args[0];
const opt = (flag, dflt) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : dflt;
};
const P = opt("-p", 512), N = opt("-n", 128), T = opt("-t", 1), R = opt("-r", 3);

const llama = await getLlama({ gpu: false, maxThreads: T, logLevel: "error", build: "never" });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const V = opt("-V", 0);
if (!V) throw new Error("give the vocabulary size with -V (50257 for gpt2-124m, 32000 for scratch)");
const ctx = await m.createContext({ contextSize: Math.max(P, N) + 16, batchSize: Math.max(P, 1),
                                    threads: { ideal: T, min: T }, sequences: 1 });
const seq = ctx.getSequence();
const ids = (n) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % V);

const stats = (v) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1));
    return [mean, sd];
};

async function pp() {
    await seq.clearHistory();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(ids(P));
    return P / ((performance.now() - t0) / 1000);
}

async function tg() {
    await seq.clearHistory();
    const toks = ids(N);
    const t0 = performance.now();
    for (const t of toks) await seq.evaluateWithoutGeneratingNewTokens([t]);
    return N / ((performance.now() - t0) / 1000);
}

const name = path.basename(model);
for (const [test, fn, n] of [["pp", pp, P], ["tg", tg, N]]) {
    if (!n) continue;
    await fn(); // warm-up, as llama-bench and ablab bench
    const v = [];
    for (let r = 0; r < R; r++) v.push(await fn());
    const [mean, sd] = stats(v);
    console.log(`${name},${T},${test}${n},${mean.toFixed(3)},${sd.toFixed(3)}`);
}
await ctx.dispose();
await m.dispose();
