/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/tokenizer/ may not include "models.h". */
#error "layer wall: engine/tokenizer/ may not include models.h: the tokenizer knows text and ids, never models, weights, kernels or file formats"
