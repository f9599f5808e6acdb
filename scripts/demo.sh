#!/usr/bin/env bash
# The end-to-end demo on the bundled Nordtel example: everything offline (SQLite, local files, packaged model).
# Usage: bash scripts/demo.sh            (workspace in .labelf/telecom; run again to reuse it, DEMO_FRESH=1 to restart)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ "${DEMO_FRESH:-0}" = 1 ] && rm -rf .labelf/telecom
exec .venv/bin/python -m labelf_trainer.demo "$@"
