"""OCR throughput of Polaris's text pipeline against the plain `tesseract` command, side by side.

Run by hand (never in CI), on a Debian machine with Polaris installed in .venv and Tesseract's
Hindi and English data (`scripts/test.sh` installs them):

    .venv/bin/python bench/ocr.py                      # 20 pages, 2 workers (a few minutes)
    .venv/bin/python bench/ocr.py --pages 6 --repeat 1 # smoke test

It draws `--pages` A4 pages of Hindi and English police text at 300 dpi (Noto fonts, sans and
serif, 25 lines each, with FIR numbers, dates and sections), writes them as PNG, and reads the same
page images with, one after another:

- `tesseract PAGE OUT -l LANGS txt`: the plain command, text only;
- `tesseract PAGE OUT -l LANGS txt pdf`: the plain command, text and a searchable PDF (what
  Polaris keeps too, less PDF/A);
- Polaris: `polaris.ingest.extract.extract_text` on each page's bytes as the text job calls it
  (OCRmyPDF in a child process per document, Tesseract's sandwich text layer, PDF/A output),
  the pages spread over `--workers` threads as the job workers would run them.

Each reads `--workers` pages at a time with `OMP_THREAD_LIMIT=1` (as OCRmyPDF sets it), after one
untimed warm-up page. The pipelines take turns for `--repeat` rounds, so that a change in the load
of a shared machine falls on all of them alike; pages/min is pages over the wall-clock time of a
pipeline's best round (CPU s/page likewise from its cheapest round). Every result is also checked:
Hindi word recall, and the FIR numbers, dates and sections that came out exactly, and the CPU time
of each page (the bench's process, its children and the children of its fork server: steadier than
the wall clock on a shared machine, where other people's work stretches every pipeline's wall
time). `--also` adds plain-tesseract runs in other language orders (default `hin+eng`), to show
what the order does to the digits. The Markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import regex
from PIL import Image, ImageDraw, ImageFont

from polaris.ingest import ocr
from polaris.ingest.extract import extract_text

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
    "रात्रि गश्त के दौरान संदिग्ध व्यक्ति को रोककर पूछताछ की गई",
    "फरियादी की रिपोर्ट पर अपराध पंजीबद्ध कर विवेचना में लिया गया",
    "जब्ती पत्रक के अनुसार एक मोबाइल फोन और नकद राशि बरामद हुई",
    "पुलिस अधीक्षक कार्यालय से प्राप्त परिपत्र का पालन सुनिश्चित करें",
    "चोरी गई संपत्ति की सूची प्रकरण डायरी में संलग्न है",
    "गवाह ने बताया कि घटना के समय वह बाजार में उपस्थित था",
    "घायल को उपचार हेतु जिला चिकित्सालय भेजा गया जहाँ डॉक्टर ने परीक्षण किया",
    "क्षेत्र में शांति व्यवस्था बनाए रखने हेतु अतिरिक्त पुलिस बल तैनात किया गया",
    "विवेचना के दौरान ज्ञात हुआ कि आरोपी पूर्व में भी इसी प्रकार के अपराध में लिप्त रहा है",
    "यातायात नियमों का उल्लंघन करने वाले वाहन चालकों के विरुद्ध चालानी कार्रवाई की गई",
    "गुमशुदा बालक को खोजकर उसके माता पिता के सुपुर्द किया गया",
    "अवैध शराब के परिवहन में प्रयुक्त वाहन को जब्त कर लिया गया",
]
ENGLISH = [
    "The complainant stated that his motorcycle was stolen from outside his house",
    "The accused was arrested and produced before the court on the same day",
    "Statements of witnesses were recorded at the scene of the offence",
    "All station house officers shall increase night patrolling in their areas",
    "The seized property is kept in the police station strong room",
]
LINES_PER_PAGE = 25
WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
DEVANAGARI = regex.compile(r"\p{Devanagari}")


# --- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    path: Path
    truth: str
    exact: list[str]  # FIR numbers, dates, sections: must come out exactly


def page_text(rng: random.Random) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    exact: list[str] = []
    for n in range(LINES_PER_PAGE):
        fir = f"{rng.randint(1, 1999):04d}/{rng.choice([2019, 2024, 2025, 2026])}"
        date = f"{rng.randint(1, 31):02d}/{rng.randint(1, 12):02d}/{rng.choice([2025, 2026])}"
        section = str(rng.choice([379, 302, 307, 420, 323, 506, 354, 147, 109, 118]))
        kind = n % 5
        if kind == 0:
            lines.append(f"FIR संख्या {fir} दिनांक {date}")
            exact += [fir, date]
        elif kind == 2:
            lines.append(f"धारा {section} भा.द.सं. के अंतर्गत अपराध क्रमांक {fir} दर्ज")
            exact += [section, fir]
        elif kind == 4 and n % 2:
            lines.append(f"FIR No. {fir} dated {date} under section {section} IPC")
            exact += [fir, date, section]
        elif kind == 4:
            lines.append(rng.choice(ENGLISH))
        else:
            lines.append(rng.choice(HINDI))
    return lines, exact


def draw_page(seed: int, path: Path) -> Page:
    rng = random.Random(seed)
    lines, exact = page_text(rng)
    style = "sans" if seed % 2 else "serif"
    size = rng.choice([38, 42, 46])
    deva, latin = (ImageFont.truetype(str(NOTO / name), size) for name in FONTS[style])
    picture = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(picture)
    y = 220
    for line in lines:
        x = 180.0
        for run in regex.findall(r"[A-Za-z]+(?:[ .,]*[A-Za-z]+)*|[^A-Za-z]+", line):
            font = latin if regex.match(r"[A-Za-z]", run) else deva
            draw.text((x, y), run, font=font, fill=0, anchor="ls")
            x += font.getlength(run)
        y += int(size * 2.6)
    picture.save(path, dpi=(300, 300))
    return Page(path, "\n".join(lines), exact)


# --- scoring -----------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFC", text))


def hindi_recall(truth: str, read: str) -> float:
    wanted = collections.Counter(w for w in words(truth) if DEVANAGARI.search(w))
    found = collections.Counter(words(read))
    return sum(min(n, found[w]) for w, n in wanted.items()) / max(1, sum(wanted.values()))


def exact_found(exact: list[str], read: str) -> int:
    return sum(1 for t in exact if regex.search(rf"(?<!\p{{N}}){regex.escape(t)}(?!\p{{N}})", read))


# --- the pipelines -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    pages: int
    seconds: list[float]
    cpu_seconds: list[float]
    recall: float
    exact: int
    exact_total: int

    @property
    def pages_per_minute(self) -> float:
        return self.pages / min(self.seconds) * 60

    @property
    def cpu_per_page(self) -> float:
        return min(self.cpu_seconds) / self.pages


def cpu_seconds() -> float:
    """CPU time of this process, of its children that ended, and of the ones still running with
    theirs that ended (the fork server that Polaris's OCR processes start from)."""
    clock = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for task in Path("/proc/self/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it ended meanwhile (and counts among RUSAGE_CHILDREN)
            total += sum(int(fields[index]) for index in (11, 12, 13, 14)) / clock
    return total


Reader = Callable[[Page, Path], str]


def tesseract_reader(languages: str, outputs: Sequence[str]) -> Reader:
    environment = dict(os.environ, OMP_THREAD_LIMIT="1")

    def read(page: Page, work: Path) -> str:
        base = work / page.path.stem
        subprocess.run(
            ["tesseract", str(page.path), str(base), "-l", languages, *outputs],
            check=True,
            capture_output=True,
            env=environment,
            # A session of its own, as Polaris's OCR process has (``os.setsid``): with Linux's
            # autogroup scheduling each session gets its share of a busy machine's CPU, and a
            # Tesseract left in the bench's session got a smaller one (half the pages/min of
            # Polaris at a load of 9, for less CPU a page).
            start_new_session=True,
        )
        return base.with_suffix(".txt").read_text("utf-8")

    return read


def polaris_reader(languages: str) -> Reader:
    def read(page: Page, work: Path) -> str:
        directory = work / page.path.stem
        directory.mkdir()
        result = extract_text(
            page.path.read_bytes(),
            "image/png",
            page.path.name,
            ocr_languages=languages,
            workdir=directory,
        )
        assert result.method == "ocr" and result.searchable_pdf
        return result.text

    return read


def timed_run(name: str, read: Reader, pages: list[Page], tmp: Path, workers: int) -> Run:
    work = Path(tempfile.mkdtemp(dir=tmp))
    started, cpu_started = time.monotonic(), cpu_seconds()
    with ThreadPoolExecutor(workers) as pool:
        texts = list(pool.map(read, pages, [work] * len(pages)))
    seconds, cpu = time.monotonic() - started, cpu_seconds() - cpu_started
    shutil.rmtree(work)
    print(
        f"  {name}: {seconds:.1f} s, {len(pages) / seconds * 60:.1f} pages/min, "
        f"{cpu / len(pages):.2f} s CPU/page",
        file=sys.stderr,
    )
    return Run(seconds, cpu, texts)


@dataclass
class Run:
    seconds: float
    cpu: float
    texts: list[str]


def measure_all(
    runs: list[tuple[str, Reader]],
    pages: list[Page],
    warm: Page,
    tmp: Path,
    repeat: int,
    workers: int,
) -> list[Result]:
    """Every pipeline once per round, round after round, so that a change in the machine's load
    (other people's work) falls on all of them alike; the best round of each counts."""
    for name, read in runs:
        print(f"== warming up {name}", file=sys.stderr)
        read(warm, Path(tempfile.mkdtemp(dir=tmp)))  # loads the models; starts the fork server
    timings: dict[str, list[Run]] = {name: [] for name, _ in runs}
    for round_number in range(repeat):
        print(f"== round {round_number + 1} of {repeat}", file=sys.stderr)
        for name, read in runs:
            timings[name].append(timed_run(name, read, pages, tmp, workers))
    results = []
    for name, _ in runs:
        texts = timings[name][-1].texts
        pairs = list(zip(pages, texts, strict=True))
        for page, text in pairs:
            for token in page.exact:
                if not exact_found([token], text):
                    print(f"  {name}: {page.path.name} lost {token}", file=sys.stderr)
        results.append(
            Result(
                name=name,
                pages=len(pages),
                seconds=[run.seconds for run in timings[name]],
                cpu_seconds=[run.cpu for run in timings[name]],
                recall=sum(hindi_recall(p.truth, t) for p, t in pairs) / len(pages),
                exact=sum(exact_found(p.exact, t) for p, t in pairs),
                exact_total=sum(len(p.exact) for p in pages),
            )
        )
    return results


# --- report ----------------------------------------------------------------------------------


def report(results: list[Result], args: argparse.Namespace) -> None:
    base = results[0].pages_per_minute
    base_cpu = results[0].cpu_per_page
    polaris = next(r for r in results if r.name.startswith("Polaris"))
    ratio = polaris.pages_per_minute / base
    cpu_ratio = base_cpu / polaris.cpu_per_page
    out = [
        f"### OCR throughput ({datetime.date.today():%Y-%m-%d})",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average before the run: {args.load_before}",
        f"- machine: {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {tesseract_version()}",
        f"- command: `{' '.join(['bench/ocr.py', *sys.argv[1:]])}`",
        f"- {args.pages} A4 pages at 300 dpi, {LINES_PER_PAGE} lines each, "
        f"{args.workers} at a time; best of {args.repeat}",
        "",
        "| pipeline | pages/min | vs plain tesseract | CPU s/page | vs plain tesseract by CPU "
        "| Hindi word recall | FIR nos., dates, sections exact |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        out.append(
            f"| {result.name} | {result.pages_per_minute:.1f} | "
            f"{result.pages_per_minute / base:.2f}× | {result.cpu_per_page:.2f} | "
            f"{base_cpu / result.cpu_per_page:.2f}× | {result.recall:.1%} | "
            f"{result.exact}/{result.exact_total} |"
        )
    verdict = "met" if ratio >= 0.9 else "MISSED"
    cpu_verdict = "met" if cpu_ratio >= 0.9 else "MISSED"
    out += [
        "",
        f"Polaris / plain tesseract (text only): {ratio:.2f}× by the wall clock (goal ≥ 0.9×: "
        f"{verdict}), {cpu_ratio:.2f}× by CPU time ({cpu_verdict}).",
    ]
    print("\n".join(out))


def tesseract_version() -> str:
    found = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=True)
    return found.stdout.splitlines()[0]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages drawn and read (20)")
    parser.add_argument("--workers", type=int, default=2, help="pages read at a time (2)")
    parser.add_argument("--languages", default=ocr.DEFAULT_LANGUAGES, help="(eng+hin)")
    parser.add_argument("--also", default="hin+eng", help="other orders, plain tesseract only")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each (2)")
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the pages and outputs")
    args = parser.parse_args(argv)
    if min(args.pages, args.workers, args.repeat) < 1:
        parser.error("--pages, --workers and --repeat must be at least 1")
    args.also = [order for order in args.also.split(",") if order]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("tesseract") is None:
        print("error: tesseract not found (scripts/test.sh installs it)", file=sys.stderr)
        return 2
    args.load_before = " ".join(f"{load:.2f}" for load in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="polaris-bench-ocr-", dir=args.tmp))
    try:
        print(f"drawing {args.pages} pages in {tmp}", file=sys.stderr)
        pages = [draw_page(seed, tmp / f"page-{seed:03d}.png") for seed in range(args.pages)]
        warm = draw_page(10_000, tmp / "warm-up.png")
        runs: list[tuple[str, Reader]] = [
            (f"tesseract {args.languages} txt", tesseract_reader(args.languages, ["txt"])),
            (
                f"tesseract {args.languages} txt pdf",
                tesseract_reader(args.languages, ["txt", "pdf"]),
            ),
            (f"Polaris extract_text {args.languages}", polaris_reader(args.languages)),
        ]
        runs += [
            (f"tesseract {order} txt", tesseract_reader(order, ["txt"])) for order in args.also
        ]
        results = measure_all(runs, pages, warm, tmp, args.repeat, args.workers)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
