// A prompt laid out as the model's file says its model reads a conversation (lm/vocab.h:
// rl__lm_prompt_ids), and the routing template built the same way (rl__lm_route_head,
// rl__lm_route_body).
#include <stdlib.h>
#include <string.h>

#include "lm/vocab.h"

// SmolLM2-Instruct's tokenizer.chat_template (ChatML, with a default system turn when the
// conversation has none), the one template read here; its expansion for one user message and the
// generation prompt is the layout below.
static const char smollm2_template[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\n' }}{% endif %}";

// The ChatML layout as pieces: a control token (text NULL, token named) or plain text; the user's
// text goes after the piece marked user.
struct piece {
    const char *token, *text;
    bool user;
};
static const struct piece chatml[] = {
    {"<|im_start|>", NULL, false},
    {NULL, "system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face", false},
    {"<|im_end|>", NULL, false},
    {NULL, "\n", false},
    {"<|im_start|>", NULL, false},
    {NULL, "user\n", true},
    {"<|im_end|>", NULL, false},
    {NULL, "\n", false},
    {"<|im_start|>", NULL, false},
    {NULL, "assistant\n", false},
};

// Append the tokens of s[0..n) to out.
static int append_text(const struct rl__lm_vocab *v, const char *s, size_t n,
                       struct rl__lm_ids *out) {
    int count = rl__lm_tokenize(v, s, n, NULL, 0);
    if (count < 0)
        return count;
    int32_t *ids = malloc(((size_t)count + 1) * sizeof *ids);
    if (!ids)
        return RL_ENOMEM;
    int got = rl__lm_tokenize(v, s, n, ids, (size_t)count);
    for (int i = 0; got == count && i < count; i++)
        rl__lm_ids_push(out, ids[i]);
    free(ids);
    return got == count ? RL_OK : RL_ENOMEM;
}

// Does the file carry SmolLM2's ChatML template (*chat true), or none (false)? RL_EUNSUPPORTED
// with errbuf for another template.
static int which_layout(const struct rl_gguf *g, bool *chat, char *errbuf) {
    struct rl_gguf_str tmpl;
    *chat = rl__gguf_string(g, "tokenizer.chat_template", &tmpl) == RL_OK;
    if (*chat && (tmpl.len != sizeof smollm2_template - 1 ||
                  memcmp(tmpl.p, smollm2_template, tmpl.len) != 0))
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "tokenizer.chat_template is not one this reader lays prompts out for "
                        "(SmolLM2's ChatML); a file without a template reads the text as it is");
    return RL_OK;
}

int rl__lm_prompt_ids(const struct rl_gguf *g, const struct rl__lm_vocab *v, const char *text,
                      size_t len, struct rl__lm_ids *out, char *errbuf) {
    bool chat;
    int rc = which_layout(g, &chat, errbuf);
    if (rc != RL_OK)
        return rc;
    if (!chat) { // a base model reads the text as it is
        if (v->add_bos && v->bos_id >= 0)
            rl__lm_ids_push(out, v->bos_id);
        rc = append_text(v, text, len, out);
        if (rc == RL_OK && out->failed)
            rc = RL_ENOMEM;
        return rc == RL_OK ? RL_OK : rl__errf(errbuf, rc, "cannot tokenize the prompt");
    }
    if (v->add_bos && v->bos_id >= 0)
        rl__lm_ids_push(out, v->bos_id);
    for (size_t i = 0; rc == RL_OK && i < sizeof chatml / sizeof *chatml; i++) {
        const struct piece *p = &chatml[i];
        if (p->token) {
            int32_t id = rl__lm_vocab_find(v, p->token, strlen(p->token));
            if (id < 0)
                return rl__errf(errbuf, RL_EFORMAT, "the chat template's token %s is missing",
                                p->token);
            rl__lm_ids_push(out, id);
            continue;
        }
        if (!p->user) {
            rc = append_text(v, p->text, strlen(p->text), out);
            continue;
        }
        // The user's turn is one piece of text: its opening and the user's text together.
        size_t head = strlen(p->text);
        char *joined = malloc(head + len + 1);
        if (!joined)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        memcpy(joined, p->text, head);
        memcpy(joined + head, text, len);
        rc = append_text(v, joined, head + len, out);
        free(joined);
    }
    if (rc == RL_OK && out->failed)
        rc = RL_ENOMEM;
    return rc == RL_OK ? RL_OK : rl__errf(errbuf, rc, "cannot tokenize the prompt");
}

