// Internal interface: the tokenizer of a causal LM, read from its GGUF metadata, giving the ids
// that llama.cpp's llama_tokenize gives with add_special = false and parse_special = false (the
// defaults of llama-cpp-python's Llama.tokenize(..., add_bos=False, special=False)).
//
// Two vocabulary kinds, chosen by tokenizer.ggml.model:
//   "gpt2"   byte-level BPE (bpe.c): the text is cut into words by the pre-tokenizer named in
//            tokenizer.ggml.pre (only "smollm": each digit alone, then the GPT-2 pattern), each
//            word's bytes are mapped to GPT-2's printable byte alphabet and merged by the ranks of
//            tokenizer.ggml.merges;
//   "llama"  SentencePiece-style (spm.c): spaces become U+2581, an optional space is prefixed
//            (tokenizer.ggml.add_space_prefix), adjacent pieces are merged best score first
//            (tokenizer.ggml.scores), and what no token covers falls back to <0xNN> byte tokens.
// In both, the user-defined tokens (token_type 4) are cut out of the raw text first, longest
// first, and emitted as themselves; control tokens (3) are plain text, as with special = false.
//
// Input is any byte string. Invalid UTF-8 is read as llama.cpp reads it: by the BPE vocabulary
// each undecodable byte becomes U+FFFD (overlong forms and surrogates decode without complaint);
// the SentencePiece vocabulary never decodes and falls back to byte tokens. A 4-byte sequence
// above U+10FFFF, on which llama.cpp stops with an exception, becomes U+FFFD here.
//
// A vocabulary is immutable once loaded and may be shared by threads; each call to
// rl__lm_tokenize allocates its own scratch memory. It owns copies of everything it needs: the
// GGUF file may be closed after rl__lm_vocab_load.
#ifndef RL_SRC_LM_VOCAB_H
#define RL_SRC_LM_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lm/gguf.h"

#define RL_LM_VOCAB_MAX_TOKENS (1u << 22)
#define RL_LM_VOCAB_MAX_TOKEN  65535       // bytes in one token or one side of a merge
#define RL_LM_VOCAB_MAX_TEXT   (16u << 20) // bytes of text rl__lm_tokenize accepts

enum rl_lm_vocab_kind {
    RL_LM_VOCAB_BPE = 1, // tokenizer.ggml.model "gpt2"
    RL_LM_VOCAB_SPM = 2, // tokenizer.ggml.model "llama"
};

// tokenizer.ggml.token_type, as llama.cpp numbers it.
enum rl_lm_token_type {
    RL_LM_TOKEN_UNDEFINED = 0,
    RL_LM_TOKEN_NORMAL = 1,
    RL_LM_TOKEN_UNKNOWN = 2,
    RL_LM_TOKEN_CONTROL = 3,
    RL_LM_TOKEN_USER_DEFINED = 4,
    RL_LM_TOKEN_UNUSED = 5,
    RL_LM_TOKEN_BYTE = 6,
};

struct rl__lm_slot {
    uint32_t hash;
    int32_t id; // -1: empty
};

// An open-addressing table of byte strings (power-of-two size, linear probing).
struct rl__lm_table {
    struct rl__lm_slot *slots; // (mask + 1)
    uint32_t mask;
};

struct rl__lm_vocab {
    enum rl_lm_vocab_kind kind;
    size_t n_tokens;
    char *text;              // every token's bytes, back to back
    uint32_t *off;           // (n_tokens + 1) token i is text[off[i] .. off[i + 1])
    uint8_t *type;           // (n_tokens) enum rl_lm_token_type
    float *score;            // (n_tokens) SentencePiece scores; NULL for BPE
    struct rl__lm_table ids; // token text -> id

    // BPE: merge rank r joins merge_text[m_off[2r] .. m_off[2r+1]) and
    // merge_text[m_off[2r+1] .. m_off[2r+2]).
    size_t n_merges;
    char *merge_text;
    uint32_t *m_off;            // (2 n_merges + 1)
    struct rl__lm_table merges; // pair -> rank (the first line wins when a pair repeats)

    int32_t byte_id[256]; // SPM: the token of byte b (<0xNN>, else the byte itself)
    int32_t raw_id[256];  // BPE: the token whose text is the single byte b, or -1

    // User-defined tokens cut out of the raw text, longest first (ties: lower id first).
    int32_t *special; // (n_special)
    size_t n_special;

    bool add_space_prefix;          // SPM
    bool add_bos;                   // tokenizer.ggml.add_bos_token (not applied by tokenize)
    int32_t bos_id, eos_id, unk_id; // -1 when the file names none
};

// Read the tokenizer from an opened GGUF file. RL_OK, or RL_EFORMAT (a missing or ill-typed key,
// a duplicate token), RL_ETOOBIG (more than RL_LM_VOCAB_MAX_TOKENS tokens or merges),
// RL_EUNSUPPORTED (another tokenizer model or
// pre-tokenizer; an SPM vocabulary without byte tokens) or RL_ENOMEM, with errbuf saying which
// key and what was found. *v is zeroed on failure.
// name is the file's name, for messages.
int rl__lm_vocab_load(const struct rl_gguf *g, const char *name, struct rl__lm_vocab *v,
                      char *errbuf) RL_NODISCARD;
