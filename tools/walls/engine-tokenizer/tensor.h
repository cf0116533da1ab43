/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/tokenizer/ may not include "tensor.h". */
#error "layer wall: engine/tokenizer/ may not include tensor.h: the tokenizer knows text and ids, never models, weights, kernels or file formats"
