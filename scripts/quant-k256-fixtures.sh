#!/usr/bin/env bash
# The K-quant fixture variant (test/fixtures/transformers-k256): a qwen2_moe whose rows are whole 256-blocks
# (hidden 256, expert width 256, shared expert 512, head_dim 64, 4 experts), saved in bfloat16, with transformers'
# float32 expectations. Used by test/models/quantize-at-load.test.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
/work/venv/bin/python /work/shared/fixtures/make_fixtures.py test/fixtures/transformers-k256 \
  --dims '{"hidden": 256, "inter": 512, "moe_inter": 256, "experts": 4, "head_dim": 64, "seq": 8}' --save-dtype bfloat16 qwen2_moe
