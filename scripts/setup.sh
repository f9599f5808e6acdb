#!/usr/bin/env bash
# Create .venv (if missing) and install labelf-trainer with everything the demo and the tests need.
# Idempotent: a second run only checks. CPU-only torch comes from the pinned wheel (an unpinned torch can pull CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.labelf-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing (torch CPU, sentence-transformers, setfit, fastapi, label-studio-sdk...)" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
