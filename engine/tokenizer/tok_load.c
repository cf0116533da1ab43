/* llama2.c tokenizer.bin, GGUF vocabularies, and finding the tokenizer that belongs to a model. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

int tok_setup_gpt2(Tokenizer *t, const char *pre, LabErr *e); /* tok_json.c */

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Counts the tokens of a llama2.c tokenizer file (the format has no count: it is the model's
 * vocabulary size); -1 with e filled if a record runs past the end. */
static long llama2c_count(const MappedFile *mf, LabErr *e) {
    const unsigned char *p = mf->data;
    size_t off = 4, n = 0;
    while (off < mf->size) {
        if (mf->size - off < 8) return lab_err(e, LAB_EFORMAT, "%s: token %zu: record header ends past the end of the file", mf->path, n);
        uint32_t len = rd_u32(p + off + 4);
        if (len > mf->size - off - 8)
            return lab_err(e, LAB_EFORMAT, "%s: token %zu: string length %u runs past the end of the file (%zu bytes left)",
                           mf->path, n, len, mf->size - off - 8);
        off += 8 + (size_t)len;
        n++;
    }
    return (long)n;
}

int tok_load_llama2c(Tokenizer **out, const char *path, int vocab_size, LabErr *e) {
    *out = NULL;
    MappedFile mf = {0};
    if (mapped_open(&mf, path, e)) return -1;
    Tokenizer *t = NULL;
    const unsigned char *p = mf.data;
    if (mf.size < 4) {
        lab_err(e, LAB_EFORMAT, "%s: too short for a llama2.c tokenizer (%zu bytes)", path, mf.size);
        goto fail;
    }
    int32_t max_len = (int32_t)rd_u32(p);
    if (max_len <= 0 || max_len > 1 << 20) {
        lab_err(e, LAB_EFORMAT, "%s: max_token_length %d is not a plausible llama2.c header", path, max_len);
        goto fail;
    }
    if (vocab_size <= 0) {
        long n = llama2c_count(&mf, e);
        if (n < 0) goto fail;
        vocab_size = (int)n;
    }
    if (vocab_size < 259 || vocab_size > 1 << 24) {
        lab_err(e, LAB_EFORMAT, "%s: %d tokens: a llama2.c vocabulary has <unk>, <s>, </s> and 256 byte tokens at least", path, vocab_size);
        goto fail;
    }
    if (!(t = tok_alloc(TOK_KIND_LLAMA2C, MODEL_LLAMA2C, path))) goto oom;
    if (tok_set_vocab_size(t, vocab_size, e)) goto fail;
    if (!(t->scores = malloc((size_t)vocab_size * sizeof *t->scores))) goto oom;
    size_t off = 4;
    for (int i = 0; i < vocab_size; i++) {
        if (mf.size - off < 8) {
            lab_err(e, LAB_EFORMAT, "%s: token %d: the file ends before its record (vocabulary of %d expected)", path, i, vocab_size);
            goto fail;
        }
        memcpy(&t->scores[i], p + off, 4);
        uint32_t len = rd_u32(p + off + 4);
        off += 8;
        if (len > mf.size - off) {
            lab_err(e, LAB_EFORMAT, "%s: token %d: string length %u runs past the end of the file (%zu bytes left)", path, i, len, mf.size - off);
            goto fail;
        }
        /* duplicates are allowed (run.c's binary search finds one of them): the first one wins */
        if (tok_set_token(t, i, (const char *)p + off, len, true, e)) goto fail;
        off += len;
    }
    /* what run.c shows: 0 <unk>, 1 BOS, 2 EOS; its byte tokens are at 3 + byte */
    t->bos_id = 1;
    t->eos_id = 2;
    for (int i = 0; i < 3; i++) t->special[i] = true;
    for (int b = 0; b < 256; b++) t->byte_id[b] = 3 + b;
    t->space_id = strmap_get(&t->vocab, " ", 1);
    TokDecStep st = {.type = DEC_LLAMA2C};
    if (dec_step_add(t, &st, e) || tok_finish(t, e)) goto fail;
    mapped_close(&mf);
    *out = t;
    return 0;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
fail:
    mapped_close(&mf);
    tok_free(t);
    return -1;
}

