#!/usr/bin/env bash
# Fails when dist/ is not exactly a fresh bundle of src/ (GitHub runs dist/, not src/).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent bundle >/dev/null
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ differs from a fresh 'npm run bundle'; rebuild and commit it:" >&2
  git status --short -- dist >&2
  git diff --stat -- dist >&2
  exit 1
fi
echo "dist/ is a fresh bundle of src/"
