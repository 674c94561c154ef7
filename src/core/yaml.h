// Internal interface: one YAML document read with libyaml into a small tree whose nodes keep
// their line, for messages that name it. Used by the proxy's configuration and the validation
// suite's file. The text is untrusted: the tree is bounded in depth and in nodes, aliases are
// refused, a key repeated in one mapping is an error, and so is a second document.
#ifndef RL_SRC_CORE_YAML_H
#define RL_SRC_CORE_YAML_H

#include <stddef.h>

#include "rl/core.h"

#define RL_YAML_MAX_DEPTH 16    // levels of nesting
#define RL_YAML_MAX_NODES 20000 // nodes, end events included

enum rl_ynode_type { RL_YAML_SCALAR, RL_YAML_MAP, RL_YAML_SEQ };

struct rl_ynode {
    enum rl_ynode_type type;
    char *value;            // scalars
    int line;               // 1-based
    struct rl_ynode **kids; // maps: key, value, key, value, ...; sequences: items
    size_t n_kids, cap_kids;
};

// Read text, one YAML document whose top level is a mapping (an empty text gives an empty one),
// into *root. RL_EFORMAT with errbuf naming path and line, or RL_ENOMEM.
int rl__yaml_parse(const char *path, const char *text, size_t len, struct rl_ynode **root,
                   char *errbuf) RL_NODISCARD;
void rl__ynode_free(struct rl_ynode *n); // the whole tree; NULL is a no-op

#endif
