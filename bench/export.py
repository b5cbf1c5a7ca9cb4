"""The evidence package export (``flask export evidence``, core/exports/evidence.py) of a large campaign:
time and memory.

Run: ``.venv/bin/python bench/export.py`` (``--help`` lists the knobs). It makes ``--count`` (100,000) synthetic
confirmed sign-ups of tiktokclaim in a migrated SQLite file in a temporary folder, and on PostgreSQL too when
``CLAIMSITE_TEST_POSTGRES_URL`` or ``--postgres-url`` names a server where we may create databases, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``: the bench creates ``claimsite_bench_<random>``, migrates
it and drops it afterwards (``WITH (FORCE)``); it never touches another database.

Each sign-up is what the flow leaves behind once the confirmation mail went out: a ``signups`` row (signed, its
mandate's SHA-256), its answers and a small fake mandate PDF sealed to the bench's own key pair (as the production
app seals them; the private half stays in the temporary folder), and its two accepted agreements with the SHA-256
of their texts filled in with its name (through ``core.signup.agreements.agreement_text``, as the signing page
does). Names come from a small pool with random dates of birth; one sign-up in 50 repeats an earlier claimant
under a new address, and 3% join for a child, so the de-duplication has work. Rows go in with executemany, 5,000
at a time.

The export then runs in a fresh process (``--export-only``, the production app over that database), so its
figures are its own. Its peak RSS is reset to the current RSS just before the export (``/proc/self/clear_refs``),
so the app's start-up does not hide it; the growth is the peak after it (VmHWM, the figure ``ru_maxrss`` reports
per process) minus the RSS before (``ru_maxrss`` before and after is printed too). A second export, in a process
of its own under ``tracemalloc`` (which slows Python down), gives the peak of Python's allocations. Printed per
database: rows, seconds, rows/s, peak RSS growth, tracemalloc peak, zip size, and the time
``core.exports.evidence.verify_package`` takes to check the package.

Exit status: 0 when figures were printed, 1 when the export failed or its counts do not add up (participants +
duplicates must equal the sign-ups made, with no problem listed), 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landing import ENV_INSTANCE, ENV_SECRET, BenchFailure, app_config
from signup import ENV_DATABASE, ENV_POSTGRES, postgres_database, sqlite_database

CAMPAIGN = "tiktokclaim"
CHUNK = 5_000
FIRST_NAMES = (
    "Anna",
    "Bram",
    "Chantal",
    "Daan",
    "Eva",
    "Fleur",
    "Gijs",
    "Hanna",
    "Ilse",
    "Joris",
    "Kim",
    "Lars",
    "Marieke",
    "Noah",
    "Olga",
    "Pieter",
    "Quinten",
    "Roos",
    "Sanne",
    "Thijs",
    "Ursula",
    "Vera",
    "Wouter",
    "Xander",
    "Yara",
    "Zoë",
    "José",
    "Émile",
    "Søren",
    "Ağca",
)
LAST_NAMES = (
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van Dijk",
    "Schouten",
    "Willems",
)
STREETS = ("Kerkstraat", "Dorpsstraat", "Schoolstraat", "Molenweg", "Stationsweg", "Julianalaan", "Beatrixstraat")
CITIES = ("Utrecht", "Amsterdam", "Rotterdam", "Den Haag", "Eindhoven", "Groningen", "Zwolle", "Arnhem")


def rss_mib(kib: int) -> float:
    return kib / 1024


# --- the synthetic campaign ------------------------------------------------------------------------------------


def fake_pdf(rng: random.Random, reference: str, size: int) -> bytes:
    """Something shaped like a small mandate PDF: a header, some text, some incompressible bytes."""
    head = f"%PDF-1.4\n% claimsite bench mandate {reference}\n".encode()
    noise = rng.randbytes(max(0, size // 4))
    text = b"BT /F1 10 Tf (Volmacht - power of attorney) Tj ET\n" * (size // 50 + 1)
    return (head + noise + text)[:size] + b"\n%%EOF\n"


def claimants(rng: random.Random, count: int) -> list[dict[str, str]]:
    """The claimant part of each sign-up's answers: mostly new people, one in 50 someone who joined before."""
    made: list[dict[str, str]] = []
    for number in range(count):
        if number % 50 == 49:
            made.append(dict(rng.choice(made)))
            continue
        last = rng.choice(LAST_NAMES)
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(65 * 365))
        person = {"name": f"{rng.choice(FIRST_NAMES)} {last}", "birth_date": born.isoformat(), "for_whom": "self"}
        if rng.random() < 0.03:
            child_born = dt.date(2009, 1, 1) + dt.timedelta(days=rng.randrange(10 * 365))
            person.update(
                for_whom="child",
                child_name=f"{rng.choice(FIRST_NAMES)} {last}",
                child_birth_date=child_born.isoformat(),
            )
        made.append(person)
    return made


