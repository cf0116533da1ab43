/* EngModel's services: the resources a model owns (file mappings, owned and huge-page weight
 * memory), weights as the kernels read them, the pool's scratch, and the forward entry points.
 * The loaders in formats/ build a model through these; load.c runs the load sequence. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gemm.h"
#include "chat.h"
#include "model.h"
#include "ops.h"
#include "tokenizer.h"

#ifdef MADV_POPULATE_READ
#define ABLAB_MADV_POPULATE_READ MADV_POPULATE_READ
#else
#define ABLAB_MADV_POPULATE_READ 22 /* Linux's value; EINVAL on kernels without it */
#endif

/* Maps the pages of [p, p + n) of a file mapping in one call instead of one fault per page (Linux
 * 5.14+; older kernels are asked to read ahead). */
static void populate(const void *p, size_t n) {
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = (uintptr_t)p + n;
    if (n && madvise((void *)lo, hi - lo, ABLAB_MADV_POPULATE_READ) != 0) madvise((void *)lo, hi - lo, MADV_WILLNEED);
}

EngModel *eng_model_new(void) {
    EngModel *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg.bos_id = m->cfg.eos_id = -1;
    m->info.bos_id = m->info.eos_id = -1;
    atomic_init(&m->refs, 1);
    return m;
}

const MappedFile *eng_model_map(EngModel *m, const char *path, LabErr *e) {
    MappedFile *nm = realloc(m->maps, (m->n_maps + 1) * sizeof *nm);
    if (!nm) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        return NULL;
    }
    m->maps = nm;
    if (mapped_open(&m->maps[m->n_maps], path, e)) return NULL;
    /* Weights read in place are all read for the first token: map the pages now (Linux 5.14+), as
     * llama.cpp's MAP_POPULATE does, rather than through ~100k page faults (about 0.2 s for GPT-2
     * 124M in F32) inside the first answer. Copied weights are mapped a tensor at a time. */
    MappedFile *mf = &m->maps[m->n_maps];
    if (mf->data && (m->keep_mapped || m->requant_pending)) populate(mf->data, mf->size);
    return &m->maps[m->n_maps++];
}

/* Lets the file pages of [p, p + n) go once a weight is copied out, so that loading a model never
 * holds it twice in the process (a page shared with a neighbour just maps again). */
static void release(const void *p, size_t n) {
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = (uintptr_t)p + n;
    madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void eng_model_release_maps(EngModel *m) {
    if (m->info.bytes_mapped) return;
    for (size_t i = 0; i < m->n_maps; i++)
        if (m->maps[i].data) release(m->maps[i].data, m->maps[i].size);
}

void *eng_model_alloc(EngModel *m, size_t bytes, bool counted, LabErr *e) {
    void **no = realloc(m->owned, (m->n_owned + 1) * sizeof *no);
    if (!no) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        return NULL;
    }
    m->owned = no;
    /* 64-byte aligned for the kernels; zeroed */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = NULL;
    size_t align = rounded >= ((size_t)4 << 20) ? ((size_t)2 << 20) : 64; /* huge-page aligned when big */
    if (rounded < bytes || posix_memalign(&p, align, rounded ? rounded : 64)) {
        lab_err(e, LAB_ENOMEM, "out of memory (%zu bytes)", bytes);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    /* big weight copies: huge pages cut the page faults of filling them (and TLB misses later) */
    if (rounded >= ((size_t)4 << 20)) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    if (!counted) memset(p, 0, rounded ? rounded : 64); /* weights are overwritten whole by the loader */
    m->owned[m->n_owned++] = p;
    if (counted) m->info.bytes_owned += bytes;
    return p;
}

/* From this size on, run-state buffers are mappings of their own: a KV cache of 2048 positions is
 * zeroed by the kernel page by page as answers fill it, not by a memset of all of it at load (for
 * two GPT-2 124M models, 150 MB: a tenth of a short `run`). */
#define STATE_MAP_BYTES ((size_t)1 << 20)

void *eng_model_state(EngModel *m, size_t bytes, LabErr *e) {
    struct EngStateMem *ns = realloc(m->state, (m->n_state + 1) * sizeof *ns);
    if (!ns) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        return NULL;
    }
    m->state = ns;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded < bytes) {
        lab_err(e, LAB_ENOMEM, "out of memory (%zu bytes)", bytes);
        return NULL;
    }
    void *p = NULL;
    bool mapped = rounded >= STATE_MAP_BYTES;
    if (mapped) {
        p = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) p = NULL;
    } else if (posix_memalign(&p, 64, rounded ? rounded : 64)) {
        p = NULL;
    } else {
        memset(p, 0, rounded ? rounded : 64);
    }
    if (!p) {
        lab_err(e, LAB_ENOMEM, "out of memory (%zu bytes)", bytes);
        return NULL;
    }
    m->state[m->n_state++] = (struct EngStateMem){p, rounded, mapped};
    return p;
}

