// The GGUF reader on files written here byte by byte: a valid file with every kind of metadata
// and two tensors (F32 and Q8_0) reads back exactly; every shorter prefix of it, and each kind of
// damage a hostile file can carry (bad magic or version, repeated keys or tensor names, tensors
// misaligned, overlapping or past the end, unknown types, rows that are not whole blocks, too
// many dimensions, a zero extent, a bad alignment, nested arrays, counts the file cannot hold), is
// refused with a message saying what is wrong.
#include <stdlib.h>
#include <string.h>

#include "lm/gguf.h"
#include "support/gguf_writer.h"
#include "test.h"

// What to spoil in the file that build() writes.
struct damage {
    const char *magic;
    uint32_t version;
    bool dup_key, dup_tensor, nested;
    uint64_t b_offset;  // offset of tensor "b" (default 32)
    uint32_t b_type;    // default Q8_0
    uint64_t b_ne0;     // default 64
    uint32_t b_dims;    // default 1
    uint32_t alignment; // default 32
    uint64_t n_tensors; // written count (default 2)
};

// A file: 8 metadata entries (9 with a repeated key or a nested array), tensors "a" (F32, 4 x 2,
// the values 0..7) and "b" (Q8_0, 64 values: two blocks), then the data section.
static void build(struct rl_buf *b, const struct damage *d) {
    rl_buf_init(b, 1 << 20);
    gguf_put(b, d->magic ? d->magic : "GGUF", 4);
    gguf_put_u32(b, d->version ? d->version : 3);
    gguf_put_u64(b, d->n_tensors ? d->n_tensors : 2);
    gguf_put_u64(b, 8 + (d->dup_key || d->nested));
    gguf_put_key(b, "general.architecture", RL_GGUF_STRING);
    gguf_put_str(b, "llama");
    gguf_put_key(b, "general.alignment", RL_GGUF_U32);
    gguf_put_u32(b, d->alignment ? d->alignment : 32);
    gguf_put_key(b, "llama.block_count", RL_GGUF_U32);
    gguf_put_u32(b, 2);
    gguf_put_key(b, "llama.attention.layer_norm_rms_epsilon", RL_GGUF_F32);
    float eps = 1e-5f;
    gguf_put(b, &eps, 4);
    gguf_put_key(b, "tokenizer.ggml.add_bos_token", RL_GGUF_BOOL);
    gguf_put(b, "\1", 1);
    gguf_put_strings(b, "tokenizer.ggml.tokens", (const char *const[]){"<s>", "", "hello"}, 3);
    gguf_put_key(b, "tokenizer.ggml.token_type", RL_GGUF_ARRAY);
    gguf_put_u32(b, RL_GGUF_I32);
    gguf_put_u64(b, 3);
    for (int32_t i = 1; i <= 3; i++)
        gguf_put(b, &i, 4);
    gguf_put_key(b, "general.signed", RL_GGUF_I64);
    gguf_put_u64(b, (uint64_t)-7);
    if (d->dup_key) {
        gguf_put_key(b, "llama.block_count", RL_GGUF_U32);
        gguf_put_u32(b, 3);
    }
    if (d->nested) {
        gguf_put_key(b, "nested", RL_GGUF_ARRAY);
        gguf_put_u32(b, RL_GGUF_ARRAY);
        gguf_put_u64(b, 1);
    }
    // Tensor infos.
    gguf_put_str(b, "a");
    gguf_put_u32(b, 2);
    gguf_put_u64(b, 4);
    gguf_put_u64(b, 2);
    gguf_put_u32(b, RL_GGML_F32);
    gguf_put_u64(b, 0);
    gguf_put_str(b, d->dup_tensor ? "a" : "b");
    gguf_put_u32(b, d->b_dims ? d->b_dims : 1);
    for (uint32_t i = 0; i < (d->b_dims ? d->b_dims : 1); i++)
        gguf_put_u64(b, i == 0 ? (d->b_ne0 ? d->b_ne0 : 64) : 1);
    gguf_put_u32(b, d->b_type ? d->b_type : RL_GGML_Q8_0);
    gguf_put_u64(b, d->b_offset ? d->b_offset : 32);
    // Padding to the alignment, then the data: a's 8 floats, b's two 34-byte blocks.
    uint32_t align = d->alignment && (d->alignment & (d->alignment - 1)) == 0 ? d->alignment : 32;
    gguf_put_pad(b, align);
    for (int i = 0; i < 8; i++) {
        float v = (float)i;
        gguf_put(b, &v, 4);
    }
    for (int i = 0; i < 68; i++)
        gguf_put(b, &(uint8_t){(uint8_t)i}, 1);
}

