/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/tokenizer/ may not include "safetensors.h". */
#error "layer wall: engine/tokenizer/ may not include safetensors.h: the tokenizer knows text and ids, never models, weights, kernels or file formats"