// ----------------------------------------------------------------------------
// The routing template: an instruction, the question, and the opening of the answer "[[", so
// that the last position is where the model would write its score of 1 to 5.

static const char route_instruction[] =
    "You predict how well a small AI assistant will answer a question. Read the question and "
    "give the score an expert judge would give the assistant's answer, from 1 to 5: 5 for an "
    "excellent answer, 3 for an adequate one, 1 when the assistant will fail. Hard reasoning, "
    "mathematics, code and questions that need deep knowledge are the ones it fails. Reply with "
    "the score as [[N]].";

// Pieces with a control token (text NULL) or text, appended in order.
static int append_pieces(const struct rl__lm_vocab *v, const struct piece *p, size_t n,
                         struct rl__lm_ids *out, char *errbuf) {
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (p[i].token) {
            int32_t id = rl__lm_vocab_find(v, p[i].token, strlen(p[i].token));
            if (id < 0)
                return rl__errf(errbuf, RL_EFORMAT, "the chat template's token %s is missing",
                                p[i].token);
            rl__lm_ids_push(out, id);
        } else if ((rc = append_text(v, p[i].text, strlen(p[i].text), out)) != RL_OK) {
            return rl__errf(errbuf, rc, "cannot tokenize the template");
        }
    }
    return out->failed ? rl__errf(errbuf, RL_ENOMEM, "out of memory") : RL_OK;
}

int rl__lm_route_head(const struct rl_gguf *g, const struct rl__lm_vocab *v, struct rl__lm_ids *out,
                      char *errbuf) {
    bool chat;
    int rc = which_layout(g, &chat, errbuf);
    if (rc != RL_OK)
        return rc;
    if (v->add_bos && v->bos_id >= 0)
        rl__lm_ids_push(out, v->bos_id);
    const struct piece chat_head[] = {
        {"<|im_start|>", NULL, false},
        {NULL, "system\n", false},
        {NULL, route_instruction, false},
        {"<|im_end|>", NULL, false},
        {NULL, "\n", false},
        {"<|im_start|>", NULL, false},
        {NULL, "user\n[Question]\n", false},
    };
    const struct piece plain_head[] = {{NULL, route_instruction, false},
                                       {NULL, "\n\n[Question]\n", false}};
    return chat ? append_pieces(v, chat_head, RL_COUNTOF(chat_head), out, errbuf)
                : append_pieces(v, plain_head, RL_COUNTOF(plain_head), out, errbuf);
}

int rl__lm_route_body(const struct rl_gguf *g, const struct rl__lm_vocab *v, const char *text,
                      size_t len, int max_text, struct rl__lm_ids *out, int *n_text, char *errbuf) {
    bool chat;
    int rc = which_layout(g, &chat, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl__lm_ids words = {0};
    rc = append_text(v, text, len, &words);
    if (rc == RL_OK && words.failed)
        rc = RL_ENOMEM;
    if (rc != RL_OK) {
        free(words.p);
        return rl__errf(errbuf, rc, "cannot tokenize the prompt");
    }
    *n_text = (int)words.n;
    for (size_t i = 0; i < words.n && (int)i < max_text; i++)
        rl__lm_ids_push(out, words.p[i]);
    free(words.p);
    const struct piece chat_tail[] = {
        {NULL, "\n\nPrediction:", false}, {"<|im_end|>", NULL, false},    {NULL, "\n", false},
        {"<|im_start|>", NULL, false},    {NULL, "assistant\n[[", false},
    };
    const struct piece plain_tail[] = {{NULL, "\n\nPrediction: [[", false}};
    return chat ? append_pieces(v, chat_tail, RL_COUNTOF(chat_tail), out, errbuf)
                : append_pieces(v, plain_tail, RL_COUNTOF(plain_tail), out, errbuf);
}
