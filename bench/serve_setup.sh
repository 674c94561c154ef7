#!/usr/bin/env bash
# Set up .venv-serve-bench for bench/serve_proxy.sh: the LiteLLM proxy and the original RouteLLM
# server (both from PyPI), which the gateway benchmark compares with `routellm serve`.
#
#   bash bench/serve_setup.sh
#
# RouteLLM imports torch and transformers even for its random router. PyPI's torch wheel pulls
# several GB of CUDA libraries, so when TORCH_SITE names a site-packages folder that already
# holds a CPU torch and transformers (e.g. TORCH_SITE=/work/venv/lib/python3.11/site-packages)
# it is appended to the venv's path instead; otherwise torch and transformers come from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-serve-bench
cache=.cache/pip
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
pip=("$venv/bin/pip" install -q --cache-dir "$cache")
"${pip[@]}" 'litellm[proxy]'
"${pip[@]}" --no-deps 'routellm==0.2.0'
"${pip[@]}" pyyaml pydantic numpy pandas scikit-learn tqdm openai datasets fastapi shortuuid \
    uvicorn
if [ -n "${TORCH_SITE:-}" ] && [ -d "$TORCH_SITE/torch" ]; then
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$TORCH_SITE" > "$site/zz_torch_site.pth"
else
    "${pip[@]}" torch transformers
fi
OPENAI_API_KEY=dummy LITELLM_LOCAL_MODEL_COST_MAP=True "$venv/bin/python" -c 'import litellm, routellm.openai_server' >/dev/null
echo "bench venv ready: $venv"
