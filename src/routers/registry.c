// The registry of router kinds: the table built from RL_ROUTER_KINDS (router_impl.h), lookup by
// name, what the public interface says about each kind, and rl_router_load, which resolves a
// kind name to its default router. Nothing here knows a kind by name; each entry lives in its
// kind's own file.
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "routers/router_impl.h"

#define RL_ROUTER_KIND_ENTRY_(name) &rl__router_kind_##name,
static const struct rl_router_kind *const kinds[] = {RL_ROUTER_KINDS(RL_ROUTER_KIND_ENTRY_)};
#undef RL_ROUTER_KIND_ENTRY_

size_t rl_router_kind_count(void) {
    return RL_COUNTOF(kinds);
}

const struct rl_router_kind *rl_router_kind_at(size_t i) {
    return i < RL_COUNTOF(kinds) ? kinds[i] : NULL;
}

// The message lists every kind, truncated to what the error buffer holds.
const struct rl_router_kind *rl_router_kind_find(const char *name, char *errbuf) {
    for (size_t i = 0; name && i < RL_COUNTOF(kinds); i++)
        if (strcmp(name, kinds[i]->name) == 0)
            return kinds[i];
    if (!errbuf)
        return NULL;
    int n = snprintf(errbuf, RL_ERRBUF_SIZE, "unknown router kind '%.64s'; the kinds are ",
                     name ? name : "");
    for (size_t i = 0; i < RL_COUNTOF(kinds) && n >= 0 && n < RL_ERRBUF_SIZE; i++)
        n += snprintf(errbuf + n, (size_t)(RL_ERRBUF_SIZE - n), "%s%s", i ? ", " : "",
                      kinds[i]->name);
    return NULL;
}

const char *rl_router_kind_name(const struct rl_router_kind *k) {
    return k ? k->name : "unknown";
}

bool rl_router_kind_needs_encoder(const struct rl_router_kind *k) {
    return k->needs_encoder;
}

bool rl_router_kind_any_pair(const struct rl_router_kind *k) {
    return k->any_pair;
}

bool rl_router_kind_trainable(const struct rl_router_kind *k) {
    return k->train != NULL;
}

bool rl_router_kind_builtin(const struct rl_router_kind *k) {
    return k->build != NULL;
}

bool rl_router_kind_learns_cells(const struct rl_router_kind *k) {
    return k->cells;
}

bool rl_router_kind_shipped(const struct rl_router_kind *k) {
    return k->shipped;
}

// ----------------------------------------------------------------------------
// Default routers

static const char *default_home(const char *home) {
    return home ? home : rl_home();
}

int rl_router_kind_file(const struct rl_router_kind *k, const char *home, char *path, size_t size) {
    if (!k->shipped || k->build)
        return RL_EINVAL;
    char rel[96];
    snprintf(rel, sizeof rel, "routers/%s.safetensors", k->name);
    return rl_path_join(path, size, default_home(home), rel);
}

// Names compare as a user may misremember them: case and '-' for '_' aside.
static bool loosely_equal(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        int ca = tolower((unsigned char)(*a == '-' ? '_' : *a));
        int cb = tolower((unsigned char)(*b == '-' ? '_' : *b));
        if (ca != cb)
            return false;
    }
    return *a == *b;
}

// A word that is no file and no shipped router's name (no '/' and no '.', so not meant as a
// path): list the names, and the one meant when only case or a dash differ.
static struct rl_router *unknown_name(const char *name, char *errbuf) {
    char names[160] = "";
    const char *meant = NULL;
    size_t len = 0;
    for (size_t i = 0; i < RL_COUNTOF(kinds); i++) {
        if (!kinds[i]->shipped)
            continue;
        int n = snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", kinds[i]->name);
        len = n > 0 && len + (size_t)n < sizeof names ? len + (size_t)n : len;
        if (loosely_equal(name, kinds[i]->name))
            meant = kinds[i]->name;
    }
    if (meant)
        rl__errf(errbuf, RL_EINVAL,
                 "unknown router '%.64s' (did you mean '%s'?); the routers are %s", name, meant,
                 names);
    else
        rl__errf(errbuf, RL_EINVAL, "unknown router '%.64s': not a file, nor one of %s", name,
                 names);
    return NULL;
}

// A shipped kind's name gives its default router: built, or read from its file. Anything else
// is a path.
struct rl_router *rl_router_load(const char *name_or_path, const char *home, char *errbuf) {
    if (!name_or_path || !*name_or_path) {
        rl__errf(errbuf, RL_EINVAL, "no router named");
        return NULL;
    }
    const struct rl_router_kind *k = rl_router_kind_find(name_or_path, NULL);
    if (!k || !k->shipped) {
        if (!strpbrk(name_or_path, "/.") && !rl_file_exists(name_or_path))
            return unknown_name(name_or_path, errbuf);
        return rl__router_load_file(name_or_path, errbuf);
    }
    if (k->build) {
        struct rl_router *r = k->build();
        if (!r)
            rl__errf(errbuf, RL_ENOMEM, "%s router: out of memory", k->name);
        return r;
    }
    home = default_home(home);
    char path[4096];
    if (rl_router_kind_file(k, home, path, sizeof path) != RL_OK) {
        rl__errf(errbuf, RL_ETOOBIG, "%s: home path too long", home);
        return NULL;
    }
    return rl__router_load_file(path, errbuf);
}
