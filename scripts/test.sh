#!/usr/bin/env bash
# Install everything the tests need (idempotent) and run the whole suite, integration tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f scripts/install_label_studio.sh ]; then bash scripts/install_label_studio.sh; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
