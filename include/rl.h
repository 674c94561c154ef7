// libroutellm: local LLM routing. Include this one header for the whole public API.
#ifndef RL_H
#define RL_H

#include "rl/battle.h"
#include "rl/calibrate.h"
#include "rl/core.h"
#include "rl/embcache.h"
#include "rl/encoder.h"
#include "rl/eval.h"
#include "rl/policy.h"
#include "rl/router.h"
#include "rl/texts.h"
#include "rl/tokenizer.h"
#include "rl/train.h"

#endif