/* ---------- GGUF ---------- */
enum { GGUF_TT_NORMAL = 1, GGUF_TT_UNKNOWN = 2, GGUF_TT_CONTROL = 3, GGUF_TT_USER = 4, GGUF_TT_UNUSED = 5, GGUF_TT_BYTE = 6 };

static int gguf_setup_llama(Tokenizer *t, const TokGgufVocab *v, LabErr *e) {
    /* SentencePiece as Hugging Face's Llama tokenizer.json spells it: spaces → U+2581, a U+2581 in
     * front, pieces merged by score, byte fallback; decoded back the same way. */
    TokNorm *seq = calloc(1, sizeof *seq);
    if (!seq) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->norm = seq;
    seq->type = NORM_SEQ;
    if (!(seq->kids = calloc(2, sizeof *seq->kids))) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (v->add_space_prefix) {
        TokNorm *pp = calloc(1, sizeof *pp);
        if (!pp || !(pp->a = strdup("\xE2\x96\x81"))) {
            free(pp);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        pp->type = NORM_PREPEND;
        pp->a_len = 3;
        seq->kids[seq->n_kids++] = pp;
    }
    TokNorm *rp = calloc(1, sizeof *rp);
    if (!rp || !(rp->a = strdup(" ")) || !(rp->b = strdup("\xE2\x96\x81"))) {
        if (rp) free(rp->a);
        free(rp);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    rp->type = NORM_REPLACE;
    rp->a_len = 1;
    rp->b_len = 3;
    seq->kids[seq->n_kids++] = rp;
    TokDecStep steps[4] = {{.type = DEC_REPLACE}, {.type = DEC_BYTEFALLBACK}, {.type = DEC_FUSE},
                           {.type = DEC_STRIP, .content = ' ', .start = 1, .stop = 0}};
    if (!(steps[0].pat = strdup("\xE2\x96\x81")) || !(steps[0].rep = strdup(" "))) {
        free(steps[0].pat);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    steps[0].pat_len = 3;
    steps[0].rep_len = 1;
    for (int i = 0; i < (v->add_space_prefix ? 4 : 3); i++)
        if (dec_step_add(t, &steps[i], e)) {
            if (i == 0) { free(steps[0].pat); free(steps[0].rep); }
            return -1;
        }
    t->kind = TOK_KIND_BPE_SENTENCEPIECE;
    return 0;
}

int tok_from_gguf(Tokenizer **out, const TokGgufVocab *v, LabErr *e) {
    *out = NULL;
    const char *src = v->source ? v->source : "gguf";
    bool gpt2 = v->model && !strcmp(v->model, "gpt2"), llama = v->model && !strcmp(v->model, "llama");
    if (!gpt2 && !llama)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: tokenizer.ggml.model '%s' is not supported (gpt2 or llama)", src, v->model ? v->model : "(none)");
    if (!v->tokens || !v->token_lens || v->n_tokens == 0 || v->n_tokens > (1u << 24))
        return lab_err(e, LAB_EFORMAT, "%s: tokenizer.ggml.tokens has %zu entries", src, v->n_tokens);
    if (llama && !v->scores) return lab_err(e, LAB_EFORMAT, "%s: tokenizer.ggml.scores is missing (needed by a llama vocabulary)", src);
    Tokenizer *t = tok_alloc(gpt2 ? TOK_KIND_BPE_BYTELEVEL : TOK_KIND_BPE_SENTENCEPIECE, gpt2 ? MODEL_BPE_RANKS : MODEL_BPE_SCORES, src);
    if (!t) return lab_err(e, LAB_ENOMEM, "out of memory");
    int n = (int)v->n_tokens;
    if (tok_set_vocab_size(t, n, e)) goto fail;
    for (int i = 0; i < n; i++) {
        int32_t tt = GGUF_TT_NORMAL;
        if (v->token_type) memcpy(&tt, v->token_type + i, sizeof tt); /* may point into a mapping at any offset */
        if (tok_set_token(t, i, v->tokens[i], v->token_lens[i], true, e)) goto fail;
        if (tt == GGUF_TT_CONTROL || tt == GGUF_TT_USER) {
            TokAdded a = {(char *)v->tokens[i], v->token_lens[i], i, false, false, false, false, tt == GGUF_TT_CONTROL};
            if (a.len && tok_add_added(t, &a, e)) goto fail;
        }
    }
    if (llama) {
        if (!(t->scores = malloc((size_t)n * sizeof *t->scores))) goto oom;
        memcpy(t->scores, v->scores, (size_t)n * sizeof *t->scores); /* memcpy: any alignment */
        tok_find_byte_tokens(t);
        t->byte_fallback = true;
        if (gguf_setup_llama(t, v, e)) goto fail;
    } else {
        for (size_t i = 0; i < v->n_merges; i++) {
            const char *s = v->merges[i], *sp = memchr(s, ' ', v->merge_lens[i]);
            size_t len = v->merge_lens[i];
            if (!sp) {
                lab_err(e, LAB_EFORMAT, "%s: tokenizer.ggml.merges[%zu] is not two tokens separated by a space", src, i);
                goto fail;
            }
            int ia = strmap_get(&t->vocab, s, (size_t)(sp - s)), ib = strmap_get(&t->vocab, sp + 1, len - (size_t)(sp - s) - 1);
            Buf cat = {0};
            if (buf_append(&cat, s, (size_t)(sp - s)) || buf_append(&cat, sp + 1, len - (size_t)(sp - s) - 1)) {
                buf_free(&cat);
                goto oom;
            }
            int id = strmap_get(&t->vocab, cat.data, cat.len);
            buf_free(&cat);
            if (ia < 0 || ib < 0 || id < 0) {
                lab_err(e, LAB_EFORMAT, "%s: tokenizer.ggml.merges[%zu] '%.*s' names a token that is not in the vocabulary", src, i,
                        (int)(len > 80 ? 80 : len), s);
                goto fail;
            }
            if (pairmap_put(&t->merges, ia, ib, (int)i, id)) goto oom;
        }
        if (tok_setup_gpt2(t, v->pre, e)) goto fail;
    }
    if (v->unk_id >= 0 && v->unk_id < n) t->unk_id = v->unk_id;
    if (v->bos_id >= n || v->eos_id >= n) {
        lab_err(e, LAB_ERANGE, "%s: bos/eos id (%d/%d) past the vocabulary (%d tokens)", src, v->bos_id, v->eos_id, n);
        goto fail;
    }
    if (v->bos_id >= 0) t->bos_id = v->bos_id;
    if (v->eos_id >= 0) t->eos_id = v->eos_id;
    if (v->add_bos && t->bos_id >= 0 && (t->post_pre = malloc(sizeof(int)))) t->post_pre[t->n_post_pre++] = t->bos_id;
    if (v->add_eos && t->eos_id >= 0 && (t->post_post = malloc(sizeof(int)))) t->post_post[t->n_post_post++] = t->eos_id;
    if (tok_finish(t, e)) goto fail;
    *out = t;
    return 0;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
fail:
    tok_free(t);
    return -1;
}

/* ---------- finding files ---------- */
static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* A folder: tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe (OpenAI's names). */
static int load_dir(Tokenizer **out, const char *dir, LabErr *e) {
    static const char *pairs[][2] = {{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}};
    char *p = path_join(dir, "tokenizer.json");
    if (!p) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (file_exists(p) == 1) {
        int rc = tok_load_json(out, p, e);
        free(p);
        return rc;
    }
    free(p);
    for (int i = 0; i < 2; i++) {
        char *v = path_join(dir, pairs[i][0]), *m = path_join(dir, pairs[i][1]);
        int rc = 1;
        if (!v || !m) rc = lab_err(e, LAB_ENOMEM, "out of memory");
        else if (file_exists(v) == 1 && file_exists(m) == 1) rc = tok_load_vocab_merges(out, v, m, e);
        free(v);
        free(m);
        if (rc <= 0) return rc;
    }
    if (!(p = path_join(dir, "tokenizer.model"))) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (file_exists(p) == 1) {
        int rc = tok_load_spm(out, p, e);
        free(p);
        return rc;
    }
    free(p);
    return lab_err(e, LAB_ENOTFOUND, "%s: no tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe or tokenizer.model", dir);
}

/* Picks tokenizer.bin or tok*.bin beside a llama2.c checkpoint: the one with vocab_hint tokens. */
static int load_beside_bin(Tokenizer **out, const char *model, int vocab_hint, LabErr *e) {
    char *dir = path_dirname(model);
    if (!dir) return lab_err(e, LAB_ENOMEM, "out of memory");
    DIR *d = opendir(dir);
    if (!d) {
        int rc = lab_err(e, LAB_EIO, "%s: cannot list the folder", dir);
        free(dir);
        return rc;
    }
    char *best = NULL, *names = NULL;
    Buf tried = {0};
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!ends_with(nm, ".bin") || strncmp(nm, "tok", 3) != 0) continue;
        char *p = path_join(dir, nm);
        if (!p) continue;
        if (!strcmp(p, model) || file_exists(p) != 1) { free(p); continue; }
        MappedFile mf = {0};
        LabErr ig;
        long n = -1;
        if (mapped_open(&mf, p, &ig) == 0 && mf.size >= 4) n = llama2c_count(&mf, &ig);
        mapped_close(&mf);
        buf_printf(&tried, "%s%s (%ld tokens)", tried.len ? ", " : "", nm, n);
        bool fits = n > 0 && (vocab_hint <= 0 || n == vocab_hint);
        /* without a hint tokenizer.bin wins over other candidates */
        if (fits && (!best || (vocab_hint <= 0 && !strcmp(nm, "tokenizer.bin")))) {
            free(best);
            best = p;
        } else free(p);
    }
    closedir(d);
    int rc;
    if (best) rc = tok_load_llama2c(out, best, vocab_hint, e);
    else if (tried.len) rc = lab_err(e, LAB_ENOTFOUND, "%s: no tokenizer with %d tokens beside it (found %s)", model, vocab_hint, tried.data);
    else rc = lab_err(e, LAB_ENOTFOUND, "%s: no tokenizer.bin or tok*.bin beside it", model);
    free(best);
    free(names);
    buf_free(&tried);
    free(dir);
    return rc;
}

int tok_load_file(Tokenizer **out, const char *path, int vocab_hint, LabErr *e) {
    *out = NULL;
    if (file_exists(path) != 1) return lab_err(e, LAB_ENOTFOUND, "%s: no such file", path);
    const char *base = path_basename(path);
    if (!strcmp(base, "vocab.json") || !strcmp(base, "encoder.json")) {
        char *dir = path_dirname(path);
        char *m = dir ? path_join(dir, strcmp(base, "vocab.json") ? "vocab.bpe" : "merges.txt") : NULL;
        int rc = m ? tok_load_vocab_merges(out, path, m, e) : lab_err(e, LAB_ENOMEM, "out of memory");
        free(m);
        free(dir);
        return rc;
    }
    if (ends_with(path, ".json")) return tok_load_json(out, path, e);
    if (ends_with(path, ".bin")) return tok_load_llama2c(out, path, vocab_hint, e);
    if (ends_with(path, ".model")) return tok_load_spm(out, path, e);
    return lab_err(e, LAB_EUNSUPPORTED, "%s: not a tokenizer file this program reads (tokenizer.json, vocab.json, tokenizer.bin, a SentencePiece .model)", path);
}

int tok_load_for_model(Tokenizer **out, const char *model_path, int vocab_hint, LabErr *e) {
    *out = NULL;
    int kind = file_exists(model_path);
    if (kind == 2) return load_dir(out, model_path, e);
    if (kind != 1) return lab_err(e, LAB_ENOTFOUND, "%s: no such file or folder", model_path);
    if (ends_with(model_path, ".gguf"))
        return lab_err(e, LAB_EINVAL, "%s: a GGUF file carries its own vocabulary (read by the GGUF loader)", model_path);
    if (ends_with(model_path, ".json")) return tok_load_file(out, model_path, vocab_hint, e);
    if (ends_with(model_path, ".bin")) {
        if (vocab_hint <= 0) { /* the checkpoint's header says: 7 int32, the vocabulary is the 6th */
            FILE *f = fopen(model_path, "rb");
            unsigned char h[28];
            if (f && fread(h, 1, sizeof h, f) == sizeof h) {
                int32_t v = (int32_t)rd_u32(h + 20);
                if (v != INT32_MIN) vocab_hint = v < 0 ? -v : v;
            }
            if (f) fclose(f);
        }
        return load_beside_bin(out, model_path, vocab_hint, e);
    }
    return lab_err(e, LAB_EUNSUPPORTED, "%s: cannot tell which tokenizer belongs to this model", model_path);
}