def populate(app: Any, count: int, pdf_bytes: int, seed: int) -> float:
    """Write ``count`` confirmed sign-ups (see the module); returns the seconds it took."""
    from sqlalchemy import insert

    from core.data.models import AcceptedAgreement, PersonalRecord, Signup, Stage
    from core.signup.agreements import agreement_text
    from core.site import site

    started = time.perf_counter()
    rng = random.Random(seed)
    with app.app_context():
        loaded = site().registry.snapshot.campaigns[CAMPAIGN]
        agreements = loaded.campaign.signup.agreements
        campaigns_dir = site().settings.campaigns_dir
        seal = site().sealing_key.seal
        engine = app.extensions["claimsite.db"].engine
        texts: dict[tuple[str, str, str, str], str] = {}

        def text_sha256(agreement: Any, language: str, answers: dict[str, str]) -> str:
            key = (agreement.id, language, answers["name"], answers.get("child_name", ""))
            if key not in texts:
                texts[key] = agreement_text(
                    campaigns_dir, loaded, agreement, language, participant=key[2], child=key[3]
                ).sha256
            return texts[key]

        people = claimants(rng, count)
        start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
        for first in range(0, count, CHUNK):
            signups, records, accepted = [], [], []
            for number in range(first, min(first + CHUNK, count)):
                signup_id, token = number + 1, secrets.token_urlsafe(32)
                language = "nl" if number % 3 else "en"
                answers = {
                    **people[number],
                    "email": f"participant{number}@example.org",
                    "phone": f"+316{rng.randrange(10**8):08d}",
                    "street": f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
                    "postcode": f"{rng.randrange(1000, 9999)} AB",
                    "city": rng.choice(CITIES),
                    "country": "NL",
                    "signature_typed": people[number]["name"],
                }
                pdf = fake_pdf(rng, token[:12], pdf_bytes)
                joined = start + dt.timedelta(seconds=30 * number)
                signups.append(
                    {
                        "id": signup_id,
                        "token": token,
                        "campaign": CAMPAIGN,
                        "email_hash": secrets.token_hex(32),
                        "language": language,
                        "stage": Stage.SIGNED,
                        "created_at": joined,
                        "verified_at": joined + dt.timedelta(minutes=2),
                        "signed_at": joined + dt.timedelta(minutes=5),
                        "code_attempts": 0,
                        "codes_sent": 1,
                        "signature_kind": "typed",
                        "fee_model": "no_cure_no_pay",
                        "fee_option": "share",
                        "payment_required": False,
                        "confirmed_at": joined + dt.timedelta(minutes=6),
                        "mandate_sha256": hashlib.sha256(pdf).hexdigest(),
                    }
                )
                records.append(
                    {
                        "signup_id": signup_id,
                        "sealed_mandate": seal(pdf),
                        "sealed_answers": seal(json.dumps(answers, ensure_ascii=False, sort_keys=True).encode()),
                    }
                )
                accepted += [
                    {
                        "signup_id": signup_id,
                        "agreement": a.id,
                        "version": a.version,
                        "language": language,
                        "text_sha256": text_sha256(a, language, answers),
                        "accepted_at": joined + dt.timedelta(minutes=5),
                    }
                    for a in agreements
                ]
            with engine.begin() as connection:
                connection.execute(insert(Signup.__table__), signups)
                connection.execute(insert(PersonalRecord.__table__), records)
                connection.execute(insert(AcceptedAgreement.__table__), accepted)
            done = min(first + CHUNK, count)
            if done % 20_000 == 0 or done == count:
                print(f"  {done} sign-ups written ({time.perf_counter() - started:.0f} s)", flush=True)
        engine.dispose()
    return time.perf_counter() - started


# --- the export, in a process of its own -------------------------------------------------------------------------