static int parse(const struct rl_buf *b, struct rl_gguf *g, char *err) {
    return rl__gguf_parse((const uint8_t *)b->data, b->len, "t.gguf", g, err);
}

TEST(gguf_reads_a_valid_file) {
    struct rl_buf b;
    build(&b, &(struct damage){0});
    struct rl_gguf g;
    char err[RL_ERRBUF_SIZE] = "";
    if (parse(&b, &g, err) != RL_OK)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(g.version, 3);
    ASSERT_EQ(g.n_kv, 8);
    ASSERT_EQ(g.n_tensors, 2);
    ASSERT_EQ(g.alignment, 32);
    struct rl_gguf_str s;
    ASSERT_OK(rl__gguf_string(&g, "general.architecture", &s));
    ASSERT(rl__gguf_str_eq(s, "llama"));
    uint64_t u;
    ASSERT_OK(rl__gguf_uint(&g, "llama.block_count", 100, &u));
    ASSERT_EQ(u, 2);
    ASSERT_EQ(rl__gguf_uint(&g, "llama.block_count", 1, &u), RL_EFORMAT); // above max
    ASSERT_EQ(rl__gguf_uint(&g, "general.signed", 100, &u), RL_EFORMAT);  // negative
    ASSERT_EQ(rl__gguf_uint(&g, "general.architecture", 100, &u), RL_EFORMAT);
    ASSERT_EQ(rl__gguf_uint(&g, "no.such.key", 100, &u), RL_EINVAL);
    double f;
    ASSERT_OK(rl__gguf_float(&g, "llama.attention.layer_norm_rms_epsilon", &f));
    ASSERT_NEAR(f, 1e-5, 1e-12);
    bool yes = false;
    ASSERT_OK(rl__gguf_bool(&g, "tokenizer.ggml.add_bos_token", &yes));
    ASSERT(yes);
    const struct rl_gguf_kv *tokens = rl__gguf_find(&g, "tokenizer.ggml.tokens");
    ASSERT(tokens && tokens->type == RL_GGUF_ARRAY && tokens->elem == RL_GGUF_STRING);
    ASSERT_EQ(tokens->n, 3);
    ASSERT(rl__gguf_str_eq(tokens->strings[0], "<s>") && tokens->strings[1].len == 0 &&
           rl__gguf_str_eq(tokens->strings[2], "hello"));
    const struct rl_gguf_kv *types = rl__gguf_find(&g, "tokenizer.ggml.token_type");
    ASSERT(types && types->elem == RL_GGUF_I32 && types->n == 3);
    int32_t third;
    memcpy(&third, types->data + 8, 4);
    ASSERT_EQ(third, 3);
    const struct rl_gguf_tensor *a = rl__gguf_tensor(&g, "a"), *t = rl__gguf_tensor(&g, "b");
    ASSERT(a && t && !rl__gguf_tensor(&g, "c") && !rl__gguf_tensor(&g, ""));
    ASSERT(a->n_dims == 2 && a->ne[0] == 4 && a->ne[1] == 2 && a->ne[2] == 1);
    ASSERT_EQ(a->nbytes, 32);
    float v7;
    memcpy(&v7, a->data + 28, 4);
    ASSERT_NEAR(v7, 7, 0);
    ASSERT_EQ(t->type, RL_GGML_Q8_0);
    ASSERT_EQ(t->nbytes, 68);
    ASSERT_EQ(t->data - a->data, 32);
    ASSERT_EQ(t->data[67], 67);
    ASSERT_EQ((size_t)(t->data + t->nbytes - (const uint8_t *)b.data), b.len);
    rl__gguf_free(&g);

    // Every prefix is refused: the last tensor's bytes end the file.
    for (size_t n = 0; n < b.len; n++) {
        if (rl__gguf_parse((const uint8_t *)b.data, n, "t.gguf", &g, err) == RL_OK)
            TEST_FAIL_("a prefix of %zu of %zu bytes parsed", n, b.len);
        rl__gguf_free(&g);
    }
    rl_buf_free(&b);
    return 0;
}

