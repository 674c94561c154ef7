// An in-place RFC 4180 CSV row parser for the dataset readers (the battle files can be hundreds of
// MB, so fields are unescaped inside the file buffer instead of copied). It accepts LF and CRLF
// line ends and a UTF-8 byte-order mark; it does not guess delimiters or quote characters.
#include <string.h>

#include "core/core.h"
#include "data/data.h"

void rl__dcsv_init(struct rl__dcsv *c, char *data, size_t len) {
    c->p = data;
    c->end = data + len;
    c->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3;
}

// Skip the rest of a bad row so that the caller can go on with the next line.
static int csv_bad(struct rl__dcsv *c) {
    while (c->p < c->end && *c->p != '\n')
        c->p++;
    if (c->p < c->end) {
        c->p++;
        c->line++;
    }
    return RL_EFORMAT;
}

int rl__dcsv_next(struct rl__dcsv *c, struct rl__dcsv_row *row) {
    // A blank line at the end of the file is not a row.
    while (c->p < c->end &&
           (*c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n'))) {
        c->p += *c->p == '\r' ? 2 : 1;
        c->line++;
    }
    if (c->p >= c->end)
        return 0;
    row->line = c->line;
    row->n = 0;
    for (;;) {
        if (row->n >= RL_DCSV_MAX_FIELDS)
            return csv_bad(c);
        char *out = c->p, *start = c->p;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    c->line = row->line;
                    c->p = start;
                    return csv_bad(c);
                }
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        *out++ = '"';
                        c->p += 2;
                        continue;
                    }
                    c->p++;
                    break;
                }
                if (*c->p == '\n')
                    c->line++;
                *out++ = *c->p++;
            }
            // Anything between the closing quote and the delimiter is kept verbatim, which is
            // what lenient writers produce for `"a"b`.
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                *out++ = *c->p++;
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                c->p++;
            out = c->p;
        }
        char delim = c->p < c->end ? *c->p : '\n';
        row->field[row->n] = start;
        row->len[row->n] = (size_t)(out - start);
        row->n++;
        if (delim == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
            c->p++;
        if (c->p < c->end)
            c->p++;
        *out = '\0';
        if (delim == ',')
            continue;
        c->line++;
        return 1;
    }
}

int rl__dcsv_read(struct rl__dcsv *c, struct rl__dcsv_row *row, const char *path, char *errbuf) {
    long line = c->line;
    int rc = rl__dcsv_next(c, row);
    if (rc < 0)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s:%ld: malformed CSV row (a quote never closed, or more than %d "
                        "fields)",
                        path, line, RL_DCSV_MAX_FIELDS);
    return rc;
}

int rl__dcsv_column(const struct rl__dcsv_row *row, const char *name) {
    for (int i = 0; i < row->n; i++)
        if (strcmp(row->field[i], name) == 0)
            return i;
    return -1;
}
