"""OCR with the real Tesseract on pages these tests draw themselves (PIL and Debian's Noto fonts):
Hindi words recalled, every FIR number and date exact, a searchable PDF/A beside the text; scans
that cannot be read, or read in time, fail with a reason and leave no process behind.

OCR costs about 2 s a page on this machine, so the pages are few and most are short.
"""

from __future__ import annotations

import collections
import io
import itertools
import os
import random
import time
import unicodedata
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
import regex
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from polaris.ingest import ocr
from polaris.ingest.extract import PDF_TYPE, CannotExtract, Extracted, Limits, extract_text

NOTO = Path("/usr/share/fonts/truetype/noto")
FONTS = {
    "sans": ("NotoSansDevanagari-Regular.ttf", "NotoSans-Regular.ttf"),
    "serif": ("NotoSerifDevanagari-Regular.ttf", "NotoSerif-Regular.ttf"),
}
HINDI = [
    "शिकायतकर्ता ने बताया कि उसकी मोटरसाइकिल घर के सामने से चोरी हो गई",
    "मौके पर पहुंचकर घटनास्थल का निरीक्षण किया गया और गवाहों के बयान लिए गए",
    "आरोपी को गिरफ्तार कर न्यायालय में पेश किया गया",
    "थाना प्रभारी ने विवेचना अधिकारी को प्रकरण की जांच सौंपी",
    "जब्ती पत्रक के अनुसार एक मोबाइल फोन और नकद राशि बरामद हुई",
    "पुलिस अधीक्षक कार्यालय से प्राप्त परिपत्र का पालन सुनिश्चित करें",
    "विवेचना के दौरान ज्ञात हुआ कि आरोपी पूर्व में भी अपराध में लिप्त रहा है",
    "क्षेत्र में शांति व्यवस्था बनाए रखने हेतु अतिरिक्त पुलिस बल तैनात किया गया",
]
ENGLISH = [
    "The complainant stated that his motorcycle was stolen from outside his house",
    "The accused was arrested and produced before the court on the same day",
]
WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
DEVANAGARI = regex.compile(r"\p{Devanagari}")


def fir_lines(rng: random.Random, count: int) -> tuple[list[str], list[str]]:
    """Lines with FIR numbers, dates and sections (many with leading 1s, which ``hin+eng`` drops),
    and the tokens that must come out exactly."""
    lines: list[str] = []
    exact: list[str] = []
    for n in range(count):
        fir = f"{rng.randint(1, 1999):04d}/{rng.choice([2019, 2025, 2026])}"
        date = f"{rng.randint(10, 19)}/{rng.randint(1, 12):02d}/{rng.choice([2025, 2026])}"
        section = str(rng.choice([379, 302, 307, 420, 147, 109]))
        if n % 3 == 0:
            lines.append(f"FIR संख्या {fir} दिनांक {date}")
            exact += [fir, date]
        elif n % 3 == 1:
            lines.append(f"धारा {section} भा.द.सं. के अंतर्गत अपराध क्रमांक {fir} दर्ज")
            exact += [section, fir]
        else:
            lines.append(f"FIR No. {fir} dated {date} under section {section} IPC")
            exact += [fir, date, section]
    return lines, exact


def draw_line(draw: ImageDraw.ImageDraw, y: int, text: str, fonts: tuple[object, object]) -> None:
    """Mixed-script text on one baseline: Latin letters in the Latin face, the rest in Devanagari
    (Noto's Devanagari face has no Latin letters)."""
    deva, latin = fonts
    x = 150.0
    for run in regex.findall(r"[A-Za-z]+(?:[ .,]*[A-Za-z]+)*|[^A-Za-z]+", text):
        font = latin if regex.match(r"[A-Za-z]", run) else deva
        draw.text((x, y), run, font=font, fill=0, anchor="ls")  # type: ignore[arg-type]
        x += font.getlength(run)  # type: ignore[attr-defined]


