/* llama-quantize's presets: which type each matrix of a model gets (ablab convert --quant and
 * --quant at load). The rules follow llama.cpp's llama_tensor_get_type for the presets ablab
 * writes, without an importance matrix, for models without experts: the output matrix (or a tied
 * embedding) takes Q6_K, some attention value and FFN down matrices take more bits, and a matrix
 * whose rows are no whole number of blocks falls back (eng_fit_dtype). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "formats.h"

static const EngQuantPreset k_presets[] = {
    {"f32", 0, ENG_DT_F32},     {"f16", 1, ENG_DT_F16},       {"bf16", 32, ENG_DT_BF16},
    {"q8_0", 7, ENG_DT_Q8_0},   {"q4_0", 2, ENG_DT_Q4_0},     {"q4_1", 3, ENG_DT_Q4_1},
    {"q5_0", 8, ENG_DT_Q5_0},   {"q5_1", 9, ENG_DT_Q5_1},     {"q2_k", 10, ENG_DT_Q2_K},
    {"q3_k_s", 11, ENG_DT_Q3_K}, {"q3_k_m", 12, ENG_DT_Q3_K}, {"q3_k_l", 13, ENG_DT_Q3_K},
    {"q4_k_s", 14, ENG_DT_Q4_K}, {"q4_k_m", 15, ENG_DT_Q4_K}, {"q5_k_s", 16, ENG_DT_Q5_K},
    {"q5_k_m", 17, ENG_DT_Q5_K}, {"q6_k", 18, ENG_DT_Q6_K},
};
/* llama-quantize's short names for the _M presets */
static const char *const k_alias[][2] = {{"q3_k", "q3_k_m"}, {"q4_k", "q4_k_m"}, {"q5_k", "q5_k_m"}};

const EngQuantPreset *eng_quant_preset(const char *name) {
    for (size_t i = 0; i < sizeof k_alias / sizeof *k_alias; i++)
        if (!strcasecmp(name, k_alias[i][0])) name = k_alias[i][1];
    for (size_t i = 0; i < sizeof k_presets / sizeof *k_presets; i++)
        if (!strcasecmp(name, k_presets[i].name)) return &k_presets[i];
    return NULL;
}

bool eng_quant_known(const char *quant) { return quant && eng_quant_preset(quant); }
const char *eng_quant_names(void) { return eng_quant_preset_list(); }

const char *eng_quant_preset_list(void) {
    return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, "
           "q5_k_m or q6_k";
}

EngQuantRole eng_quant_role(const char *name, int *layer) {
    *layer = -1;
    if (!strcmp(name, "output.weight")) return EQR_OUTPUT;
    if (!strcmp(name, "token_embd.weight")) return EQR_TOKEN_EMBD;
    if (sscanf(name, "blk.%d.", layer) != 1) *layer = -1;
    static const struct { const char *part; EngQuantRole role; } k[] = {
        {"attn_v.weight", EQR_ATTN_V},    {"attn_k.weight", EQR_ATTN_K},        {"attn_q.weight", EQR_ATTN_Q},
        {"ffn_down", EQR_FFN_DOWN},       {"attn_output.weight", EQR_ATTN_OUT}, {"attn_qkv.weight", EQR_ATTN_QKV},
        {"ffn_gate", EQR_FFN_GATE},       {"ffn_up", EQR_FFN_UP},
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++)
        if (strstr(name, k[i].part)) return k[i].role;
    return EQR_OTHER;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and every third between */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

EngDType eng_quant_pick(const EngQuantPreset *p, EngQuantRole role, int layer, const EngConfig *c, bool has_output,
                        int64_t cols) {
    EngDType t = p->base;
    if (!qtype_is_block((QType)t)) return eng_fit_dtype(t, cols); /* f32, f16, bf16: every matrix */
    int ft = (int)p->ftype, n = c->n_layer;
    int gqa = c->n_kv_head > 0 ? c->n_head / c->n_kv_head : 1;
    if (role == EQR_OUTPUT || (role == EQR_TOKEN_EMBD && !has_output)) {
        if (cols % (int64_t)qtype_block((QType)t)) t = ENG_DT_Q8_0;
        else if (t != ENG_DT_Q8_0) t = ENG_DT_Q6_K;
    } else if (role == EQR_ATTN_V) {
        if (ft == 10) t = gqa >= 4 ? ENG_DT_Q4_K : ENG_DT_Q3_K;
        else if (ft == 12) t = layer < 2 ? ENG_DT_Q5_K : ENG_DT_Q4_K;
        else if (ft == 13) t = ENG_DT_Q5_K;
        else if ((ft == 15 || ft == 17) && more_bits(layer, n)) t = ENG_DT_Q6_K;
        else if (ft == 14 && layer < 4) t = ENG_DT_Q5_K;
    } else if (role == EQR_FFN_DOWN) {
        if (ft == 10) t = ENG_DT_Q3_K;
        else if (ft == 12) t = layer < n / 16 ? ENG_DT_Q5_K : ENG_DT_Q4_K;
        else if (ft == 13) t = ENG_DT_Q5_K;
        else if (ft == 15 && more_bits(layer, n)) t = ENG_DT_Q6_K;
        else if (ft == 17 && more_bits(layer, n)) t = ENG_DT_Q6_K;
        else if (ft == 14 && layer < n / 8) t = ENG_DT_Q5_K;
    } else if (role == EQR_ATTN_OUT) {
        if (ft == 10) t = ENG_DT_Q3_K;
        else if (ft == 12) t = ENG_DT_Q4_K;
        else if (ft == 13) t = ENG_DT_Q5_K;
    } else if (role == EQR_ATTN_QKV) {
        if (ft == 12 || ft == 13) t = ENG_DT_Q4_K;
        else if (ft == 15) t = ENG_DT_Q5_K;
        else if (ft == 17) t = ENG_DT_Q6_K;
    }
    return eng_fit_dtype(t, cols);
}