bool eng_model_in_maps(const EngModel *m, const void *p) {
    for (size_t i = 0; i < m->n_maps; i++) {
        const uint8_t *d = m->maps[i].data;
        if ((const uint8_t *)p >= d && (const uint8_t *)p < d + m->maps[i].size) return true;
    }
    return false;
}

/* Weight memory comes in chunks of at least 64 MiB, 2 MiB aligned and advised for huge pages.
 * Decode streams every weight once per token: read from a file mapping (4 KiB pages of the page
 * cache) a step of the 200M-parameter scratch shape took 20-25 ms at best here, with about a tenth
 * of the steps stalling for 50-150 ms; from huge-page anonymous memory 16.5 ms, with no stalls
 * (tests/bench/README.md). A chunk's untouched tail costs address space only. */
#define ARENA_CHUNK ((size_t)64 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void *eng_model_weight_mem(EngModel *m, size_t bytes, LabErr *e) {
    size_t need = (bytes + 63) / 64 * 64;
    if (need < bytes || need > SIZE_MAX / 2) {
        lab_err(e, LAB_ENOMEM, "out of memory (%zu bytes)", bytes);
        return NULL;
    }
    if (!need) need = 64;
    struct EngArena *a = m->n_arena ? &m->arena[m->n_arena - 1] : NULL;
    if (!a || a->size - a->used < need) {
        struct EngArena *na = realloc(m->arena, (m->n_arena + 1) * sizeof *na);
        if (!na) {
            lab_err(e, LAB_ENOMEM, "out of memory");
            return NULL;
        }
        m->arena = na;
        size_t size = need > ARENA_CHUNK ? (need + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE : ARENA_CHUNK;
        uint8_t *raw = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) {
            lab_err(e, LAB_ENOMEM, "out of memory (%zu bytes of weights)", size);
            return NULL;
        }
        uint8_t *base = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (base > raw) munmap(raw, (size_t)(base - raw)); /* keep exactly [base, base + size) */
        if (base + size < raw + size + HUGE_PAGE) munmap(base + size, (size_t)(raw + size + HUGE_PAGE - (base + size)));
#ifdef MADV_HUGEPAGE
        madvise(base, size, MADV_HUGEPAGE);
#endif
        a = &m->arena[m->n_arena++];
        *a = (struct EngArena){base, size, 0};
    }
    void *p = a->base + a->used;
    a->used += need;
    m->info.bytes_owned += bytes;
    return p;
}

bool eng_q8r_wanted(void) { return quant_path() == QUANT_PATH_AVX512 && q8r_supported(); }

int eng_model_own(EngModel *m, EngTensor *W, LabErr *e) {
    if (m->keep_mapped || !W->data || !eng_model_in_maps(m, W->data)) return 0;
    bool repack = W->dt == ENG_DT_Q8_0 && !W->transposed && eng_q8r_wanted(); /* for VNNI, row by row */
    size_t bytes, held, qb = 0, rb = 0;
    if (!eng_dtype_bytes(W->dt, W->rows, W->cols, &bytes) ||
        !eng_dtype_bytes(repack ? ENG_DT_Q8R : W->dt, W->rows, W->cols, &held) ||
        (repack && (qtype_row_bytes(QT_Q8_0, (size_t)W->cols, &qb) || qtype_row_bytes(QT_Q8R, (size_t)W->cols, &rb))))
        return lab_err(e, LAB_ERANGE, "%s: tensor too large", m->name);
    uint8_t *c = eng_model_weight_mem(m, held, e);
    if (!c) return -1;
    populate(W->data, bytes);
    if (repack)
        for (int64_t r = 0; r < W->rows; r++)
            q8r_from_q8_0((const uint8_t *)W->data + (size_t)r * qb, c + (size_t)r * rb, (size_t)W->cols);
    else
        memcpy(c, W->data, bytes);
    release(W->data, bytes);
    W->data = c;
    if (repack) W->dt = ENG_DT_Q8R;
    m->info.bytes_mapped -= bytes;
    return 0;
}

