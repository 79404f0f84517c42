#!/usr/bin/env bash
# Install what the tests need and run the whole suite: ruff, mypy and pytest (on SQLite and
# PostgreSQL). Works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh

ensure_python_venv
# Browser tests drive Debian's Chromium (never Playwright's download); Noto renders Devanagari.
# OCR: Tesseract with its Hindi and English data, Ghostscript for OCRmyPDF (docs/ingest.md).
# ClamAV's daemon for the malware-scanning tests (started by the tests, docs/resilience.md).
# LibreOffice's writer and calc without a GUI (the lightest: no X, no GTK) convert DOCX, ODT and
# XLSX to PDF for previews (docs/ingest.md, "Previews of office documents").
# PostgreSQL's server binaries and pgBackRest: the PostgreSQL backup tests start clusters of their own.
apt_install chromium fonts-noto-core tesseract-ocr tesseract-ocr-hin tesseract-ocr-eng ghostscript redis-server clamav-daemon postgresql pgbackrest litmus nextcloud-desktop-cmd rclone libreoffice-writer-nogui libreoffice-calc-nogui
make_venv "[test]"
# axe-core (npm) checks accessibility inside the browser tests.
command -v npm >/dev/null || apt_install npm
npm install --prefix tests/e2e --no-audit --no-fund --silent
# matrix-js-sdk (the SDK Element Web is built on) for tests/matrix/test_js_sdk.py.
npm install --prefix tests/matrix/js --no-audit --no-fund --silent
ensure_postgres

echo "== ruff"
.venv/bin/ruff format --check src tests bench
.venv/bin/ruff check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# Two processes, one per core (pytest-xdist); a file's tests stay in one process, so module
# fixtures (a live server, a seeded instance) are made once. Files go out in the order
# tests/conftest.py sets, the slow ones first (``--no-loadscope-reorder``: pytest-xdist would
# hand out the files with the most tests first, and the slow files, which hold few, ran last
# with one process idle). Each process has its own
# PostgreSQL schemas (named by pid), temporary directories, ports and Redis (tests/support).
# Temporary directories (each test's instance: SQLite files, blob store, served data) go on
# tmpfs when the machine has room there: the tests commit and fsync tens of thousands of times
# (about 30 fsyncs a test, 3 ms each on this disk), and crash durability of the test machine's
# disk is not what they test (the kill -9 tests kill processes, which tmpfs survives like a disk).
basetemp=()
if [[ -d /dev/shm && -w /dev/shm ]] && (( $(df --output=avail -k /dev/shm | tail -1) > 4 * 1024 * 1024 )); then
    scratch="/dev/shm/polaris-tests-$$"
    basetemp=(--basetemp "$scratch")
    trap 'rm -rf "$scratch"' EXIT
fi
.venv/bin/pytest -q -p no:cacheprovider -n "${POLARIS_TEST_PROCESSES:-2}" --dist loadfile --no-loadscope-reorder \
    "${basetemp[@]}" "$@"
