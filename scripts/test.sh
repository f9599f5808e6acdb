#!/usr/bin/env bash
# Install everything the tests need (idempotent) and run the whole suite, integration and slow tests included.
#   bash scripts/test.sh                         # what CI runs (.ci/run)
#   bash scripts/test.sh tests/test_cli.py -x    # arguments go to pytest
#   LABELF_TEST_WORKERS=0 bash scripts/test.sh   # one process, no pytest-xdist (default: 2 workers)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
say() { echo "test.sh: $* ($((SECONDS - start)) s)" >&2; }

# Label Studio's install (its own venv: pip + a 60-90 s database migration) runs in the background, beside ours and
# then beside the tests: only the Label Studio tests need it, and their fixture waits for it
# (tests/helpers/label_studio.py, LABELF_TEST_LS_INSTALLER).
ls_pid=""
ls_log=""
if [ -f scripts/install_label_studio.sh ]; then
  ls_log=$(mktemp "${TMPDIR:-/tmp}/labelf-ls-install.XXXXXX")
  bash scripts/install_label_studio.sh >"$ls_log" 2>&1 &
  ls_pid=$!
  trap 'kill "$ls_pid" 2>/dev/null; exit 130' INT TERM
fi
bash scripts/setup.sh
say "labelf-trainer installed"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ -n "$ls_pid" ] && export LABELF_TEST_LS_INSTALLER="$ls_pid:$ls_log"
workers=${LABELF_TEST_WORKERS:-2}
if [ "$workers" = "0" ]; then
  args=(-q -p no:xdist)
else
  # the slow tests start first, a module at a time, each demo on a worker of its own (tests/conftest.py)
  args=(-q -n "$workers" --durations=15)
fi
set +e
.venv/bin/python -m pytest "${args[@]}" "$@"
rc=$?
set -e
say "tests done (exit $rc)"

if [ -n "$ls_pid" ]; then
  if wait "$ls_pid"; then
    cat "$ls_log" >&2
  else
    cat "$ls_log" >&2
    echo "test.sh: installing Label Studio failed (log above)" >&2
    rc=1
  fi
  rm -f "$ls_log"
fi
exit $rc