static void convert_to_f32(float *dst, EngDType dt, const void *src, size_t n) {
    if (dt == ENG_DT_BF16) { /* a shift the compiler vectorizes: 200M weights in a fraction of a second */
        const uint16_t *h = src;
        uint32_t *d = (uint32_t *)dst;
        for (size_t i = 0; i < n; i++) d[i] = (uint32_t)h[i] << 16;
        return;
    }
    quant_to_f32((QType)dt, src, dst, n);
}

static int record(EngModel *m, const char *what, EngDType file_dt, const EngTensor *t, size_t bytes, bool mapped,
                  LabErr *e) {
    EngTensorInfo *ni = realloc(m->tinfo, (m->n_tinfo + 1) * sizeof *ni);
    if (!ni) return lab_err(e, LAB_ENOMEM, "out of memory");
    m->tinfo = ni;
    char *name = strdup(what);
    if (!name) return lab_err(e, LAB_ENOMEM, "out of memory");
    m->tinfo[m->n_tinfo++] = (EngTensorInfo){name, eng_dtype_name(file_dt), eng_dtype_name(t->dt), t->rows, t->cols,
                                             bytes, mapped};
    return 0;
}

int eng_model_weight(EngModel *m, EngTensor *out, EngDType dt, const void *data, int64_t rows, int64_t cols,
                     bool transposed, const char *what, LabErr *e) {
    size_t bytes;
    if (!eng_dtype_bytes(dt, rows, cols, &bytes))
        return lab_err(e, LAB_ERANGE, "%s: tensor '%s': %lld x %lld of %s is not a valid size", m->name, what,
                       (long long)rows, (long long)cols, eng_dtype_name(dt));
    *out = (EngTensor){.dt = dt, .data = data, .rows = rows, .cols = cols, .transposed = transposed};
    snprintf(m->file_dtype, sizeof m->file_dtype, "%s", eng_dtype_name(dt));
    /* F32, the block types and (when asked) F16/BF16 are kept as stored: copied into weight memory (Q8_0
     * repacked where eng_q8r_wanted), or read in place with --mmap or a --quant still to come.
     * F16/BF16 otherwise become F32 (BLAS speed); misaligned data and transposed halves too. */
    bool keep = dt == ENG_DT_F32 || qtype_is_block((QType)dt) || !m->convert_halves;
    if (transposed && dt != ENG_DT_F32) keep = false;
    bool aligned = ((uintptr_t)data % (dt == ENG_DT_F32 ? 4 : 2)) == 0;
    if (keep && aligned) {
        snprintf(m->dtype, sizeof m->dtype, "%s", eng_dtype_name(dt));
        m->info.bytes_mapped += bytes;
        if (m->keep_mapped || m->requant_pending) return record(m, what, dt, out, bytes, true, e);
        if (eng_model_own(m, out, e)) return -1;
        size_t held = bytes;
        eng_dtype_bytes(out->dt, rows, cols, &held);
        return record(m, what, dt, out, held, false, e);
    }
    if (qtype_is_block((QType)dt))
        return lab_err(e, LAB_EFORMAT, "%s: tensor '%s': misaligned %s data", m->name, what, eng_dtype_name(dt));
    size_t n = (size_t)rows * (size_t)cols, fbytes;
    if (!size_mul_ok(n, 4, &fbytes)) return lab_err(e, LAB_ERANGE, "%s: tensor '%s' too large", m->name, what);
    /* a --quant to come converts this again and frees it: only then take freeable memory */
    float *dst = m->requant_pending ? eng_model_alloc(m, fbytes, true, e) : eng_model_weight_mem(m, fbytes, e);
    if (!dst) return -1;
    if (aligned) convert_to_f32(dst, dt, data, n);
    else { /* unaligned source: one element at a time through an aligned copy */
        size_t es = dt == ENG_DT_F32 ? 4 : 2;
        for (size_t i = 0; i < n; i++) {
            uint32_t b = 0;
            memcpy(&b, (const char *)data + i * es, es);
            convert_to_f32(dst + i, dt, &b, 1);
        }
    }
    out->dt = ENG_DT_F32;
    out->data = dst;
    snprintf(m->dtype, sizeof m->dtype, "f32");
    return record(m, what, dt, out, fbytes, false, e);
}

int eng_model_vec(EngModel *m, const float **out, EngDType dt, const void *data, int64_t n, const char *what,
                  LabErr *e) {
    EngTensor t;
    bool saved = m->convert_halves;
    char dtype[16];
    memcpy(dtype, m->dtype, sizeof dtype);
    m->convert_halves = true; /* vectors are always F32 */
    int rc = eng_model_weight(m, &t, dt, data, 1, n, false, what, e);
    m->convert_halves = saved;
    memcpy(m->dtype, dtype, sizeof dtype);
    if (rc) return -1;
    *out = t.data;
    return 0;
}

