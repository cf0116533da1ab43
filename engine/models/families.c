/* The table of model families: how each file format names the architecture, and its forward pass.
 * A family added to ablab is one file in this folder and one row here. */
#include <stdio.h>
#include <string.h>

#include "models.h"

static const EngFamily families[] = {
    {ENG_ARCH_LLAMA, "llama", "llama", llama_forward},
    {ENG_ARCH_GPT2, "gpt2", "gpt2", gpt2_forward},
    {ENG_ARCH_QWEN2, "qwen2", "qwen2", llama_forward},
    {ENG_ARCH_QWEN3, "qwen3", "qwen3", llama_forward},
    {ENG_ARCH_GPTNEOX, "gpt_neox", "gptneox", gptneox_forward},
    {ENG_ARCH_PHI, "phi", "phi2", phi_forward},
    {ENG_ARCH_GEMMA3, "gemma3_text", "gemma3", gemma3_forward},
};
#define N_FAMILIES (sizeof families / sizeof *families)

const EngFamily *eng_family(EngArch arch) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (families[i].arch == arch) return &families[i];
    return NULL;
}

const EngFamily *eng_family_by_hf(const char *name) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (name && !strcmp(families[i].hf_type, name)) return &families[i];
    return NULL;
}

const EngFamily *eng_family_by_gguf(const char *name) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (name && !strcmp(families[i].gguf_arch, name)) return &families[i];
    return NULL;
}

const char *eng_family_list(bool gguf, char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = 0;
    for (size_t i = 0; i < N_FAMILIES && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "",
                                 gguf ? families[i].gguf_arch : families[i].hf_type);
    return buf;
}
