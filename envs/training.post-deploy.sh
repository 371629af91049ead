#!/usr/bin/env bash
# Snakemake runs this once inside the freshly built environment: install spikebench from this checkout
# without touching the pinned dependencies above.
set -euo pipefail
pip install --no-deps "$(dirname "${BASH_SOURCE[0]}")/.."
