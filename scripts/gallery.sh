#!/usr/bin/env bash
# Regenerate docs/gallery/ (README gallery) from the demo graphs' real outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/gallery.py "$@"
