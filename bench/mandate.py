"""How long one signed-mandate PDF takes: render it N times in an app context and print the figures.

Run: ``.venv/bin/python bench/mandate.py`` (``--help`` lists the knobs). Uses the shipped campaign tiktokclaim
(else the first one), a drawn 600x200 signature, two short agreements and a typical participant. The first PDF
(WeasyPrint's import, font set-up and template compilation) is timed apart as "cold"; then N PDFs are timed one
by one and min/median/p95 milliseconds per PDF are printed with the PDF's size and page count. The run stops
after ``--max-seconds`` even if fewer than N PDFs were made. On a quiet machine the p95 is mostly Python's full
garbage collections (one in the middle of a PDF adds about 100 ms); ``--gc-freeze`` takes the app's start-up
objects out of them, as a preloading server could. Other load on the machine moves every figure: compare runs
made one after the other.

Exit status: 0 when figures were printed, 1 when the app or the PDF failed, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import re
import secrets
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFERRED_CAMPAIGN = "tiktokclaim"
MAX_SECONDS = 120


def signature_png(width: int = 600, height: int = 200) -> bytes:
    """A drawn-looking greyscale PNG the size of a typical signature pad."""
    rows = b"".join(
        b"\x00" + bytes(0 if abs(3 * x - 9 * y - 60) < 8 or abs(x + 4 * y - 700) < 5 else 255 for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def typical_document(loaded, language: str, typed: bool):  # type: ignore[no-untyped-def]
    from markupsafe import Markup

    from core.signup.mandate import MandateDocument, SignedAgreement

    def agreement(title: str, version: str, paragraphs: list[str]) -> SignedAgreement:
        text = "\n\n".join(paragraphs)
        html = Markup("".join(f"<p>{Markup.escape(p)}</p>" for p in paragraphs))
        return SignedAgreement(title, version, hashlib.sha256(text.encode()).hexdigest(), html)

    mandate = [
        "Ondergetekende machtigt Stichting SOMI om namens haar of hem op te treden tegen de wederpartij, in en "
        "buiten rechte, en alle handelingen te verrichten die daarvoor nodig zijn.",
        "Deze volmacht geldt tot het einde van de procedure en kan op elk moment schriftelijk worden ingetrokken.",
    ]
    terms = [
        "Deelname is kosteloos. Alleen als de claim slaagt, ontvangt de stichting een vergoeding van ten hoogste "
        "25% van het toegekende bedrag.",
        "De stichting verwerkt de gegevens alleen voor deze procedure, zoals beschreven in de privacyverklaring.",
    ]
    return MandateDocument(
        loaded=loaded,
        language=language,
        participant={
            "Naam": "Jan de Vries",
            "E-mailadres": "jan.devries@example.org",
            "Adres": "Kerkstraat 12, 3511 AB Utrecht, Nederland",
            "Geboortedatum": "3 maart 1990",
            "Telefoon": "+31 6 12345678",
        },
        agreements=[agreement("Volmacht", "2026-11.1", mandate), agreement("Deelnemersvoorwaarden", "v3", terms)],
        signed_at=dt.datetime(2026, 11, 23, 13, 5, 9, tzinfo=dt.UTC),
        signature_png=None if typed else signature_png(),
        signature_typed="Jan de Vries" if typed else None,
        reference="TT-7KQ2-M9XD",
        evidence={
            "IP-adres (HMAC-SHA256)": "9f2c4e1a77d0b3e8",
            "Browser": "Mozilla/5.0 (X11; Linux x86_64) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            "E-mailadres bevestigd": "2026-11-23T13:01:44Z",
        },
    )


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def page_count(pdf: bytes) -> str:
    """The PDF's number of pages according to poppler's pdfinfo ("?" without it)."""
    if shutil.which("pdfinfo") is None:
        return "?"
    result = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, timeout=30, check=False)
    found = re.search(rb"^Pages:\s+(\d+)", result.stdout, re.MULTILINE)
    return found.group(1).decode() if found else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=20, help="PDFs to time (default 20)")
    parser.add_argument("--language", default="nl")
    parser.add_argument("--typed", action="store_true", help="a typed name instead of a drawn signature")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the cold PDF: full garbage collections skip the app's own objects",
    )
    parser.add_argument(
        "--seal", action="store_true", help="seal each PDF too, as the worker does (development CA, no timestamp)"
    )
    parser.add_argument("--max-seconds", type=float, default=60.0, help=f"stop after this long (at most {MAX_SECONDS})")
    args = parser.parse_args(argv)
    if args.count < 1 or not 0 < args.max_seconds <= MAX_SECONDS:
        parser.error(f"--count must be at least 1 and --max-seconds between 0 and {MAX_SECONDS}")

    from core import create_app
    from core.signup.mandate import render_mandate_pdf
    from core.signup.mandate_seal import current_sealer

    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
        try:
            app = create_app(
                {
                    "env": "test",
                    "secret_key": secrets.token_urlsafe(36),
                    "hash_key": secrets.token_urlsafe(36),
                    "instance_dir": str(Path(tmp, "instance")),
                }
            )
        except Exception as exc:
            print(f"bench failed: the app cannot start: {exc}", file=sys.stderr)
            return 1
        with app.app_context():
            campaigns = app.extensions["claimsite"].registry.snapshot.campaigns
            if not campaigns:
                print("bench failed: no campaign is served", file=sys.stderr)
                return 1
            slug = PREFERRED_CAMPAIGN if PREFERRED_CAMPAIGN in campaigns else sorted(campaigns)[0]
            document = typical_document(campaigns[slug], args.language, args.typed)
            sealer = current_sealer() if args.seal else None

            def make() -> bytes:
                pdf = render_mandate_pdf(document)
                if sealer is not None:
                    pdf = sealer.seal(pdf, reason="bench", location="Netherlands", contact="https://example.org")
                return pdf

            started = time.perf_counter()
            pdf = make()
            cold = (time.perf_counter() - started) * 1000
            if not pdf.startswith(b"%PDF-"):
                print("bench failed: the renderer did not return a PDF", file=sys.stderr)
                return 1
            if args.gc_freeze:
                gc.collect()
                gc.freeze()
            deadline = time.monotonic() + args.max_seconds
            timings: list[float] = []
            while len(timings) < args.count and time.monotonic() < deadline:
                started = time.perf_counter()
                pdf = make()
                timings.append((time.perf_counter() - started) * 1000)

    pages = page_count(pdf)
    signature = "typed name" if args.typed else "drawn 600x200 PNG"
    frozen = (", gc.freeze()" if args.gc_freeze else "") + (", sealed" if args.seal else "")
    print(f"campaign {slug}, language {args.language}, {signature}{frozen}; cold first PDF {cold:.0f} ms")
    stopped = "" if len(timings) == args.count else f" (stopped after {args.max_seconds:g} s)"
    print(
        f"{len(timings)} PDFs{stopped}: min {min(timings):.1f} ms, median {statistics.median(timings):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms per PDF"
    )
    print(f"PDF size {len(pdf)} bytes ({len(pdf) / 1024:.1f} KiB), {pages} page(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
