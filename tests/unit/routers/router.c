// Router dispatch, pair resolution and the random router.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "rl/battle.h"
#include "rl/router.h"
#include "test.h"

TEST(router_random_deterministic) {
    struct rl_router *a = rl_router_random_new(7), *b = rl_router_random_new(7);
    struct rl_router *c = rl_router_random_new(8);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    ASSERT_NOT_NULL(c);
    ASSERT_NULL(rl_router_encoder_name(a));
    ASSERT_EQ(rl_router_encoder_dim(a), 0);
    int differ = 0;
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double pa, pb, pc;
        ASSERT_OK(rl_router_score(a, NULL, NULL, &pa));
        ASSERT_OK(rl_router_score(b, NULL, NULL, &pb));
        ASSERT_OK(rl_router_score(c, NULL, NULL, &pc));
        ASSERT(pa >= 0 && pa < 1);
        ASSERT_EQ(pa == pb, 1);
        differ += pa != pc;
        sum += pa;
    }
    ASSERT(differ > 9990);
    ASSERT_NEAR(sum / 10000, 0.5, 0.02);
    rl_router_free(a);
    rl_router_free(b);
    rl_router_free(c);
    return 0;
}

struct draw_job {
    struct rl_router *r;
    double sum;
};

static void *draw_many(void *arg) {
    struct draw_job *j = arg;
    for (int i = 0; i < 5000; i++) {
        double p;
        if (rl_router_score(j->r, NULL, NULL, &p) != RL_OK)
            return NULL;
        j->sum += p;
    }
    return arg;
}

// Two threads sharing one router draw exactly the draws one thread would have made.
TEST(router_random_threads) {
    struct rl_router *shared = rl_router_random_new(42), *serial = rl_router_random_new(42);
    struct draw_job jobs[2] = {{shared, 0}, {shared, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, draw_many, &jobs[i]), 0);
    void *ret[2];
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], &ret[i]);
    ASSERT_NOT_NULL(ret[0]);
    ASSERT_NOT_NULL(ret[1]);
    double want = 0;
    for (int i = 0; i < 10000; i++) {
        double p;
        ASSERT_OK(rl_router_score(serial, NULL, NULL, &p));
        want += p;
    }
    ASSERT_NEAR(jobs[0].sum + jobs[1].sum, want, 1e-9);
    rl_router_free(shared);
    rl_router_free(serial);
    return 0;
}

