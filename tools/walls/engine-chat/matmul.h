/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/chat/ may not include "matmul.h". */
#error "layer wall: engine/chat/ may not include matmul.h: chat templates know messages and text, never tokenizers, models, weights, kernels or file formats"
