// JSONL reading for the evaluation data: every non-blank line of a file (in memory, or read
// whole first) is one JSON object. (CSV rows come from the data layer's in-place parser,
// data/data.h.)
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_impl.h"

// ----------------------------------------------------------------------------
// JSONL

int rl__jsonl_each(const char *path, const char *data, size_t len, rl__jsonl_fn fn, void *ctx,
                   char *errbuf) {
    const char *p = data, *end = data + len;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < stop) {
            json_error_t jerr;
            json_t *obj = json_loadb(p, (size_t)(stop - p), 0, &jerr);
            if (!obj)
                return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: invalid JSON: %s", path, line,
                                jerr.text);
            if (!json_is_object(obj)) {
                json_decref(obj);
                return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: expected a JSON object", path, line);
            }
            int rc = fn(ctx, obj, path, line, errbuf);
            json_decref(obj);
            if (rc != RL_OK)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return RL_OK;
}

int rl__jsonl_read(const char *path, rl__jsonl_fn fn, void *ctx, char *errbuf) {
    char *data;
    size_t len;
    int rc = rl_file_read(path, RL_EVAL_MAX_FILE, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = rl__jsonl_each(path, data, len, fn, ctx, errbuf);
    free(data);
    return rc;
}
