/* Private to engine/: LoRA adapters applied to a loaded model (lora.c). */
#ifndef ABLAB_LORA_H
#define ABLAB_LORA_H

#include "model.h"

/* Splits "PATH[:SCALE]" (the scale: a number after the last ':', else all of it is the path; 1 when
 * absent). *path is malloc'd. -1 with e filled for an empty path or a non-finite scale. */
int eng_lora_spec(const char *spec, char **path, float *scale, LabErr *e);
/* Applies the adapter spec names to m (after any --quant, before the run state): F32 matrices merged,
 * others keep the low-rank pair beside them (EngTensor.lora). Recorded in m->adapters. -1 with e
 * naming the file and the tensor or key that is refused. */
int eng_lora_apply(EngModel *m, const char *spec, LabErr *e);

#endif
