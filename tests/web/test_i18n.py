"""The translation catalogues: complete in Hindi, and in step with the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from polaris.web.i18n import LOCALE_DIR, translations

ROOT = Path(__file__).resolve().parents[2]


def catalogue_ids(language: str) -> dict[str, str]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    return {str(m.id): str(m.string) for m in catalog if m.id}


def test_every_string_has_a_hindi_translation() -> None:
    untranslated = [msgid for msgid, text in catalogue_ids("hi").items() if not text.strip()]
    assert untranslated == []


def test_catalogues_hold_every_string_in_the_code(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "-k", "N_", "-o", str(pot), "src"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        in_code = {str(m.id) for m in read_po(handle) if m.id}
    for language in ("en", "hi"):
        missing = in_code - set(catalogue_ids(language))
        assert missing == set(), f"run scripts/i18n.sh: {language} lacks {sorted(missing)}"


def test_hindi_catalogue_translates() -> None:
    assert translations("hi").gettext("Sign in") == "साइन इन करें"
    assert translations("en").gettext("Sign in") == "Sign in"
