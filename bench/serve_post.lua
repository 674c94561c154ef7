-- wrk script for bench/serve_proxy.sh: POST one small chat completion request.
--   RL_BENCH_MODEL     the model field (default router-random-0.5)
--   RL_BENCH_DISTINCT  1 to make every prompt different (defeats the embedding cache)
--   RL_BENCH_TAG       put in every distinct prompt, so that two runs share none
--   RL_BENCH_KEY       sent as a bearer key (the LiteLLM proxy insists on one)
local model = os.getenv("RL_BENCH_MODEL") or "router-random-0.5"
local distinct = os.getenv("RL_BENCH_DISTINCT") == "1"
local tag = os.getenv("RL_BENCH_TAG") or ""

local function body(prompt)
    return '{"model":"' .. model .. '","messages":[{"role":"system","content":"Be brief."},' ..
        '{"role":"user","content":"' .. prompt .. '"}],"max_tokens":16,"temperature":0.7' .. '}'
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("RL_BENCH_KEY") then
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("RL_BENCH_KEY")
end
wrk.body = body("Explain in one sentence why the sky is blue.")

local n = 0
if distinct then
    request = function()
        n = n + 1
        return wrk.format(nil, nil, nil,
            body("Question " .. tag .. n .. ": explain in one sentence how topic number " .. n ..
                " relates to routing large language models."))
    end
end

done = function(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format("RESULT rps=%.1f p50_us=%d p90_us=%d p99_us=%d non2xx=%d errors=%d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50),
        latency:percentile(90), latency:percentile(99), errors.status,
        errors.connect + errors.read + errors.write + errors.timeout))
end
