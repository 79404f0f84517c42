#!/usr/bin/env bash
# Extract translatable strings from the code and templates and merge them into every catalogue
# (src/polaris/web/locale/<lang>/LC_MESSAGES/messages.po). Then translate what is new in the Hindi
# catalogue; tests/web/test_i18n.py fails while a string has no Hindi translation.
set -euo pipefail
cd "$(dirname "$0")/.."
POT="$(mktemp --suffix=.pot)"
trap 'rm -f "$POT"' EXIT
.venv/bin/pybabel extract -F babel.cfg -k N_ --no-location --sort-output -o "$POT" src
for lang in en hi; do
    po="src/polaris/web/locale/$lang/LC_MESSAGES/messages.po"
    if [ -f "$po" ]; then
        .venv/bin/pybabel update --no-fuzzy-matching -i "$POT" -d src/polaris/web/locale -l "$lang"
    else
        .venv/bin/pybabel init -i "$POT" -d src/polaris/web/locale -l "$lang"
    fi
done
