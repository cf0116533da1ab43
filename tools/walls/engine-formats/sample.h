/* Room wall inside engine/ (engine/meson.build lists the rooms): engine/formats/ may not include "sample.h". */
#error "layer wall: engine/formats/ may not include sample.h: loaders read files into a model; they never run or sample it"
