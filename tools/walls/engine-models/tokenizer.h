/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/models/ may not include "tokenizer.h". */
#error "layer wall: engine/models/ may not include tokenizer.h: a forward pass sees weights and kernels, never files, text or sampling"