TEST(router_random_pair_any_name) {
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load("random", NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(rl_router_name(r), "random");
    struct rl_router_pair p;
    ASSERT_OK(rl_router_pair(r, NULL, NULL, &p, err));
    ASSERT_STR_EQ(rl_router_model(r, p.strong), RL_MODEL_DEFAULT_STRONG);
    ASSERT_STR_EQ(rl_router_model(r, p.weak), RL_MODEL_DEFAULT_WEAK);
    ASSERT_OK(rl_router_pair(r, "GPT4_1106_preview", "mistralai/Mixtral-8x7B", &p, err));
    ASSERT_EQ(p.strong, 0);
    ASSERT_EQ(p.weak, 1);
    ASSERT_OK(rl_router_pair(r, "gpt-4o", "llama-3-8b", &p, err));
    ASSERT_NULL(rl_router_model(r, 2));
    ASSERT_OK(rl_router_check_encoder(r, NULL, err));
    rl_router_free(r);
    rl_router_free(NULL);
    return 0;
}

TEST(router_load_missing_file) {
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_NULL(rl_router_load("mf", "/nonexistent-home", err));
    ASSERT_STR_CONTAINS(err, "/nonexistent-home/routers/mf.safetensors");
    ASSERT_NULL(rl_router_load("", NULL, err));
    return 0;
}

TEST(model_canon_aliases) {
    static const struct {
        const char *in;  // input
        const char *out; // output
    } cases[] = {
        {"gpt4_1106_preview", "gpt-4-1106-preview"},
        {"GPT-4-1106-Preview", "gpt-4-1106-preview"},
        {"Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1"},
        {"anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1"},
        {"Mixtral-8x7B", "mixtral-8x7b-instruct-v0.1"},
        {"  llama-2-70b-chat-hf ", "llama-2-70b-chat"},
        {"meta-llama/Meta-Llama-3-8B", "meta-llama-3-8b"},
        // RouterBench
        {"mistralai/mixtral-8x7b-chat", "mixtral-8x7b-instruct-v0.1"},
        {"meta/llama-2-70b-chat", "llama-2-70b-chat"},
        {"zero-one-ai/Yi-34B-Chat", "yi-34b-chat"},
        {"WizardLM/WizardLM-13B-V1.2", "wizardlm-13b-v1.2"},
        {"meta/code-llama-instruct-34b-chat", "codellama-34b-instruct"},
        {"mistralai/mistral-7b-chat", "mistral-7b-instruct"},
        {"claude-instant-v1", "claude-instant-1"},
        {"claude-v1", "claude-1"},
        {"claude-v2", "claude-2.0"},
        {"gpt-3.5-turbo-1106", "gpt-3.5-turbo-1106"},
        {"gpt-4-1106-preview", "gpt-4-1106-preview"},
        // OpenRouter, with and without a variant
        {"openai/gpt-4-1106-preview", "gpt-4-1106-preview"},
        {"mistralai/mixtral-8x7b-instruct", "mixtral-8x7b-instruct-v0.1"},
        {"mistralai/mixtral-8x7b-instruct:nitro", "mixtral-8x7b-instruct-v0.1"},
        {"anthropic/claude-2", "claude-2.0"},
        {"anthropic/claude-2.1:beta", "claude-2.1"},
        {"meta-llama/llama-2-70b-chat", "llama-2-70b-chat"},
        {"anthropic/claude-3-haiku", "claude-3-haiku-20240307"},
        // LiteLLM: one or two levels of provider, Bedrock's vendor and version, Azure's names
        {"together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1"},
        {"together_ai/togethercomputer/llama-2-70b-chat", "llama-2-70b-chat"},
        {"bedrock/anthropic.claude-v2", "claude-2.0"},
        {"bedrock/anthropic.claude-v2:1", "claude-2.1"},
        {"bedrock/anthropic.claude-instant-v1", "claude-instant-1"},
        {"bedrock/us.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"},
        {"bedrock/meta.llama2-70b-chat-v1", "llama-2-70b-chat"},
        {"bedrock/mistral.mixtral-8x7b-instruct-v0:1", "mixtral-8x7b-instruct-v0.1"},
        {"bedrock/mistral.mistral-7b-instruct-v0:2", "mistral-7b-instruct-v0.2"},
        {"azure/gpt-35-turbo-1106", "gpt-3.5-turbo-1106"},
        {"azure/gpt-4-1106-preview", "gpt-4-1106-preview"},
        {"groq/mixtral-8x7b-32768", "mixtral-8x7b-instruct-v0.1"},
        {"groq/llama3-70b-8192", "llama-3-70b-instruct"},
        {"vertex_ai/claude-3-opus@20240229", "claude-3-opus-20240229"},
        {"fireworks_ai/accounts/fireworks/models/mixtral-8x7b-instruct",
         "mixtral-8x7b-instruct-v0.1"},
        // Hugging Face
        {"mistralai/Mistral-7B-Instruct-v0.1", "mistral-7b-instruct"},
        {"meta-llama/Meta-Llama-3-70B-Instruct", "llama-3-70b-instruct"},
        {"codellama/CodeLlama-34b-Instruct-hf", "codellama-34b-instruct"},
        {"openchat/openchat_3.5", "openchat-3.5"},
        {"lmsys/vicuna-33b-v1.3", "vicuna-33b"},
        // Our training data: MMLU-Pro, arena_bench_v1, AlpacaEval, RouterDC
        {"Meta-Llama-3.1-8B-Instruct", "llama-3.1-8b-instruct"},
        {"Llama-2-70b-hf", "llama-2-70b"},
        {"Mistral-7B-v0.2-hf", "mistral-7b-v0.2"},
        {"Mixtral-8x7B-v0.1", "mixtral-8x7b-v0.1"},
        {"c4ai-command-r-v01", "command-r"},
        {"palm-2-chat-bison-001", "palm-2"},
        {"Llama-2-70b-chat", "llama-2-70b-chat"},
        {"gpt35_turbo_instruct", "gpt-3.5-turbo-instruct"},
        {"Mixtral-8x7B-Instruct-v0.1_concise", "mixtral-8x7b-instruct-v0.1_concise"},
        {"cognitivecomputations/dolphin-2.9-llama3-8b", "dolphin-2.9-llama3-8b"},
        // Left alone: names whose model is not certain, and ones that only look like a prefix
        {"llama-3-8b", "llama-3-8b"},
        {"gpt-4o", "gpt-4o"},
        {"claude", "claude"},
        {"anthropic.", "anthropic."},
        {"model:free", "model"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char out[RL_MODEL_NAME_MAX];
        ASSERT_OK(rl_model_canon(cases[i].in, out, sizeof out));
        ASSERT_STR_EQ(out, cases[i].out);
    }
    // The table is closed: every canonical name is its own canonical form (no chains), and no
    // spelling is another entry's canonical name. The names the shipped routers store keep
    // their form.
    const char *canon;
    for (size_t i = 0; rl__model_alias(i, &canon); i++) {
        char out[RL_MODEL_NAME_MAX];
        ASSERT_OK(rl_model_canon(canon, out, sizeof out));
        ASSERT_STR_EQ(out, canon);
        const char *other;
        for (size_t j = 0; rl__model_alias(j, &other); j++)
            ASSERT(strcmp(rl__model_alias(i, &canon), other) != 0);
    }
    static const char *const shipped[] = {
        "mistral-7b-v0.1",         "zephyr-7b-beta",         "metamath-mistral-7b",
        "chinese-mistral-7b-v0.1", "dolphin-2.6-mistral-7b", "meta-llama-3-8b",
        "dolphin-2.9-llama3-8b",   RL_MODEL_DEFAULT_STRONG,  RL_MODEL_DEFAULT_WEAK};
    for (size_t i = 0; i < RL_COUNTOF(shipped); i++) {
        char out[RL_MODEL_NAME_MAX];
        ASSERT_OK(rl_model_canon(shipped[i], out, sizeof out));
        ASSERT_STR_EQ(out, shipped[i]);
    }
    char small[4];
    ASSERT_EQ(rl_model_canon("gpt-4", small, sizeof small), RL_ETOOBIG);
    ASSERT_EQ(rl_model_canon("  ", small, sizeof small), RL_EINVAL);
    ASSERT_EQ(rl_model_canon("org/", small, sizeof small), RL_EINVAL);
    return 0;
}