/* Per-thread scratch of the pool's threads: attention scores (ATT_ROWS query rows of ctx each)
 * and, where gemm.c's kernel runs, its packed weight block. */
int eng_model_alloc_att(EngModel *m, LabErr *e) {
    size_t nt = (size_t)eng_pool_size(m->pool);
    size_t att = nt * ATT_ROWS * (size_t)m->s.ctx * sizeof(float);
    size_t pack = nt * GEMM_PACK_FLOATS * sizeof(float);
    float *pa = NULL, *pp = NULL;
    if (posix_memalign((void **)&pa, 64, att) || posix_memalign((void **)&pp, 64, pack)) {
        free(pa);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    free(m->s.att);
    free(m->s.pack);
    m->s.att = pa;
    m->s.pack = pp;
    m->att_bytes = att + pack;
    return 0;
}

/* What a model has for running: its threads, KV caches and scratch (its own, shared or not). */
static void free_run(EngModel *m) {
    eng_pool_free(m->pool);
    m->pool = NULL;
    for (size_t i = 0; i < m->n_state; i++) {
        if (m->state[i].mapped) munmap(m->state[i].p, m->state[i].bytes);
        else free(m->state[i].p);
    }
    free(m->state);
    m->state = NULL;
    m->n_state = 0;
    free(m->s.att);
    free(m->s.pack);
    free(m->logits_rows);
    m->s.att = m->s.pack = m->logits_rows = NULL;
    for (int i = 0; i < m->n_kv_spare; i++) free(m->kv_spare[i].p);
    m->n_kv_spare = 0;
}

/* What a model read from its files: weights, tokenizer, chat setup, names; and the struct. */
static void free_loaded(EngModel *m) {
    tok_free(m->tok);
    chat_setup_free(m->chat);
    free(m->chat);
    free(m->chat_error);
    for (size_t i = 0; i < m->n_maps; i++) mapped_close(&m->maps[i]);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    for (size_t i = 0; i < m->n_arena; i++) munmap(m->arena[i].base, m->arena[i].size);
    free(m->arena);
    free(m->maps);
    free(m->owned);
    for (size_t i = 0; i < m->n_tinfo; i++) free((char *)m->tinfo[i].name);
    free(m->tinfo);
    free(m->path);
    free(m->name);
    free(m->tok_path);
    for (int i = 0; i < m->n_adapters; i++) free((char *)m->adapters[i].path);
    free(m->adapters);
    free(m);
}

void eng_free(EngModel *m) {
    if (!m) return;
    free_run(m);
    EngModel *own = m->base ? m->base : m;
    if (m->base) free(m); /* a share owns nothing else */
    if (atomic_fetch_sub(&own->refs, 1) == 1) free_loaded(own);
}

const EngInfo *eng_info(const EngModel *m) { return &m->info; }

size_t eng_tensors(const EngModel *m, const EngTensorInfo **out) {
    *out = m->tinfo;
    return m->n_tinfo;
}

void eng_set_threads(EngModel *m, int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads == eng_pool_size(m->pool)) return;
    EngPool *p = eng_pool_new(n_threads);
    if (!p) return; /* keep the old pool */
    eng_pool_free(m->pool);
    m->pool = p;
    size_t old = m->att_bytes;
    if (eng_model_alloc_att(m, NULL)) { /* fall back to one thread: the scratch for it exists */
        eng_pool_free(m->pool);
        m->pool = eng_pool_new(1);
    }
    m->info.bytes_scratch = m->info.bytes_scratch - old + m->att_bytes;
    m->n_threads = eng_pool_size(m->pool);
    m->info.n_threads = m->n_threads;
}

int eng_forward(EngModel *m, const int *ids, int n, float *all_logits, LabErr *e) {
    const EngConfig *c = &m->cfg;
    if (n <= 0) return lab_err(e, LAB_EINVAL, "%s: no tokens to run", m->name);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return lab_err(e, LAB_EINVAL, "%s: token id %d at position %d is outside the vocabulary [0, %d)", m->name,
                           ids[i], i, c->vocab);
    if (n > m->s.ctx - m->s.pos)
        return lab_err(e, LAB_ERANGE, "%s: %d tokens at position %d do not fit the context of %d", m->name, n,
                       m->s.pos, m->s.ctx);
    for (int done = 0; done < n;) {
        int k = n - done < m->s.batch ? n - done : m->s.batch;
        float *lg = all_logits ? all_logits + (size_t)done * c->vocab : NULL;
        m->forward(m, ids + done, k, lg);
        done += k;
    }
    return 0;
}