def status_kib(field: str) -> int | None:
    """A figure of /proc/self/status in KiB (VmRSS: resident now, VmHWM: the peak), None without /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Make the process's peak RSS (VmHWM) its current RSS (Linux 4.0+), so the peak after the export is the
    export's own and not the app's start-up; False where that cannot be done. ``ru_maxrss`` is not enough on its
    own: once any thread of the process has ended, it keeps the peak from before, which the reset does not clear
    (the production app's start-up peaks 45 MiB above where it settles)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def export_only(out: Path, batch: int, trace: bool) -> None:
    """The child process: the production app over the bench database, one export, its figures as JSON."""
    from core import create_app
    from core.exports.evidence import write_evidence_package
    from core.sealing import OpeningKeys

    instance = os.environ[ENV_INSTANCE]
    app = create_app({**app_config(os.environ[ENV_SECRET], instance), "database_url": os.environ[ENV_DATABASE]})
    keys = OpeningKeys.from_files(sorted((Path(instance) / "keys").glob("private-*.key")))
    with app.app_context():
        gc.collect()
        if trace:
            tracemalloc.start()
        reset = reset_peak_rss()
        before, rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, status_kib("VmRSS")
        started = time.perf_counter()
        summary = write_evidence_package(CAMPAIGN, keys, out, batch=batch, overwrite=True)
        seconds = time.perf_counter() - started
        after, peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, status_kib("VmHWM")
        traced = tracemalloc.get_traced_memory()[1] if trace else 0
    exact = reset and rss_before is not None and peak_after is not None
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_kib": rss_before if exact else before,
                "peak_after_kib": peak_after if exact else after,
                "exact": exact,
                "maxrss_before_kib": before,
                "maxrss_after_kib": after,
                "tracemalloc_peak": traced,
                "participants": summary.participants,
                "duplicates": summary.duplicates,
                "mandates": summary.mandates,
                "problems": summary.problems,
                "first_problems": [p.problem for p in summary.first_problems],
                "manifest_sha256": summary.manifest_sha256,
            }
        )
    )


def run_export(url: str, secret: str, instance: str, out: Path, batch: int, trace: bool) -> dict[str, Any]:
    env = {**os.environ, ENV_SECRET: secret, ENV_INSTANCE: instance, ENV_DATABASE: url}
    command = [sys.executable, __file__, "--export-only", "--out", str(out), "--batch", str(batch)]
    finished = subprocess.run(
        [*command, *(["--trace"] if trace else [])], env=env, capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        raise BenchFailure(f"the export failed:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


@dataclass
class Outcome:
    ok: bool = True


def measure_database(
    args: argparse.Namespace, database: str, url: str, secret: str, tmp: str, outcome: Outcome
) -> None:
    from core import create_app
    from core.exports.evidence import verify_package

    print(f"{database}: making {args.count} confirmed sign-ups", flush=True)
    app = create_app({**app_config(secret, tmp), "database_url": url})
    made = populate(app, args.count, args.pdf_bytes, args.seed)
    out = Path(tmp) / f"evidence-{database}.zip"
    figures = run_export(url, secret, tmp, out, args.batch, trace=False)
    rows, seconds = figures["participants"] + figures["duplicates"], figures["seconds"]
    growth = figures["peak_after_kib"] - figures["rss_before_kib"]
    size = out.stat().st_size
    print(f"{database}: {args.count} sign-ups made in {made:.0f} s; export (batch {args.batch}):")
    print(
        f"  rows {rows} ({figures['participants']} participants + {figures['duplicates']} duplicates), "
        f"{figures['mandates']} mandates, {figures['problems']} problems"
    )
    print(f"  {seconds:.1f} s, {rows / seconds:.0f} rows/s")
    print(
        f"  peak RSS growth {rss_mib(growth):.1f} MiB ({growth * 1024 / max(rows, 1):.0f} bytes per row; RSS "
        f"{rss_mib(figures['rss_before_kib']):.0f} MiB before, peak {rss_mib(figures['peak_after_kib']):.0f} MiB; "
        f"ru_maxrss {rss_mib(figures['maxrss_before_kib']):.0f} -> {rss_mib(figures['maxrss_after_kib']):.0f} MiB"
        + ("" if figures["exact"] else ": the peak could not be reset, the growth may read low")
        + ")"
    )
    if args.tracemalloc:
        traced = run_export(url, secret, tmp, Path(tmp) / "traced.zip", args.batch, trace=True)
        peak = traced["tracemalloc_peak"]
        print(
            f"  tracemalloc peak {peak / 2**20:.1f} MiB ({peak / max(rows, 1):.0f} bytes per row; a run of its own, "
            f"{traced['seconds']:.0f} s under tracing)"
        )
    print(f"  zip {size / 2**20:.1f} MiB ({size / max(rows, 1) / 1024:.2f} KiB per row)")
    started = time.perf_counter()
    check = verify_package(out, figures["manifest_sha256"])
    print(
        f"  verify_package: {'OK' if check.ok else 'FAILED'}, {check.files} files in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    if rows != args.count or figures["problems"] or not check.ok:
        print(
            f"  WRONG: rows {rows} of {args.count}, problems {figures['first_problems']}, verify {check.problems[:5]}"
        )
        outcome.ok = False
    app.extensions["claimsite.db"].engine.dispose()


def measure(args: argparse.Namespace) -> Outcome:
    outcome = Outcome()
    secret = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
        if "sqlite" in args.databases:
            with sqlite_database(tmp) as url:
                measure_database(args, "sqlite", url, secret, tmp, outcome)
        if "postgresql" in args.databases and args.postgres_url:
            with postgres_database(args.postgres_url) as url:
                measure_database(args, "postgresql", url, secret, tmp, outcome)
        elif "postgresql" in args.databases:
            print(f"postgresql skipped: set {ENV_POSTGRES} or --postgres-url")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="synthetic confirmed sign-ups to export")
    parser.add_argument("--batch", type=int, default=500, help="sign-ups read at a time (flask export's default)")
    parser.add_argument("--pdf-bytes", type=int, default=2_000, help="size of each fake mandate PDF")
    parser.add_argument("--seed", type=int, default=1, help="seed of the names, dates and duplicates")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(ENV_POSTGRES, ""),
        help=f"a server where the bench may create a database (default: ${ENV_POSTGRES})",
    )
    parser.add_argument(
        "--no-tracemalloc",
        dest="tracemalloc",
        action="store_false",
        help="skip the second export run under tracemalloc",
    )
    parser.add_argument("--export-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_only:
        export_only(args.out, args.batch, args.trace)
        return 0
    if args.count < 1 or args.batch < 1:
        parser.error("--count and --batch must be at least 1")
    try:
        outcome = measure(args)
    except BenchFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
