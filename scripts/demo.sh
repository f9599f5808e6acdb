#!/usr/bin/env bash
# The end-to-end demo on the bundled Nordtel example: everything offline (SQLite, local files, packaged model).
# Usage: bash scripts/demo.sh [--rounds 3] [--n 40] [--core] [--dir DIR]   (its own folder, .labelf/demo by default,
# emptied at the start of every run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m labelf_trainer.demo "$@"
