// The one reader of JSON files and of line-oriented files (core/json.h).
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

// ----------------------------------------------------------------------------
// Lines

void rl__lines_init(struct rl__lines *it, const char *data, size_t len) {
    it->p = data;
    it->end = data + len;
    it->line = 0;
}

bool rl__lines_next(struct rl__lines *it, const char **s, size_t *len) {
    if (it->p >= it->end)
        return false;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *s = it->p;
    *len = (size_t)(stop - it->p);
    it->p = nl ? nl + 1 : it->end;
    it->line++;
    return true;
}

// ----------------------------------------------------------------------------
// JSONL

// JSON's own white space (RFC 8259): a line of nothing else holds no value.
static bool blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

bool rl__jsonl_next(struct rl__lines *it, json_t **value, json_error_t *jerr) {
    const char *s;
    size_t len;
    while (rl__lines_next(it, &s, &len)) {
        if (blank(s, len))
            continue;
        *value = json_loadb(s, len, 0, jerr);
        return true;
    }
    *value = NULL;
    return false;
}

int rl__jsonl_read(const char *path, size_t max_len, rl__jsonl_fn fn, void *ctx, char *errbuf) {
    char *data;
    size_t len;
    int rc = rl_file_read(path, max_len, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl__lines it;
    rl__lines_init(&it, data, len);
    json_t *obj;
    json_error_t jerr;
    while (rc == RL_OK && rl__jsonl_next(&it, &obj, &jerr)) {
        if (!obj)
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%zu: invalid JSON: %s", path, it.line, jerr.text);
        else if (!json_is_object(obj))
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%zu: expected a JSON object", path, it.line);
        else
            rc = fn(ctx, obj, path, it.line, errbuf);
        json_decref(obj);
    }
    free(data);
    return rc;
}

// ----------------------------------------------------------------------------
// JSON documents

int rl__json_parse(const char *path, const char *data, size_t len, size_t flags, json_t **root,
                   char *errbuf) {
    json_error_t jerr;
    *root = json_loadb(data, len, flags, &jerr);
    if (!*root)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%d:%d: invalid JSON: %s", path, jerr.line,
                        jerr.column, jerr.text);
    return RL_OK;
}

int rl__json_load(const char *path, size_t max_len, size_t flags, json_t **root, char *errbuf) {
    *root = NULL;
    char *data;
    size_t len;
    int rc = rl_file_read(path, max_len, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = rl__json_parse(path, data, len, flags, root, errbuf);
    free(data);
    return rc;
}
