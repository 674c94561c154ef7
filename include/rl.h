// libroutellm: local LLM routing. Include this one header for the whole public API.
#ifndef RL_H
#define RL_H

#include "rl/core.h"
#include "rl/encoder.h"
#include "rl/router.h"
#include "rl/tokenizer.h"

#endif
