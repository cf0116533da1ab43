/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/formats/ may not include "ops.h". */
#error "layer wall: engine/formats/ may not include ops.h: loaders read files into a model; they never run or sample it"
