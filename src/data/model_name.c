// Canonical model names. Datasets, gateways and APIs spell the same model differently
// (AlpacaEval's "gpt4_1106_preview", the Arena's "gpt-4-1106-preview", LiteLLM's
// "anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1", Bedrock's "anthropic.claude-v2",
// RouterBench's "mistralai/mixtral-8x7b-chat"); routers store one spelling per model so that a
// name given on the command line or in a table finds it whatever the source called it.
//
// A name becomes canonical in four steps, each defined here and nowhere else:
//   1. surrounding white space goes, and everything up to the last '/' (provider and
//      organisation prefixes: LiteLLM's "together_ai/", "anyscale/mistralai/", "bedrock/",
//      "azure/"; OpenRouter's and Hugging Face's "org/");
//   2. the rest is lower-cased;
//   3. a Bedrock vendor prefix ("anthropic.", "meta.", "mistral.", ..., possibly behind a
//      cross-region "us." / "eu." / "apac.") and an OpenRouter variant suffix (":free",
//      ":beta", ...) go;
//   4. the alias table below maps what is left to the canonical name.
// The canonical name is the Chatbot Arena's when the Arena has the model (the data most
// routers learn from), else the Hugging Face repository name. The table holds only spellings
// whose model is certain; a spelling that has meant two models (OpenRouter's "gpt-4o", which
// moved between snapshots) is left as it is. Anything not in it is kept, in lower case.
// docs/ROUTERS.md says how to add a spelling.
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "core/core.h"
#include "data/data.h"
#include "rl/battle.h"

// ----------------------------------------------------------------------------
// The alias table: spelling after steps 1-3 -> canonical name, grouped by canonical name.

