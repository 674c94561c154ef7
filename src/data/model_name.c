// Canonical model names. Datasets spell the same model differently (AlpacaEval's
// "gpt4_1106_preview", the Arena's "gpt-4-1106-preview", an API's
// "mistralai/Mixtral-8x7B-Instruct-v0.1"); routers store one spelling per model so that a name
// given on the command line finds it whatever the source called it. The alias table holds only
// names that occur in the data we read or in the RouteLLM defaults; anything else is kept as is,
// in lower case.
#include <ctype.h>
#include <string.h>

#include "core/core.h"
#include "rl/battle.h"

static const struct {
    const char *alias;
    const char *canon;
} aliases[] = {
    {"gpt4_1106_preview", "gpt-4-1106-preview"},
    {"gpt-4-turbo-1106", "gpt-4-1106-preview"},
    {"gpt4_0314", "gpt-4-0314"},
    {"gpt4_0613", "gpt-4-0613"},
    {"gpt4", "gpt-4"},
    {"mixtral-8x7b", "mixtral-8x7b-instruct-v0.1"},
    {"mixtral-8x7b-instruct", "mixtral-8x7b-instruct-v0.1"},
    {"mixtral", "mixtral-8x7b-instruct-v0.1"},
    {"text_davinci_003", "text-davinci-003"},
    {"text_davinci_001", "text-davinci-001"},
    {"gpt35_turbo_instruct", "gpt-3.5-turbo-instruct"},
    {"llama-2-70b-chat-hf", "llama-2-70b-chat"},
    {"llama-2-13b-chat-hf", "llama-2-13b-chat"},
    {"llama-2-7b-chat-hf", "llama-2-7b-chat"},
};

int rl_model_canon(const char *name, char *out, size_t out_size) {
    while (isspace((unsigned char)*name))
        name++;
    // "provider/model" and "anyscale/mistralai/model": keep the last component.
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