def page(seed: int, *, lines: int = 10, style: str = "sans") -> tuple[Image.Image, str, list[str]]:
    """A clean A4-wide page at 300 dpi (11 pt text): its picture, its text, its exact tokens."""
    rng = random.Random(seed)
    ids, exact = fir_lines(rng, max(2, lines // 3))
    body = [*rng.sample(HINDI, max(0, min(len(HINDI), lines - len(ids) - 1))), rng.choice(ENGLISH)]
    pairs = itertools.zip_longest(body, ids)
    text_lines = [line for pair in pairs for line in pair if line is not None]
    fonts = tuple(ImageFont.truetype(str(NOTO / name), 46) for name in FONTS[style])
    picture = Image.new("L", (2480, 200 + 88 * len(text_lines)), 255)
    draw = ImageDraw.Draw(picture)
    for number, line in enumerate(text_lines):
        draw_line(draw, 150 + 88 * number, line, fonts)  # type: ignore[arg-type]
    return picture, "\n".join(text_lines), exact


def encoded(picture: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=fmt, **options)
    return out.getvalue()


def words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFC", text))


def hindi_recall(truth: str, read: str) -> float:
    wanted = collections.Counter(w for w in words(truth) if DEVANAGARI.search(w))
    found = collections.Counter(words(read))
    return sum(min(n, found[w]) for w, n in wanted.items()) / sum(wanted.values())


def missing(exact: list[str], read: str) -> list[str]:
    """Tokens not found whole: 0123/2026 inside 10123/2026 does not count."""
    return [
        t for t in exact if not regex.search(rf"(?<!\p{{N}}){regex.escape(t)}(?!\p{{N}})", read)
    ]


def ocr_text(data: bytes, content_type: str, workdir: Path, **options: object) -> Extracted:
    return extract_text(
        data,
        content_type,
        "",
        ocr_languages=ocr.DEFAULT_LANGUAGES,
        workdir=workdir,
        **options,  # type: ignore[arg-type]
    )


def pdf_text(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    try:
        return [str(document[i].get_textpage().get_text_range()) for i in range(len(document))]
    finally:
        document.close()


def test_a_scanned_page_is_read_with_hindi_words_and_every_number_exact(tmp_path: Path) -> None:
    picture, truth, exact = page(1, lines=12)
    result = ocr_text(encoded(picture, "PNG", dpi=(300, 300)), "image/png", tmp_path)
    assert (result.method, result.pages, result.language) == ("ocr", 1, "eng+hin")
    assert hindi_recall(truth, result.text) >= 0.9
    assert missing(exact, result.text) == []
    assert "The complainant stated" in result.text or "The accused was arrested" in result.text
    # The searchable PDF/A: the page picture with Tesseract's text layer, which reads back whole.
    assert result.searchable_pdf is not None
    with pikepdf.open(io.BytesIO(result.searchable_pdf)) as pdf:
        assert len(pdf.pages) == 1
        assert pdf.open_metadata().pdfa_status == "2B"
    assert hindi_recall(truth, pdf_text(result.searchable_pdf)[0]) >= 0.9


def test_every_page_of_a_tiff_scan_in_either_typeface_is_read(tmp_path: Path) -> None:
    first, first_truth, first_exact = page(2, lines=9, style="serif")
    second, second_truth, second_exact = page(3, lines=9, style="sans")
    bilevel = [picture.convert("1", dither=Image.Dither.NONE) for picture in (first, second)]
    scan = encoded(
        bilevel[0],
        "TIFF",
        save_all=True,
        append_images=bilevel[1:],
        dpi=(300, 300),
        compression="group4",
    )  # as a document scanner makes them: black and white, CCITT group 4
    result = ocr_text(scan, "image/tiff", tmp_path)
    assert result.pages == 2
    read_first, read_second = result.text.split("\f")
    assert hindi_recall(first_truth, read_first) >= 0.9
    assert hindi_recall(second_truth, read_second) >= 0.9
    assert missing(first_exact, read_first) == [] and missing(second_exact, read_second) == []
    assert result.searchable_pdf is not None and len(pdf_text(result.searchable_pdf)) == 2


def test_a_photo_without_a_stated_resolution_is_read_as_300_dpi(tmp_path: Path) -> None:
    picture, _, exact = page(4, lines=3)
    data = encoded(picture.convert("RGB"), "JPEG", quality=90)
    assert "dpi" not in Image.open(io.BytesIO(data)).info
    result = ocr_text(data, "image/jpeg", tmp_path)
    assert missing(exact, result.text) == []


def test_a_pdf_keeps_its_text_pages_and_ocrs_only_its_scanned_ones(tmp_path: Path) -> None:
    scan, _, exact = page(5, lines=3)
    pdf = FPDF()
    pdf.add_font("deva", fname=str(NOTO / "NotoSansDevanagari-Regular.ttf"))
    pdf.add_page()
    pdf.set_font("deva", size=12)
    pdf.cell(text="थाना कोतवाली का दैनिक प्रतिवेदन और रोजनामचा")
    pdf.add_page()
    pdf.image(scan, x=0, y=0, w=210)  # a scanned page: a picture, no text
    result = ocr_text(bytes(pdf.output()), PDF_TYPE, tmp_path)
    assert (result.method, result.pages) == ("ocr", 2)
    typed, scanned = result.text.split("\f")
    assert typed == "थाना कोतवाली का दैनिक प्रतिवेदन और रोजनामचा"
    assert missing(exact, scanned) == []
    assert result.searchable_pdf is not None
    layer = pdf_text(result.searchable_pdf)
    assert layer[0] == typed  # the text page is copied unchanged
    assert missing(exact, layer[1]) == []


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in command:
            found.append(command)
    return found


def test_ocr_past_its_deadline_is_stopped_with_everything_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "WAIT_TICK_SECONDS", 0.25)
    picture, _, _ = page(6, lines=30)
    # Twelve dense pages take Tesseract far longer than the deadline on any machine, and the
    # deadline leaves a busy machine time to start Tesseract at all (2 s did not, under load).
    scan = encoded(picture, "TIFF", save_all=True, append_images=[picture] * 11, dpi=(300, 300))
    seen: list[str] = []  # what ran in the work directory while the caller waited
    started = time.monotonic()
    with pytest.raises(CannotExtract, match="longer than 8 s and was stopped"):
        ocr_text(
            scan,
            "image/tiff",
            tmp_path,
            limits=Limits(ocr_timeout_seconds=8.0),
            on_wait=lambda: seen.extend(processes_mentioning(str(tmp_path))),
        )
    assert time.monotonic() - started < 60  # stopped at the deadline, not after all the pages
    # The caller heard from OCR while it ran (a job renews its lease then), and Tesseract was at
    # work on the page when the deadline came.
    assert any(command.startswith("tesseract") for command in seen)
    # Tesseract's files are in the work directory: a process still naming it would be a leftover.
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        os.sched_yield()
    assert processes_mentioning(str(tmp_path)) == []


def test_a_scan_with_more_pages_than_the_limit_is_refused_before_ocr(tmp_path: Path) -> None:
    frames = [Image.new("L", (200, 200), 255)] * 3
    scan = encoded(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(CannotExtract, match="3 pages, more than the 2 read"):
        ocr_text(scan, "image/tiff", tmp_path, limits=Limits(ocr_pages=2))
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_picture_gives_the_reason(tmp_path: Path) -> None:
    picture, _, _ = page(7, lines=3)
    with pytest.raises(CannotExtract, match="the picture cannot be read"):
        ocr_text(encoded(picture, "PNG")[:2000], "image/png", tmp_path)


def test_a_scanned_pdf_under_an_owner_password_only_is_read(tmp_path: Path) -> None:
    """Permissions without a password to open (as some scanners write): OCR reads it; a PDF that
    needs a password to open says so instead (tests/ingest/test_extract.py)."""
    picture, _, exact = page(9, lines=3)
    out = io.BytesIO()
    picture.save(out, format="PDF", resolution=300)
    protected = io.BytesIO()
    with pikepdf.open(out) as pdf:
        pdf.save(
            protected,
            encryption=pikepdf.Encryption(
                user="", owner="x", allow=pikepdf.Permissions(extract=False)
            ),
        )
    result = ocr_text(protected.getvalue(), PDF_TYPE, tmp_path)
    assert result.method == "ocr" and missing(exact, result.text) == []


def test_a_language_not_installed_is_a_server_problem_worth_retrying(tmp_path: Path) -> None:
    picture, _, _ = page(8, lines=3)
    with pytest.raises(ocr.OcrUnavailable, match="OCR is not usable on this server"):
        extract_text(
            encoded(picture, "PNG", dpi=(300, 300)),
            "image/png",
            "",
            ocr_languages="eng+xyz",
            workdir=tmp_path,
        )


def test_the_sidecar_gives_each_page_read_with_slashes_between_digits_closed_up() -> None:
    sidecar = (
        "क्रमांक 1191 / 2024 दर्ज\nदिनांक 05/ 11 /2026; 1 / x\n"
        "\f[OCR skipped on page(s) 2-3]\fपृष्ठ 4\n\f"
    )
    assert ocr.split_sidecar(sidecar) == [
        "क्रमांक 1191/2024 दर्ज\nदिनांक 05/11/2026; 1 / x\n",
        "पृष्ठ 4\n",
    ]


def test_tesseract_is_asked_its_version_and_languages_once_and_again_for_a_new_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = ocr._TesseractFacts()
    monkeypatch.setattr(ocr, "_TESSERACT", facts)
    picture, _, exact = page(9, lines=3)
    data = encoded(picture, "PNG", dpi=(300, 300))
    first = tmp_path / "first"
    first.mkdir()
    assert missing(exact, ocr_text(data, "image/png", first).text) == []
    known = facts.known(["eng", "hin"])
    assert known["version"].startswith(("4.", "5.")) and {"eng", "hin"} <= set(known["languages"])
    # A language the answer lacks is asked again (installing it mends the job without a restart).
    assert "languages" not in facts.known(["eng", "xyz"])
    second = tmp_path / "second"
    second.mkdir()
    with pytest.raises(ocr.OcrUnavailable, match="OCR is not usable on this server"):
        extract_text(data, "image/png", "", ocr_languages="eng+xyz", workdir=second)
    # Later documents take the answer as given: one OCRmyPDF refuses is refused without asking.
    facts.learn_answers({"version": "5.4.0"})
    third = tmp_path / "third"
    third.mkdir()
    with pytest.raises(ocr.OcrUnavailable, match=r"5\.4\.0 is not supported"):
        ocr_text(data, "image/png", third)
