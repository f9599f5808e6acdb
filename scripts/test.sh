#!/usr/bin/env bash
# Install everything the tests need (idempotent) and run the whole suite, integration and slow tests included.
#   bash scripts/test.sh                         # what CI runs (.ci/run)
#   bash scripts/test.sh tests/test_cli.py -x    # arguments go to pytest
#   LABELF_TEST_WORKERS=0 bash scripts/test.sh   # one process, no pytest-xdist (default: 2 workers)
set -euo pipefail
cd "$(dirname "$0")/.."

# The two installs are independent (two venvs), so they run side by side: Label Studio's (pip + a 60-90 s
# database migration) in the background, ours in the foreground.
ls_pid=""
if [ -f scripts/install_label_studio.sh ]; then
  ls_log=$(mktemp)
  bash scripts/install_label_studio.sh >"$ls_log" 2>&1 &
  ls_pid=$!
fi
bash scripts/setup.sh
if [ -n "$ls_pid" ]; then
  if ! wait "$ls_pid"; then
    cat "$ls_log" >&2
    echo "test.sh: installing Label Studio failed" >&2
    exit 1
  fi
  cat "$ls_log" >&2
  rm -f "$ls_log"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
workers=${LABELF_TEST_WORKERS:-2}
if [ "$workers" = "0" ]; then
  exec .venv/bin/python -m pytest -q -p no:xdist "$@"
fi
# Label Studio tests share one worker (and its one server): --dist loadgroup, see tests/conftest.py.
exec .venv/bin/python -m pytest -q -n "$workers" --dist loadgroup --durations=15 "$@"
