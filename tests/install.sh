#!/usr/bin/env bash
# `make test-install`: the Makefile's install, pkg-config and uninstall paths, end to end.
#
#   1. pkg-config is quiet while packages are missing, and a build says once which ones;
#   2. `make install DESTDIR=… PREFIX=/usr` puts every file in place;
#   3. the installed program routes and calibrates from another folder with the installed data,
#      found through $ROUTELLM_HOME and, without it, beside the program;
#   4. a small C program builds against the installed headers with `pkg-config --cflags --libs`
#      and runs on the installed libroutellm.so, which exports the public rl_ API alone;
#   5. `make uninstall` leaves no file behind.
#
# usage: tests/install.sh [BUILD]   (run from the repository root, after `make all models`)
set -euo pipefail

build=${1:-build}
make=${MAKE:-make}
root=$(pwd)
version=$(cat VERSION)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
share=$dest/usr/share/routellm

fail() {
    echo "install: FAIL: $*" >&2
    exit 1
}
ok() { echo "install: ok   $*"; }

# ----------------------------------------------------------------------------
# 1. Missing packages

mkdir -p "$tmp/no-pc"
# (MAKE=true: under -n the recursive steps would run, and they build once deps has run.)
out=$(PKG_CONFIG_LIBDIR=$tmp/no-pc $make -n deps demo check MAKE=true 2>&1 >/dev/null) ||
    fail "make -n deps demo check failed without the packages: $out"
[ -z "$out" ] || fail "make -n deps demo check printed errors without the packages: $out"
out=$(PKG_CONFIG_LIBDIR=$tmp/no-pc $make --no-print-directory BUILD="$tmp/b" \
    "$tmp/b/obj/src/core/buf.o" 2>&1) && fail "a build without the packages succeeded"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "more than one line without the packages: $out"
case $out in *"pkg-config finds no openblas"*"make deps"*) ;; *) fail "message: $out" ;; esac
ok "without the -dev packages: no pkg-config noise, one message at build time"

# make deps waits for apt's lock: every apt-get call of tools/install_deps.sh (seen through stand-ins
# for dpkg-query, sudo and apt-get that report every package missing) carries the timeout.
mkdir -p "$tmp/fake"
printf '#!/bin/sh\nexit 1\n' >"$tmp/fake/dpkg-query"
printf '#!/bin/sh\nexec "$@"\n' >"$tmp/fake/sudo"
printf '#!/bin/sh\necho "$*" >>"%s/apt.log"\n' "$tmp" >"$tmp/fake/apt-get"
chmod +x "$tmp/fake/"*
PATH=$tmp/fake:$PATH bash tools/install_deps.sh
[ "$(grep -c -- '-o DPkg::Lock::Timeout=600 ' "$tmp/apt.log")" -eq 2 ] ||
    fail "install_deps.sh does not wait for apt's lock: $(cat "$tmp/apt.log")"
ok "make deps waits for apt's lock"

# The last line of `make check` is the test runner's, as the README says (run as from a shell,
# not as a sub-make of the make that runs this script).
last=$(env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS $make check T=core_buf_append_and_take 2>&1 |
    tail -n 1)
case $last in [0-9]*" passed, "[0-9]*" failed") ;; *) fail "make check ends with: $last" ;; esac
ok "make check ends with \"N passed, N failed\""

# ----------------------------------------------------------------------------
# 2. Install

$make --no-print-directory -s BUILD="$build" install DESTDIR="$dest" PREFIX=/usr >/dev/null
for f in bin/routellm lib/libroutellm.so."$version" lib/libroutellm.so.0 lib/libroutellm.so \
    lib/libroutellm.a lib/pkgconfig/routellm.pc include/routellm/rl.h \
    include/routellm/rl/router.h include/routellm/rl/version.h share/man/man1/routellm.1 \
    share/routellm/routers/mf.safetensors share/routellm/data/prompts/arena_hard.jsonl.gz \
    share/routellm/models/all-MiniLM-L6-v2/model.safetensors \
    share/doc/routellm/routellm.service; do
    [ -e "$dest/usr/$f" ] || fail "not installed: /usr/$f"
done
for c in $("$build"/routellm --help | sed -n 's/^  \([a-z]*\)  .*/\1/p'); do
    page=$dest/usr/share/man/man1/routellm-$c.1
    [ -s "$page" ] || fail "no manual page for $c"
    if command -v groff >/dev/null; then
        warn=$(groff -man -ww -z "$page" 2>&1) || fail "groff: $page: $warn"
        [ -z "$warn" ] || fail "groff warns on $page: $warn"
    fi
