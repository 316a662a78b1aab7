#!/usr/bin/env bash
# Fails when a tracked file holds merge-conflict markers: a line starting with "<<<<<<< " or ">>>>>>> " (or
# the diff3 base "||||||| "), and the "=======" separator in such a file. A lone "=======" elsewhere is a
# Markdown heading underline, not a conflict.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git grep -lE '^(<<<<<<<|>>>>>>>|\|\|\|\|\|\|\|)( |$)' -- . || true)
if [ "${#files[@]}" -gt 0 ]; then
    git grep -nE '^((<<<<<<<|>>>>>>>|\|\|\|\|\|\|\|)( |$)|=======$)' -- "${files[@]}" >&2
    echo "error: merge-conflict markers committed in the lines above; resolve them (keep what the code does)" >&2
    exit 1
fi
