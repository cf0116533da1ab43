"""Chat-template references rendered by transformers' own apply_chat_template.

Reads REFS_IN/chat/templates/<name>.jinja and sources.json (bos/eos per template); writes
REFS_OUT/chat/<name>.json = {template, bos_token, eos_token, source, rendered_with, cases: [...]}.
Each case: {messages, add_generation_prompt, extra_vars, rendered} or, where the template raises,
{messages, add_generation_prompt, extra_vars, error: true, error_type, error_message}.
The tokenizer only carries the template and the special tokens (tokenize=False never encodes).
"""
import json
import os
import traceback

import transformers
from transformers import PreTrainedTokenizerFast

import common as C

TOK = os.path.join(C.IN, "llama-tiny-gqa", "tokenizer.json")

QUOTES = 'She said "hi" and {{ not_a_var }} {% raw %} \'single\' \\backslash \\n {"json": [1, 2]}'
NONASCII = "Grüße aus Köln — naïve café, 世界你好, Привет, مرحبا 🙂👍🏽"
SPACES = "  leading and trailing spaces  \n\n"

CONVERSATIONS = [
    ("user_only", [{"role": "user", "content": "Hello, who are you?"}]),
    ("system_user", [{"role": "system", "content": "You are a terse assistant."},
                     {"role": "user", "content": "Name three colours."}]),
    ("multi_turn", [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is 2+2?"},
                    {"role": "assistant", "content": "4."},
                    {"role": "user", "content": "And times three?"}]),
    ("assistant_last", [{"role": "user", "content": "Say hi."},
                        {"role": "assistant", "content": "Hi!"}]),
    ("long_no_system", [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"},
                        {"role": "user", "content": "Three"}, {"role": "assistant", "content": "Four"},
                        {"role": "user", "content": "Five"}]),
    ("empty_user", [{"role": "user", "content": ""}]),
    ("empty_system", [{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}]),
    ("empty_assistant", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""},
                         {"role": "user", "content": "Still there?"}]),
    ("non_ascii", [{"role": "system", "content": "Réponds en français."},
                   {"role": "user", "content": NONASCII}]),
    ("quotes_braces", [{"role": "user", "content": QUOTES}]),
    ("surrounding_whitespace", [{"role": "user", "content": SPACES},
                                {"role": "assistant", "content": "  padded answer  "},
                                {"role": "user", "content": "\tTabbed\t"}]),
    ("special_token_text", [{"role": "user", "content": "literal <|im_end|> and </s> and <end_of_turn> text"}]),
    ("two_users_in_a_row", [{"role": "user", "content": "First"}, {"role": "user", "content": "Second"}]),
    ("starts_with_assistant", [{"role": "assistant", "content": "I speak first."},
                               {"role": "user", "content": "Ok"}]),
    ("system_only", [{"role": "system", "content": "Only a system prompt."}]),
]

QWEN3_EXTRA = [
    ("thinking_default", [{"role": "user", "content": "Think about 17*3."}], {}),
    ("thinking_false", [{"role": "user", "content": "Think about 17*3."}], {"enable_thinking": False}),
    ("thinking_true", [{"role": "user", "content": "Think about 17*3."}], {"enable_thinking": True}),
    ("assistant_think_last", [{"role": "user", "content": "17*3?"},
                              {"role": "assistant", "content": "<think>\n17*3 = 51\n</think>\n\n51"}], {}),
    ("assistant_think_history", [{"role": "user", "content": "17*3?"},
                                 {"role": "assistant", "content": "<think>\n17*3 = 51\n</think>\n\n51"},
                                 {"role": "user", "content": "And 17*4?"}], {}),
    ("assistant_think_history_false", [{"role": "user", "content": "17*3?"},
                                       {"role": "assistant", "content": "<think>\n17*3 = 51\n</think>\n\n51"},
                                       {"role": "user", "content": "And 17*4?"}], {"enable_thinking": False}),
    ("reasoning_content_field", [{"role": "user", "content": "17*3?"},
                                 {"role": "assistant", "content": "51", "reasoning_content": "17*3 = 51"}], {}),
]


def render_all(name, template, bos, eos):
    tok = PreTrainedTokenizerFast(tokenizer_file=TOK, bos_token=bos, eos_token=eos, unk_token="<unk>")
    tok.chat_template = template
    convs = [(cid, msgs, {}) for cid, msgs in CONVERSATIONS]
    if name == "qwen3":
        convs += QWEN3_EXTRA
    cases = []
    for cid, msgs, extra in convs:
        for agp in (False, True):
            case = {"id": f"{cid}{'+gen' if agp else ''}", "messages": msgs, "add_generation_prompt": agp,
                    "extra_vars": extra}
            try:
                out = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=agp, **extra)
                if not isinstance(out, str):
                    raise TypeError(f"apply_chat_template returned {type(out).__name__}")
                case["rendered"] = out
            except Exception as e:  # noqa: BLE001 - template errors are recorded as cases
                case["error"] = True
                case["error_type"] = type(e).__name__
                case["error_message"] = str(e)
            cases.append(case)
    return cases


def main():
    src_dir = os.path.join(C.IN, "chat", "templates")
    sources = json.load(open(os.path.join(src_dir, "sources.json")))
    summary = {}
    for name, meta in sources.items():
        try:
            template = open(os.path.join(src_dir, f"{name}.jinja"), newline="").read()
            cases = render_all(name, template, meta["bos_token"], meta["eos_token"])
            doc = {"template_name": name, "template_file": f"templates/{name}.jinja", "template": template,
                   "bos_token": meta["bos_token"], "eos_token": meta["eos_token"], "source": meta["source"],
                   "rendered_with": f"transformers {transformers.__version__} "
                                    "PreTrainedTokenizerFast.apply_chat_template(messages, tokenize=False, "
                                    "add_generation_prompt=..., **extra_vars)",
                   "cases": cases}
            C.dump_json(os.path.join(C.OUT, "chat", f"{name}.json"), doc)
            n_err = sum(1 for c in cases if c.get("error"))
            summary[name] = {"cases": len(cases), "errors": n_err}
            print(f"[chat] {name}: {len(cases)} cases, {n_err} raise", flush=True)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            summary[name] = f"error: {type(e).__name__}: {e}"
    C.dump_json(os.path.join(C.OUT, "chat", "_report.json"), summary)


if __name__ == "__main__":
    main()