done
grep -q "^## $version " CHANGELOG.md || fail "CHANGELOG.md has no section for $version (VERSION)"
[ "$(readlink "$dest/usr/lib/libroutellm.so.0")" = "libroutellm.so.$version" ] ||
    fail "libroutellm.so.0 does not point at libroutellm.so.$version"
ok "make install DESTDIR=… PREFIX=/usr"

# ----------------------------------------------------------------------------
# 3. The installed program, from another folder

mkdir -p "$tmp/elsewhere" "$tmp/home"
cd "$tmp/elsewhere"
bin=$dest/usr/bin/routellm
[ "$("$bin" --version)" = "routellm $version" ] || fail "--version: $("$bin" --version)"
out=$(ROUTELLM_HOME=$share HOME=$tmp/home "$bin" route --router mf --threshold 0.5 --json \
    "Write a proof that there are infinitely many primes." 2>/dev/null)
case $out in *'"router":"mf"'*) ;; *) fail "route with ROUTELLM_HOME: $out" ;; esac
# Without the variable the program finds the share folder beside itself: hide the prompt
# sample, and calibrate names the installed path it looked for.
mv "$share/data/prompts/arena_hard.jsonl.gz" "$tmp/"
out=$(env -u ROUTELLM_HOME HOME="$tmp/home" "$bin" calibrate --router length \
    --strong-model-pct 0.5 2>&1) && fail "calibrate without its prompts succeeded"
mv "$tmp/arena_hard.jsonl.gz" "$share/data/prompts/"
case $out in *"$(realpath "$share")/data/prompts/arena_hard.jsonl.gz"*) ;;
*) fail "the installed home was not used: $out" ;; esac
printf '%s\n' "hi" "Prove Fermat's little theorem." "Sort a list in Python." >prompts.txt
out=$(env -u ROUTELLM_HOME HOME="$tmp/home" XDG_CACHE_HOME= "$bin" calibrate --router mf \
    --strong-model-pct 0.5 --prompts prompts.txt)
case $out in *"threshold"*) ;; *) fail "calibrate: $out" ;; esac
[ ! -e "$share/.cache" ] || fail "the installed home was written to"
[ -d "$tmp/home/.cache/routellm/embeddings" ] || fail "no cache in ~/.cache/routellm"
ok "routellm route and calibrate from another folder, with and without \$ROUTELLM_HOME"

# ----------------------------------------------------------------------------
# 4. The library through pkg-config

cat >"$tmp/elsewhere/prog.c" <<'EOF'
#include <rl.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load("length", NULL, err);
    if (!r || strcmp(rl_version(), RL_VERSION) != 0) {
        fprintf(stderr, "%s\n", r ? "version" : err);
        return 1;
    }
    printf("%s %s %s\n", rl_version(), rl_router_name(r), rl_home());
    rl_router_free(r);
    return 0;
}
EOF
export PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
[ "$(pkg-config --modversion routellm)" = "$version" ] || fail "pkg-config --modversion"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror $(pkg-config --cflags routellm) prog.c $(pkg-config --libs routellm) \
    -o prog || fail "cannot build against the installed headers and library"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
out=$(env -u ROUTELLM_HOME LD_LIBRARY_PATH="$dest/usr/lib" ./prog) || fail "prog: $out"
# The program lies outside the install: the library finds the share folder beside itself.
[ "$out" = "$version length $(realpath "$share")" ] || fail "prog printed: $out"
LD_LIBRARY_PATH="$dest/usr/lib" ldd ./prog | grep -q "$dest/usr/lib/libroutellm.so.0" ||
    fail "prog does not use the installed libroutellm.so.0"
exports=$(nm -D --defined-only "$dest/usr/lib/libroutellm.so" | awk '{print $3}')
others=$(printf '%s\n' "$exports" | grep -v '^rl_' | grep -v '^$' || true)
internal=$(printf '%s\n' "$exports" | grep '^rl__' || true)
[ -z "$others$internal" ] || fail "libroutellm.so exports more than the rl_ API: $others $internal"
printf '%s\n' "$exports" | grep -qx rl_router_load || fail "rl_router_load is not exported"
ok "a program built with pkg-config runs on the installed library ($(printf '%s\n' "$exports" |
    wc -l) rl_ symbols exported, nothing else)"

# ----------------------------------------------------------------------------
# 5. Uninstall

cd "$root"
$make --no-print-directory -s BUILD="$build" uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null
left=$(find "$dest" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall leaves no file"