TEST(gguf_refuses_damaged_files) {
    static const struct {
        /* input */
        struct damage d;
        /* output */
        int status;
        const char *want;
    } cases[] = {
        {{.magic = "GGML"}, RL_EFORMAT, "t.gguf: not a GGUF file (no GGUF magic)"},
        {{.version = 1}, RL_EUNSUPPORTED, "GGUF version 1 (versions 2 and 3 are read)"},
        {{.version = 4}, RL_EUNSUPPORTED, "GGUF version 4"},
        {{.dup_key = true}, RL_EFORMAT, "metadata key llama.block_count appears twice"},
        {{.dup_tensor = true}, RL_EFORMAT, "tensor a appears twice"},
        {{.nested = true}, RL_EUNSUPPORTED, "nested: arrays of arrays are not read"},
        {{.b_offset = 4}, RL_EFORMAT, "tensor b: offset 4 and 68 bytes do not fit"},
        {{.b_offset = 16}, RL_EFORMAT, "tensor b: offset 16"},
        {{.b_offset = 1024}, RL_EFORMAT, "tensor b: offset 1024"},
        {{.b_type = 99}, RL_EUNSUPPORTED, "tensor b: unknown ggml type 99"},
        {{.b_ne0 = 40}, RL_EFORMAT, "tensor b: a row of 40 is not whole Q8_0 blocks of 32"},
        {{.b_dims = 5}, RL_EFORMAT, "a tensor has no dimensions or more than 4"},
        {{.b_ne0 = UINT64_MAX}, RL_EFORMAT, "a tensor extent is 0 or the tensor is too large"},
        {{.alignment = 24}, RL_EFORMAT, "general.alignment must be a power of two"},
        {{.n_tensors = UINT64_MAX}, RL_ETOOBIG, "tensors and 8 metadata entries (at most"},
        {{.n_tensors = 3}, RL_EFORMAT, "t.gguf: "},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_buf b;
        build(&b, &cases[i].d);
        struct rl_gguf g;
        char err[RL_ERRBUF_SIZE] = "";
        int rc = parse(&b, &g, err);
        if (rc != cases[i].status || !strstr(err, cases[i].want))
            TEST_FAIL_("case %zu: rc %d, message '%s' (want %d, '%s')", i, rc, err, cases[i].status,
                       cases[i].want);
        ASSERT_EQ(g.n_tensors, 0); // a refused file leaves nothing behind
        rl__gguf_free(&g);
        rl_buf_free(&b);
    }
    // Two overlapping tensors that are both aligned: b starts inside a.
    struct rl_buf b;
    build(&b, &(struct damage){.alignment = 16, .b_offset = 16});
    struct rl_gguf g;
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_EQ(parse(&b, &g, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "two tensors overlap at offset 16");
    rl_buf_free(&b);
    ASSERT_EQ(rl__gguf_open("/nonexistent.gguf", &g, err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "/nonexistent.gguf");
    return 0;
}
