#!/usr/bin/env bash
# Install Polaris into .venv, create a demo instance (first run only) and serve it (on
# http://127.0.0.1:8080 unless polaris.toml or POLARIS_HTTP__PORT says otherwise). Works on a
# fresh Debian machine (installs python3-venv if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

DATA_DIR="${POLARIS_DATA_DIR:-$PWD/demo-data}"
ensure_python_venv
# OCR of scans: Tesseract with its Hindi and English data, Ghostscript for OCRmyPDF.
apt_install tesseract-ocr tesseract-ocr-hin tesseract-ocr-eng ghostscript fonts-noto-core
make_venv ""

if [ ! -f "$DATA_DIR/polaris.toml" ]; then
    .venv/bin/polaris init "$DATA_DIR" --demo
else
    echo "using the existing demo instance in $DATA_DIR"
    tail -n 1 "$DATA_DIR/demo-logins.txt" 2>/dev/null || true
fi
echo "admin login: user 'admin', password in $DATA_DIR/demo-logins.txt"
# polaris serve prints the address it listens on ([http] in polaris.toml, POLARIS_HTTP__PORT).
exec .venv/bin/polaris serve --data-dir "$DATA_DIR"
