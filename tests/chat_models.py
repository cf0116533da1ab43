"""The chat arm the tests use: the shipped gpt2-mini given a published chat template (SmolLM2's from
tests/fixtures/ref/chat unless another is given) in its tokenizer_config.json, the weights linked."""
import json
import os


def chat_model(dirname, template=None, eos=None):
    base = os.path.join(os.environ["ABLAB_ASSETS"], "models", "gpt2-mini")
    if template is None:
        ref = os.path.join(os.environ["TEST_DATA_DIR"], "ref", "chat", "smollm2-instruct.json")
        template = json.load(open(ref))["template"]
    os.mkdir(dirname)
    for f in os.listdir(base):
        if f != "tokenizer_config.json":
            os.symlink(os.path.join(base, f), os.path.join(dirname, f))
    cfg = json.load(open(os.path.join(base, "tokenizer_config.json")))
    cfg["chat_template"] = template
    if eos:
        cfg["eos_token"] = eos
    json.dump(cfg, open(os.path.join(dirname, "tokenizer_config.json"), "w"))
    return dirname