static const struct alias {
    const char *alias;
    const char *canon;
} aliases[] = {
    // OpenAI. AlpacaEval writes snapshots with underscores; Azure deployments (LiteLLM's
    // "azure/...") drop the dot of "3.5".
    {"gpt4_1106_preview", "gpt-4-1106-preview"}, // AlpacaEval
    {"gpt-4-turbo-1106", "gpt-4-1106-preview"},
    {"gpt4_0314", "gpt-4-0314"},                         // AlpacaEval
    {"gpt4_0613", "gpt-4-0613"},                         // AlpacaEval
    {"gpt4", "gpt-4"},                                   // AlpacaEval (its config calls "gpt-4")
    {"gpt-4-turbo", "gpt-4-turbo-2024-04-09"},           // the API alias of that one snapshot
    {"gpt-4o-mini", "gpt-4o-mini-2024-07-18"},           // the API alias of its only snapshot
    {"gpt-35-turbo", "gpt-3.5-turbo"},                   // Azure
    {"gpt-35-turbo-0613", "gpt-3.5-turbo-0613"},         // Azure
    {"gpt-35-turbo-1106", "gpt-3.5-turbo-1106"},         // Azure
    {"gpt-35-turbo-0125", "gpt-3.5-turbo-0125"},         // Azure
    {"gpt35_turbo_instruct", "gpt-3.5-turbo-instruct"},  // AlpacaEval
    {"gpt-35-turbo-instruct", "gpt-3.5-turbo-instruct"}, // Azure
    {"text_davinci_003", "text-davinci-003"},            // AlpacaEval
    {"text_davinci_001", "text-davinci-001"},            // AlpacaEval

    // Anthropic. RouterBench and Bedrock use the API's "-v1" / "-v2" ids (Bedrock's "v2:1" is
    // Claude 2.1); AlpacaEval's "claude-2" is Claude 2.0. OpenRouter's "anthropic/claude-2"
    // served 2.1 from November 2023: write claude-2.1 for that.
    {"claude-v1", "claude-1"},                                     // RouterBench, the Anthropic API
    {"claude-instant-v1", "claude-instant-1"},                     // RouterBench, Bedrock
    {"claude-2", "claude-2.0"},                                    // AlpacaEval, the API in 2023
    {"claude-v2", "claude-2.0"},                                   // RouterBench, Bedrock
    {"claude-v2:1", "claude-2.1"},                                 // Bedrock
    {"claude-3-opus", "claude-3-opus-20240229"},                   // OpenRouter
    {"claude-3-sonnet", "claude-3-sonnet-20240229"},               // OpenRouter
    {"claude-3-haiku", "claude-3-haiku-20240307"},                 // OpenRouter
    {"claude-3-opus-20240229-v1:0", "claude-3-opus-20240229"},     // Bedrock
    {"claude-3-sonnet-20240229-v1:0", "claude-3-sonnet-20240229"}, // Bedrock
    {"claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"},   // Bedrock
    {"claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet-20240620"}, // Bedrock
    {"claude-3-opus@20240229", "claude-3-opus-20240229"},              // Vertex AI
    {"claude-3-sonnet@20240229", "claude-3-sonnet-20240229"},          // Vertex AI
    {"claude-3-haiku@20240307", "claude-3-haiku-20240307"},            // Vertex AI
    {"claude-3-5-sonnet@20240620", "claude-3-5-sonnet-20240620"},      // Vertex AI

    // Mistral. The Arena's "mistral-7b-instruct" is v0.1.
    {"mixtral-8x7b-instruct", "mixtral-8x7b-instruct-v0.1"}, // OpenRouter, Perplexity, Fireworks
    {"mixtral-8x7b", "mixtral-8x7b-instruct-v0.1"},
    {"mixtral", "mixtral-8x7b-instruct-v0.1"},
    {"mixtral-8x7b-chat", "mixtral-8x7b-instruct-v0.1"},          // RouterBench
    {"mixtral-8x7b-32768", "mixtral-8x7b-instruct-v0.1"},         // Groq
    {"mixtral-8x7b-instruct-v0:1", "mixtral-8x7b-instruct-v0.1"}, // Bedrock
    {"open-mixtral-8x7b", "mixtral-8x7b-instruct-v0.1"},          // Mistral's API
    {"mistral-7b-instruct-v0.1", "mistral-7b-instruct"},          // Hugging Face, MMLU-Pro
    {"mistral-7b-chat", "mistral-7b-instruct"},                   // RouterBench
    {"mistral-7b-instruct-v0:2", "mistral-7b-instruct-v0.2"},     // Bedrock
    {"mistral-7b-v0.2-hf", "mistral-7b-v0.2"},                    // MMLU-Pro

    // Meta. Hugging Face's "-hf" conversions are the same models; the Llama 3 instruct models
    // have the Arena's names, the base models Hugging Face's ("meta-llama-3-8b", as in
    // RouterDC's tables). "llama-3-8b" is left alone: tables use it for either.
    {"llama-2-70b-chat-hf", "llama-2-70b-chat"},               // Hugging Face, AlpacaEval, Anyscale
    {"llama-2-13b-chat-hf", "llama-2-13b-chat"},               // Hugging Face, AlpacaEval
    {"llama-2-7b-chat-hf", "llama-2-7b-chat"},                 // Hugging Face, AlpacaEval
    {"llama2-70b-chat-v1", "llama-2-70b-chat"},                // Bedrock
    {"llama2-13b-chat-v1", "llama-2-13b-chat"},                // Bedrock
    {"llama2-70b-4096", "llama-2-70b-chat"},                   // Groq
    {"llama-2-70b-hf", "llama-2-70b"},                         // Hugging Face, MMLU-Pro
    {"llama-2-13b-hf", "llama-2-13b"},                         // Hugging Face, MMLU-Pro
    {"llama-2-7b-hf", "llama-2-7b"},                           // Hugging Face, MMLU-Pro
    {"meta-llama-3-8b-instruct", "llama-3-8b-instruct"},       // Hugging Face
    {"meta-llama-3-70b-instruct", "llama-3-70b-instruct"},     // Hugging Face
    {"llama3-8b-instruct-v1:0", "llama-3-8b-instruct"},        // Bedrock
    {"llama3-70b-instruct-v1:0", "llama-3-70b-instruct"},      // Bedrock
    {"llama3-8b-8192", "llama-3-8b-instruct"},                 // Groq
    {"llama3-70b-8192", "llama-3-70b-instruct"},               // Groq
    {"meta-llama-3.1-8b-instruct", "llama-3.1-8b-instruct"},   // Hugging Face, MMLU-Pro
    {"meta-llama-3.1-70b-instruct", "llama-3.1-70b-instruct"}, // Hugging Face, MMLU-Pro
    {"meta-llama-3.1-405b-instruct", "llama-3.1-405b-instruct"}, // Hugging Face
    {"code-llama-instruct-34b-chat", "codellama-34b-instruct"},  // RouterBench
    {"codellama-34b-instruct-hf", "codellama-34b-instruct"},     // Hugging Face, Anyscale

    // Others of the Arena and of our training data.
    {"openchat_3.5", "openchat-3.5"},          // Hugging Face, arena_bench_v1
    {"vicuna-33b-v1.3", "vicuna-33b"},         // Hugging Face, arena_bench_v1, AlpacaEval
    {"palm-2-chat-bison-001", "palm-2"},       // arena_bench_v1
    {"chat-bison-001", "palm-2"},              // Google's API
    {"chat-bison@001", "palm-2"},              // Vertex AI
    {"c4ai-command-r-v01", "command-r"},       // Hugging Face, MMLU-Pro
    {"c4ai-command-r-plus", "command-r-plus"}, // Hugging Face
};

