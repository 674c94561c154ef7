// Fuzz target: a validation-suite file (`routellm validate --suite FILE`), read by suite_load
// with a home that holds nothing, so that relative globs in `exclude` match no file. A suite
// that loads is walked in full so ASan sees any short or dangling string.
#include "cli/suite.h"
#include "fuzz.h"

static void touch(const char *s) {
    if (s)
        fuzz_sink ^= (uint8_t)s[strlen(s)];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct suite s;
    if (suite_load(fuzz_file(data, size, ".yaml"), "/nonexistent-routellm-home", &s) == 0) {
        for (size_t i = 0; i < s.n_sources; i++) {
            touch(s.sources[i].name);
            for (size_t k = 0; k < s.sources[i].n_tables; k++)
                touch(s.sources[i].tables[k]);
            for (size_t k = 0; k < s.sources[i].n_battles; k++)
                touch(s.sources[i].battles[k]);
        }
        for (size_t i = 0; i < s.n_routers; i++) {
            touch(s.routers[i].name);
            touch(s.routers[i].kind);
            for (size_t k = 0; k < s.routers[i].n_sources; k++)
                fuzz_sink ^= suite_router_uses(&s.routers[i], &s.sources[0]);
        }
        for (size_t i = 0; i < s.n_baselines; i++)
            touch(s.baselines[i]);
    }
    suite_free(&s);
    return 0;
}
