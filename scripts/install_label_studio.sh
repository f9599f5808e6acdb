#!/usr/bin/env bash
# Install Label Studio into its own venv (.labelstudio/venv) and build a migrated template database once.
# Idempotent: a second run only checks. Label Studio pins its own label-studio-sdk, so it never shares our .venv.
#   .labelstudio/venv/                       label-studio==$LABEL_STUDIO_VERSION
#   .labelstudio/template/label_studio.sqlite3  migrated empty database, copied by the test fixture (~6 s start)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${LABEL_STUDIO_VERSION:-1.23.2}
PY=${PYTHON:-python3}
ROOT=.labelstudio
VENV=$ROOT/venv
TEMPLATE=$ROOT/template
log() { echo "install_label_studio: $*" >&2; }

stamp=$VENV/.label-studio-$VERSION
if [ ! -f "$stamp" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  log "installing label-studio==$VERSION into $VENV (~1 GB, a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q "label-studio==$VERSION"
  touch "$stamp"
else
  log "label-studio $VERSION already installed in $VENV"
fi

if [ ! -f "$TEMPLATE/label_studio.sqlite3" ]; then
  log "migrating a template database in $TEMPLATE (60-90 s, once)"
  tmp=$(mktemp -d "$ROOT/.template-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # `label-studio version` runs the Django migrations against LABEL_STUDIO_BASE_DATA_DIR.
  LABEL_STUDIO_BASE_DATA_DIR="$tmp" LABEL_STUDIO_LATEST_VERSION_CHECK=false SENTRY_DSN= \
    "$VENV/bin/label-studio" version >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
  if [ ! -f "$tmp/label_studio.sqlite3" ]; then
    cat "$tmp/migrate.log" >&2
    log "no database was created in $tmp"; exit 1
  fi
  rm -rf "$TEMPLATE"
  mkdir -p "$TEMPLATE"
  cp "$tmp/label_studio.sqlite3" "$TEMPLATE/label_studio.sqlite3.partial"
  mv "$TEMPLATE/label_studio.sqlite3.partial" "$TEMPLATE/label_studio.sqlite3"
  log "template database ready: $TEMPLATE/label_studio.sqlite3"
else
  log "template database already in $TEMPLATE"
fi
