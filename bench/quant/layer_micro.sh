#!/usr/bin/env bash
# Builds bench/quant/layer_micro.cc against the addon's objects in build/Release (run `npm run build:native`
# first) and runs it: bash bench/quant/layer_micro.sh [formats] [rounds] [hot]
# OLD=<dir> / NEW_SRC=1: see micro_build.sh.
source "$(dirname "$0")/micro_build.sh" layer_micro "$@"
