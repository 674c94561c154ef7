// Routing among more than two models: a router's predicted quality for each candidate model on
// one prompt, and the policies that pick a model from those qualities and the models' prices.
//
// Quality: the probability that a model beats a reference model on the prompt, as the router's
// pair score (rl_router_score_prompt with strong = the model, weak = the reference); the
// reference scores 0.5. mf and sw_ranking give that probability directly; irt gives
// 0.5 + (P(good answer | model) - P(good answer | reference)) / 2, which orders models by their
// probability of a good answer. Kinds whose score does not depend on the pair (random, length,
// bert: a classifier of one pair) cannot rank more than two models
// (rl_router_kind_ranks_models).
#ifndef RL_POLICY_H
#define RL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "rl/core.h"
#include "rl/router.h"

RL_API_BEGIN

// Whether the kind's scores rank any number of its models (mf, sw_ranking, irt).
bool rl_router_kind_ranks_models(const struct rl_router_kind *k);

// Quality of models[0..n) (indices into r's model list) against the model at index ref, for one
// prompt, into quality[0..n). RL_EUNSUPPORTED when r's kind cannot rank models; RL_EINVAL for an
// index out of range, n == 0, or a missing embedding or text; a scoring error otherwise, with
// quality untouched.
int rl_router_qualities(const struct rl_router *r, const int *models, size_t n, int ref,
                        const struct rl_prompt *prompt, double *quality) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Policies

enum rl_policy_kind {
    RL_POLICY_CHEAPEST, // the cheapest model whose quality is within `param` of the best one's
    RL_POLICY_UTILITY,  // the model with the largest quality - param · expected cost (USD)
};

struct rl_policy {
    enum rl_policy_kind kind;
    double param; // cheapest: tolerance in [0, 1]; utility: λ >= 0, quality per USD
};

#define RL_POLICY_LAMBDA_MAX 1e12 // the largest λ

// RL_OK when p's parameter is in its kind's range (tolerance in [0, 1], λ in [0,
// RL_POLICY_LAMBDA_MAX]), RL_EINVAL otherwise.
int rl_policy_check(const struct rl_policy *p) RL_NODISCARD;

// Parse "cheapest" or "utility" into *kind; RL_EINVAL otherwise.
int rl_policy_kind_parse(const char *name, enum rl_policy_kind *kind) RL_NODISCARD;
const char *rl_policy_kind_name(enum rl_policy_kind kind); // "cheapest", "utility"

// Prompt tokens are estimated from a prompt's bytes (about four per token in English text for the
// common BPE vocabularies) for the expected cost of a request: by `route`, `calibrate` and the
// proxy's routes alike, so a parameter calibrated on prompts means the same when serving.
#define RL_POLICY_BYTES_PER_TOKEN 4.0

// The expected cost in USD of one request to a model priced price_in and price_out (USD per
// million prompt and completion tokens) for prompt_tokens in and output_tokens out.
double rl_policy_request_cost(double price_in, double price_out, double prompt_tokens,
                              double output_tokens);

// The index in [0, n) of the model policy p picks from quality[0..n) and cost[0..n) (expected
// USD per request). Ties go to the higher quality, then the lower cost, then the lower index.
// RL_EINVAL (< 0) for n == 0, a parameter out of range, or a value that is not finite.
int rl_policy_choose(const struct rl_policy *p, const double *quality, const double *cost,
                     size_t n) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Calibration over a prompt sample: quality and cost hold n prompts × m candidates, row-major
// (prompt i's candidates at [i·m, i·m + m)).

// The average expected cost per prompt of policy p over the sample into *avg_cost, and the number
// of prompts that go to each candidate into counts[0..m) (NULL: not wanted). RL_EINVAL as
// rl_policy_choose.
int rl_policy_sample_cost(const struct rl_policy *p, const double *quality, const double *cost,
                          size_t n, size_t m, double *avg_cost, size_t *counts) RL_NODISCARD;

// The smallest parameter of `kind` (tolerance in [0, 1]; λ in [0, 1e12]) whose average expected
// cost over the sample is at most target_cost (USD per request): the most quality that budget
// buys, as a larger parameter never costs more. RL_OK with *param; RL_ETOOBIG with *param the
// largest value when even that costs more than target_cost; RL_EINVAL as rl_policy_choose or for a
// target that is not finite.
int rl_policy_calibrate(enum rl_policy_kind kind, const double *quality, const double *cost,
                        size_t n, size_t m, double target_cost, double *param) RL_NODISCARD;

// The share of the sample's prompts that policy p sends to candidate `model` or to a candidate
// at least as dear on that prompt, into *share. It never rises with the parameter, so it can be
// calibrated. RL_EINVAL as rl_policy_choose, or for model >= m.
int rl_policy_sample_share(const struct rl_policy *p, const double *quality, const double *cost,
                           size_t n, size_t m, size_t model, double *share) RL_NODISCARD;

// The smallest parameter of `kind` at which at most target_share (in [0, 1]) of the sample goes
// to candidate `model` or a dearer one (rl_policy_sample_share): a cap on the share of an
// expensive model, the most quality within it. Results as rl_policy_calibrate.
int rl_policy_calibrate_share(enum rl_policy_kind kind, const double *quality, const double *cost,
                              size_t n, size_t m, size_t model, double target_share,
                              double *param) RL_NODISCARD;

RL_API_END

#endif
