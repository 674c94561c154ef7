// One YAML document read with libyaml into a small tree whose nodes keep their line, for
// messages that name it (core/yaml.h). The text is untrusted (docs/FUZZING.md): the tree is bounded
// in depth and in nodes, aliases are refused so that nothing can expand, and a second document is
// an error rather than ignored. What the keys mean is config.c's business.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/core.h"
#include "core/yaml.h"

void rl__ynode_free(struct rl_ynode *n) {
    if (!n)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        rl__ynode_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

struct yreader {
    yaml_parser_t parser;
    const char *path;
    char *errbuf;
    size_t n_nodes;
};

static int yerr(struct yreader *y, int line, const char *fmt, const char *a, const char *b) {
    char msg[RL_ERRBUF_SIZE];
    snprintf(msg, sizeof msg, fmt, a, b);
    return rl__errf(y->errbuf, RL_EFORMAT, "%s:%d: %s", y->path, line, msg);
}

// The array doubles, so that a collection of RL_YAML_MAX_NODES items costs linear time.
static int add_kid(struct rl_ynode *parent, struct rl_ynode *kid) {
    if (parent->n_kids == parent->cap_kids) {
        size_t cap = parent->cap_kids ? 2 * parent->cap_kids : 8;
        struct rl_ynode **grown = realloc(parent->kids, cap * sizeof *grown);
        if (!grown)
            return RL_ENOMEM;
        parent->kids = grown;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = kid;
    return RL_OK;
}

// A key of map is a plain string that the map does not hold yet: a repeated key would otherwise
// overwrite (or, for readers that append, add to) what the first one said without a word.
// Quadratic in the keys of one map, which RL_YAML_MAX_NODES bounds.
static int check_key(struct yreader *y, const struct rl_ynode *map, const struct rl_ynode *key) {
    if (key->type != RL_YAML_SCALAR)
        return yerr(y, key->line, "keys must be plain strings%s%s", "", "");
    for (size_t i = 0; i < map->n_kids; i += 2)
        if (strcmp(map->kids[i]->value, key->value) == 0) {
            char first[32];
            snprintf(first, sizeof first, "%d", map->kids[i]->line);
            return yerr(y, key->line, "duplicate key '%.100s' (first on line %s)", key->value,
                        first);
        }
    return RL_OK;
}

// Read the node that starts with the next event (recursively for collections).
static int read_node(struct yreader *y, int depth, struct rl_ynode **out) {
    yaml_event_t ev;
    *out = NULL;
    if (!yaml_parser_parse(&y->parser, &ev))
        return yerr(y, (int)y->parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                    y->parser.problem ? y->parser.problem : "unknown problem", "");
    int line = (int)ev.start_mark.line + 1;
    int rc = RL_OK;
    if (++y->n_nodes > RL_YAML_MAX_NODES || depth > RL_YAML_MAX_DEPTH) {
        yaml_event_delete(&ev);
        return yerr(y, line, "the file is nested too deeply or is too large%s%s", "", "");
    }
    struct rl_ynode *n = calloc(1, sizeof *n);
    if (!n) {
        yaml_event_delete(&ev);
        return RL_ENOMEM;
    }
    n->line = line;
    switch (ev.type) {
    case YAML_SCALAR_EVENT:
        n->type = RL_YAML_SCALAR;
        n->value = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
        if (!n->value)
            rc = RL_ENOMEM;
        else if (strlen(n->value) != ev.data.scalar.length)
            rc = yerr(y, line, "a value contains a NUL byte%s%s", "", "");
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool map = ev.type == YAML_MAPPING_START_EVENT;
        n->type = map ? RL_YAML_MAP : RL_YAML_SEQ;
        for (;;) {
            struct rl_ynode *kid;
            rc = read_node(y, depth + 1, &kid);
            if (rc != RL_OK || !kid)
                break;
            if (map && n->n_kids % 2 == 0)
                rc = check_key(y, n, kid);
            if (rc != RL_OK) {
                rl__ynode_free(kid);
                break;
            }
            rc = add_kid(n, kid);
            if (rc != RL_OK) {
                rl__ynode_free(kid);
                break;
            }
        }
        break;
    }
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        free(n);
        n = NULL; // the end of the enclosing collection
        break;
    case YAML_ALIAS_EVENT: rc = yerr(y, line, "YAML aliases are not supported%s%s", "", ""); break;
    default: rc = yerr(y, line, "unexpected YAML event%s%s", "", ""); break;
    }
    yaml_event_delete(&ev);
    if (rc != RL_OK) {
        rl__ynode_free(n);
        return rc;
    }
    *out = n;
    return RL_OK;
}

// Parse a whole document; an empty file gives an empty map.
static int read_document(struct yreader *y, const char *text, size_t len, struct rl_ynode **root) {
    *root = NULL;
    yaml_parser_set_input_string(&y->parser, (const unsigned char *)text, len);
    int rc = RL_OK;
    for (int expect = 0; expect < 2 && rc == RL_OK; expect++) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->parser, &ev))
            return yerr(y, (int)y->parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                        y->parser.problem ? y->parser.problem : "unknown problem", "");
        bool ok = ev.type == (expect == 0 ? YAML_STREAM_START_EVENT : YAML_DOCUMENT_START_EVENT);
        bool empty = expect == 1 && ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (empty) {
            *root = calloc(1, sizeof **root);
            if (!*root)
                return RL_ENOMEM;
            (*root)->type = RL_YAML_MAP;
            (*root)->line = 1;
            return RL_OK;
        }
        if (!ok)
            rc = yerr(y, 1, "expected a YAML document%s%s", "", "");
    }
    if (rc == RL_OK)
        rc = read_node(y, 0, root);
    if (rc == RL_OK && (!*root || (*root)->type != RL_YAML_MAP))
        rc = yerr(y, *root ? (*root)->line : 1, "the top level must be a mapping%s%s", "", "");
    // A second document would otherwise be ignored without a word.
    for (int expect = 0; expect < 2 && rc == RL_OK; expect++) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->parser, &ev)) {
            rc = yerr(y, (int)y->parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                      y->parser.problem ? y->parser.problem : "unknown problem", "");
            break;
        }
        if (ev.type != (expect == 0 ? YAML_DOCUMENT_END_EVENT : YAML_STREAM_END_EVENT))
            rc = yerr(y, (int)ev.start_mark.line + 1,
                      "the file holds more than one YAML document%s%s", "", "");
        yaml_event_delete(&ev);
    }
    if (rc != RL_OK) {
        rl__ynode_free(*root);
        *root = NULL;
    }
    return rc;
}

int rl__yaml_parse(const char *path, const char *text, size_t len, struct rl_ynode **root,
                   char *errbuf) {
    struct yreader y = {.path = path, .errbuf = errbuf};
    *root = NULL;
    if (!yaml_parser_initialize(&y.parser))
        return RL_ENOMEM;
    int rc = read_document(&y, text, len, root);
    yaml_parser_delete(&y.parser);
    return rc;
}
