#!/usr/bin/env bash
# Set up (once) and run the main job: walk into the film with the shipped demo graph.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/nodeflow run graphs/future_film.json "$@"
