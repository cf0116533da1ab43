/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/kernels/ may not include "gguf.h". */
#error "layer wall: engine/kernels/ may not include gguf.h: kernels see tensors, buffers and the pool only, never a model, a file format or the tokenizer"
