#!/usr/bin/env python3
"""Writes the libFuzzer dictionaries next to this script (committed; rerun after editing a list).
Every entry is escaped as \\xNN outside printable ASCII, as libFuzzer's dictionary format wants."""
def esc(b):
    return b'"' + b''.join(bytes([c]) if 32 <= c < 127 and c not in (34, 92) else b'\\x%02X' % c for c in b) + b'"'
def w(name, comment, words):
    with open(name + '.dict', 'wb') as f:
        f.write(b'# ' + comment.encode() + b'\n')
        for x in words:
            f.write(esc(x if isinstance(x, bytes) else x.encode()) + b'\n')
J = ['{', '}', '[', ']', ':', ',', 'null', 'true', 'false', '\\u0000', '\\ud800', '1e308', '-1', '0', '9223372036854775807', '18446744073709551616', '""']
q = lambda *ks: ['"%s"' % k for k in ks]
w('safetensors', 'safetensors header keys and values', J + q('dtype', 'shape', 'data_offsets', '__metadata__', 'F32', 'F16', 'BF16', 'I64', 'F64', 'U8', 'BOOL', 'F8_E4M3',
  'model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight', 'model.layers.0.input_layernorm.weight') + [b'\x00' * 8])
w('config', 'config.json and generation_config.json keys, and the harness marker', [b'\n\x00GEN\x00\n'] + J + q('qwen2', 'qwen3', 'phi', 'gemma3_text', 'gpt_neox', 'layer_types', 'sliding_window', 'partial_rotary_factor', 'rotary_pct', 'use_parallel_residual', 'rope_local_base_freq', 'query_pre_attn_scalar', 'final_logit_softcapping', 'sliding_attention', 'full_attention', 'linear', 'llama3', 'factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings', 'pad_token_id', 'do_sample', 'temperature', 'top_k', 'top_p', 'model_type', 'llama', 'gpt2', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
  'vocab_size', 'max_position_embeddings', 'rms_norm_eps', 'tie_word_embeddings', 'attention_bias', 'mlp_bias', 'head_dim', 'hidden_act', 'silu', 'rope_theta', 'rope_scaling',
  'rope_parameters', 'rope_type', 'default', 'n_embd', 'n_layer', 'n_head', 'n_positions', 'n_inner', 'layer_norm_epsilon', 'activation_function', 'gelu_new',
  'scale_attn_weights', 'bos_token_id', 'eos_token_id'))
w('gguf', 'GGUF magic, versions, key and tensor names', [b'GGUF', b'\x03\x00\x00\x00', b'\x00' * 8, b'\xff' * 7 + b'\x7f', b'\x08\x00\x00\x00', b'\x09\x00\x00\x00'] + [
  'general.architecture', 'general.alignment', 'llama', 'gpt2', 'llama.block_count', 'llama.embedding_length', 'llama.context_length', 'llama.feed_forward_length',
  'llama.attention.head_count', 'llama.attention.head_count_kv', 'llama.attention.key_length', 'llama.rope.freq_base', 'llama.attention.layer_norm_rms_epsilon',
  'llama.rope.scaling.type', 'gpt2.block_count', 'tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.pre', 'token_embd.weight', 'output.weight',
  'output_norm.weight', 'blk.0.attn_q.weight', 'blk.0.attn_norm.weight', 'blk.0.ffn_down.weight', 'position_embd.weight'])
w('tokenizer_json', 'tokenizer.json components, and the harness text marker', J + q('model', 'type', 'BPE', 'vocab', 'merges', 'unk_token', 'byte_fallback', 'fuse_unk', 'ignore_merges',
  'continuing_subword_prefix', 'end_of_word_suffix', 'added_tokens', 'content', 'special', 'single_word', 'lstrip', 'rstrip', 'normalized', 'id', 'normalizer', 'Sequence',
  'normalizers', 'NFC', 'NFKC', 'NFD', 'Lowercase', 'Strip', 'Replace', 'Prepend', 'prepend', 'pattern', 'String', 'Regex', 'pre_tokenizer', 'pretokenizers', 'ByteLevel',
  'Metaspace', 'Split', 'Digits', 'Whitespace', 'Punctuation', 'behavior', 'Isolated', 'Removed', 'add_prefix_space', 'use_regex', 'replacement', 'prepend_scheme', 'always',
  'first', 'never', 'post_processor', 'TemplateProcessing', 'single', 'SpecialToken', 'special_tokens', 'decoder', 'decoders', 'ByteFallback', 'Fuse', '\\u2581', '<s>',
  '</s>', '<0x41>') + [b'\n\x00TEXT\x00\n', '\u2581'.encode()])
w('vocab_merges', 'vocab.json / merges.txt pieces, and the harness marker', ['{', '}', '": ', ', "', '#version: 0.2', '\\u0120', '\u0120'.encode(), ' ', b'\n', b'\n\x00MERGES\x00\n'])
w('prompts', 'prompt file lines and JSON lines', ['{"prompt": "', '"}', '#', '\\n', '\\u0000', b'\r\n', b'\t', '{"text": 1}', b'\xc3\xa9', b'\xf0\x9f\x98\x80', b'\xed\xa0\x80', b'\xff'])
w('chat_template', 'Jinja tags, operators and names of chat templates, and the harness marker', [b'\n\x00MSG\x00\n',
  '{{', '}}', '{%', '%}', '{#', '#}', '{%-', '-%}', '{{-', '-}}', '{%+', '+%}', 'if', 'elif', 'else', 'endif', 'for', 'in',
  'endfor', 'set', 'endset', 'macro', 'endmacro', 'namespace(', 'raw', 'endraw', 'break', 'continue', 'loop.index0',
  'loop.first', 'loop.last', 'is defined', 'is not none', 'is string', 'is iterable', 'is mapping', 'not', 'and', 'or',
  '|trim', '|tojson', '|length', '|selectattr(', '|list', '|join(', '|default(', '|items', '|map(attribute=', '~', '[::-1]',
  '[1:]', '.strip()', '.split(', '.startswith(', "raise_exception('x')", "strftime_now('%Y')", 'range(', 'messages',
  "message['role']", 'message.content', 'add_generation_prompt', 'bos_token', 'eos_token', 'tools', 'none', 'true', '"\\n"'])
w('import', 'params.json, model_args.json, MAP.json and config keys, tensor names, and the harness markers', [b'\n\x00MAP\x00\n', b'\n\x00ST\x00\n', 'meta\n', 'nanogpt\n', 'map\n'] + J + q(
  'dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'hidden_dim', 'multiple_of', 'ffn_dim_multiplier', 'norm_eps', 'rope_theta', 'max_seq_len',
  'n_layer', 'n_head', 'n_embd', 'block_size', 'bias', 'dropout', 'rules', 'from', 'to', 'transpose', 'rotary', 'split', 'drop', 'q', 'k', '_about',
  'model_type', 'llama', 'gpt2', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'max_position_embeddings', 'tie_word_embeddings', 'attention_bias', 'mlp_bias', 'dtype', 'shape', 'data_offsets', 'F32', 'F16', 'BF16', 'I64',
  'tok_embeddings.weight', 'output.weight', 'norm.weight', 'layers.0.attention.wq.weight', 'layers.1.attention.wk.weight', 'rope.freqs',
  'transformer.wte.weight', 'lm_head.weight', 'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.bias', 'model.layers.0.self_attn.q_proj.weight')
  + ['$1', '$2', '$$', '(\\d+)', '\\.', '.*', '(a+)+', b'\x00' * 8])