int eng_forward_step(EngModel *m, int id, LabErr *e) {
    m->s.step = true;
    int rc = eng_forward(m, &id, 1, NULL, e);
    m->s.step = false;
    return rc;
}

/* s.k and s.v, where a pass over several caches puts its keys and values before they are stored. */
static int kv_staging(EngModel *m, LabErr *e) {
    EngRunState *s = &m->s;
    if (s->k) return 0;
    size_t kvd = (size_t)m->cfg.n_kv_head * m->cfg.head_dim, bytes = (size_t)s->batch * kvd * sizeof(float);
    float *k = eng_model_state(m, bytes, e), *v = k ? eng_model_state(m, bytes, e) : NULL;
    if (!v) return -1;
    s->k = k;
    s->v = v;
    m->info.bytes_scratch += 2 * bytes;
    return 0;
}

int eng_forward_prompts(EngModel *m, const int *const *ids, const int *n, EngSeq *seq, int k, float *logits, LabErr *e) {
    const EngConfig *c = &m->cfg;
    EngRunState *s = &m->s;
    int rows = 0;
    for (int i = 0; i < k; i++) {
        if (n[i] <= 0) return lab_err(e, LAB_EINVAL, "%s: prompt %d has no tokens", m->name, i);
        for (int t = 0; t < n[i]; t++)
            if (ids[i][t] < 0 || ids[i][t] >= c->vocab)
                return lab_err(e, LAB_EINVAL, "%s: token id %d at position %d of prompt %d is outside the vocabulary [0, %d)",
                               m->name, ids[i][t], t, i, c->vocab);
        if (seq[i].ctx > s->ctx || n[i] > seq[i].ctx - seq[i].pos)
            return lab_err(e, LAB_ERANGE, "%s: prompt %d: %d tokens at position %d do not fit the context of %d", m->name, i,
                           n[i], seq[i].pos, seq[i].ctx);
        rows += n[i];
        if (rows > s->batch)
            return lab_err(e, LAB_ERANGE, "%s: %d prompt tokens do not fit one pass of %d", m->name, rows, s->batch);
    }
    if (kv_staging(m, e)) return -1;
    EngSeq *rs = malloc((size_t)rows * sizeof *rs);
    int *all = malloc((size_t)rows * sizeof *all);
    if (!rs || !all) {
        free(rs);
        free(all);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    for (int i = 0, t = 0; i < k; i++)
        for (int j = 0; j < n[i]; j++, t++) {
            rs[t] = seq[i];
            rs[t].pos = seq[i].pos + j;
            all[t] = ids[i][j];
        }
    int pos = s->pos; /* the families advance s.pos: it is not the sequences' */
    s->seq = rs;
    s->prompt = true;
    m->forward(m, all, rows, logits);
    s->seq = NULL;
    s->prompt = false;
    s->pos = pos;
    for (int i = 0; i < k; i++) seq[i].pos += n[i];
    free(rs);
    free(all);
    return 0;
}

int eng_forward_seqs(EngModel *m, const int *ids, EngSeq *seq, int n, float *logits, LabErr *e) {
    const EngConfig *c = &m->cfg;
    EngRunState *s = &m->s;
    if (n <= 0) return lab_err(e, LAB_EINVAL, "%s: no tokens to run", m->name);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return lab_err(e, LAB_EINVAL, "%s: token id %d of sequence %d is outside the vocabulary [0, %d)", m->name,
                           ids[i], i, c->vocab);
        if (seq[i].pos >= seq[i].ctx || seq[i].ctx > s->ctx)
            return lab_err(e, LAB_ERANGE, "%s: sequence %d is full (%d positions of %d)", m->name, i, seq[i].pos,
                           seq[i].ctx);
    }
    if (kv_staging(m, e)) return -1;
    int pos = s->pos; /* the families advance s.pos: the one sequence's position is not theirs here */
    for (int done = 0; done < n;) {
        int k = n - done < s->batch ? n - done : s->batch;
        s->seq = seq + done;
        m->forward(m, ids + done, k, logits + (size_t)done * c->vocab);
        s->seq = NULL;
        for (int i = done; i < done + k; i++) seq[i].pos++;
        done += k;
    }
    s->pos = pos;
    return 0;
}

int eng_logits(EngModel *m, const int *ids, int n, float *out, LabErr *e) {
    if (m->busy) return lab_err(e, LAB_EINVAL, "%s: a generation is using this model", m->name);
    m->s.pos = 0;
    return eng_forward(m, ids, n, out, e);
}