const char *rl__model_alias(size_t i, const char **canon) {
    if (i >= RL_COUNTOF(aliases))
        return NULL;
    *canon = aliases[i].canon;
    return aliases[i].alias;
}

// ----------------------------------------------------------------------------
// Prefixes and suffixes

// Bedrock model ids are "<vendor>.<model>[-vN:M]", optionally behind a cross-region inference
// prefix; the vendor is a prefix like any provider's.
static const char *const bedrock_regions[] = {"us.", "eu.", "apac."};
static const char *const bedrock_vendors[] = {"anthropic.", "meta.",     "mistral.",
                                              "amazon.",    "cohere.",   "ai21.",
                                              "ai21labs.",  "deepseek.", "writer."};
// OpenRouter's ":variant" of a model is the same model behind a different provider policy.
static const char *const openrouter_variants[] = {":free",  ":beta",   ":nitro",   ":extended",
                                                  ":floor", ":online", ":thinking"};

static size_t prefix_len(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(list[i]);
        if (strncmp(s, list[i], m) == 0)
            return m;
    }
    return 0;
}

// Strip the vendor prefix and the variant suffix of a lower-case name in place; returns its new
// length.
static size_t strip_decorations(char *s, size_t n) {
    size_t region = prefix_len(s, bedrock_regions, RL_COUNTOF(bedrock_regions));
    size_t vendor = prefix_len(s + region, bedrock_vendors, RL_COUNTOF(bedrock_vendors));
    size_t cut = vendor ? region + vendor : 0;
    if (cut > 0 && cut < n) {
        memmove(s, s + cut, n - cut + 1);
        n -= cut;
    }
    for (size_t i = 0; i < RL_COUNTOF(openrouter_variants); i++) {
        size_t m = strlen(openrouter_variants[i]);
        if (n > m && strcmp(s + n - m, openrouter_variants[i]) == 0) {
            n -= m;
            s[n] = '\0';
            break;
        }
    }
    return n;
}

int rl_model_canon(const char *name, char *out, size_t out_size) {
    while (isspace((unsigned char)*name))
        name++;
    const char *slash = strrchr(name, '/');
    if (slash)
        name = slash + 1;
    size_t n = strlen(name);
    while (n > 0 && isspace((unsigned char)name[n - 1]))
        n--;
    if (n == 0)
        return RL_EINVAL;
    if (n >= out_size)
        return RL_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[n] = '\0';
    n = strip_decorations(out, n);
    for (size_t i = 0; i < RL_COUNTOF(aliases); i++) {
        if (strcmp(out, aliases[i].alias) == 0) {
            size_t m = strlen(aliases[i].canon);
            if (m >= out_size)
                return RL_ETOOBIG;
            memcpy(out, aliases[i].canon, m + 1);
            break;
        }
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Fields of a model in a table

// The fields tables are known to give beside a model's quality: its per-prompt cost (RouterBench
// calls it "total_cost") and its answer (RouterBench's "model_response"). The first
// N_COST_FIELDS are costs.
static const char *const fields[] = {"cost", "total_cost", "model_response"};
enum { N_COST_FIELDS = 2 };

size_t rl__model_field(const char *name, const char **field) {
    const char *bar = strrchr(name, '|');
    if (!bar || bar == name || !bar[1])
        return 0;
    if (field)
        *field = bar + 1;
    return (size_t)(bar - name);
}

bool rl__model_field_is_cost(const char *field) {
    for (size_t i = 0; i < N_COST_FIELDS; i++)
        if (strcmp(field, fields[i]) == 0)
            return true;
    return false;
}

bool rl__model_field_known(const char *s, size_t n) {
    for (size_t i = 0; i < RL_COUNTOF(fields); i++)
        if (strlen(fields[i]) == n && strncmp(s, fields[i], n) == 0)
            return true;
    return false;
}