void rl__lm_vocab_free(struct rl__lm_vocab *v); // safe on a zeroed struct

// The id of the token whose text is s[0..n), or -1.
int32_t rl__lm_vocab_find(const struct rl__lm_vocab *v, const char *s, size_t n);
// The text of token id (len bytes, not NUL-terminated); NULL when id is out of range.
const char *rl__lm_vocab_token(const struct rl__lm_vocab *v, int32_t id, size_t *len);

// Tokenize text[0..len). Writes at most cap ids to ids (which may be NULL when cap is 0) and
// returns how many there are in all (call again with a larger buffer when that exceeds cap), or
// RL_ETOOBIG (len > RL_LM_VOCAB_MAX_TEXT) or RL_ENOMEM.
int rl__lm_tokenize(const struct rl__lm_vocab *v, const char *text, size_t len, int32_t *ids,
                    size_t cap);

// ----------------------------------------------------------------------------
// Shared by vocab.c, merge.c, bpe.c and spm.c

// A growable list of ids; on allocation failure it sets failed and drops ids.
struct rl__lm_ids {
    int32_t *p;
    size_t n, cap;
    bool failed;
};
void rl__lm_ids_push(struct rl__lm_ids *out, int32_t id);

// The ids an LM reads for a routing prompt, laid out as the model's file g says its model reads a
// conversation (chat.c): with SmolLM2's ChatML template (tokenizer.chat_template), the template's
// default system turn, the text as the user's turn and the opening of the assistant's turn; with
// no template (a base model such as Gemma 3 270M), BOS when the vocabulary adds one, then the
// text. The text is always plain text, even where it spells a control token, so a user cannot
// close a turn. Appends to out (free out->p). RL_OK; RL_EUNSUPPORTED for another template;
// RL_EFORMAT when a token of the template is missing; RL_ETOOBIG or RL_ENOMEM; with errbuf.
int rl__lm_prompt_ids(const struct rl_gguf *g, const struct rl__lm_vocab *v, const char *text,
                      size_t len, struct rl__lm_ids *out, char *errbuf) RL_NODISCARD;

// The routing template (chat.c), in the same two layouts: an instruction to predict the score of
// a small assistant's answer, the question, and the opening "[[" of the score, so that the last
// position is where the model would write it. rl__lm_route_head appends the part before the
// question, the same for every text (BOS, the instruction and "[Question]"); rl__lm_route_body
// appends the question's first max_text tokens (*n_text receives how many it has in all) and
// the part after it. The question stays plain text. Errors as rl__lm_prompt_ids.
int rl__lm_route_head(const struct rl_gguf *g, const struct rl__lm_vocab *v, struct rl__lm_ids *out,
                      char *errbuf) RL_NODISCARD;
int rl__lm_route_body(const struct rl_gguf *g, const struct rl__lm_vocab *v, const char *text,
                      size_t len, int max_text, struct rl__lm_ids *out, int *n_text,
                      char *errbuf) RL_NODISCARD;

// Merge rank of the pair (a[0..na), b[0..nb)), or -1.
int32_t rl__lm_merge_rank(const struct rl__lm_vocab *v, const char *a, size_t na, const char *b,
                          size_t nb);

// Scratch memory of rl__lm_merge (merge.c), kept across calls: zero it before the first call and
// release it with rl__lm_merge_free.
struct rl__lm_merge {
    struct rl__lm_symbol *sym;
    struct rl__lm_bigram *heap;
    size_t sym_cap, heap_n, heap_cap;
};

// Merge the n_sym symbols text[off[i] .. off[i + 1]) as v's kind does, then append each
// resulting symbol's token to out. BPE joins the adjacent pair of lowest merge rank and emits, for
// a symbol that is no token, the single-byte tokens of its bytes where they exist (raw_id); SPM
// joins the adjacent pair whose concatenation is the token of highest score and emits, for a
// symbol that is no token, the byte token of each byte (byte_id). Ties go to the leftmost pair.
// Sets out->failed when memory runs out.
void rl__lm_merge(const struct rl__lm_vocab *v, const char *text, const uint32_t *off, size_t n_sym,
                  struct rl__lm_merge *m, struct rl__lm_ids *out);
void rl__lm_merge_free(struct rl__lm_merge *m); // safe on a zeroed struct

// Tokenize one fragment of raw text holding no user-defined token (n >= 1), appending to out.
void rl__lm_bpe_encode(const struct rl__lm_vocab *v, const char *s, size_t n,
                       struct rl__lm_ids *out);
void rl__lm_spm_encode(const struct rl__lm_vocab *v, const char *s, size_t n,
                       struct rl__lm_ids *out);

#endif
