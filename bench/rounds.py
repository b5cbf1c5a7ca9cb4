"""Preparing a round of data requests (``flask requests prepare``, core/exports/round_requests.py) for many
participants over four companies: time and peak memory.

Run: ``.venv/bin/python bench/rounds.py`` (``--help`` lists the knobs). It copies the shipped campaigns to a
temporary folder with alledata open, offering TikTok, Palantir, Zoom and Meta, and its first round tomorrow; makes
``--participants`` (10,000) synthetic confirmed participants in a migrated SQLite file there (and on PostgreSQL too
when ``CLAIMSITE_TEST_POSTGRES_URL`` or ``--postgres-url`` names a server where we may create databases: the bench
creates ``claimsite_bench_<random>`` and drops it afterwards, as bench/export.py does).

Each participant is what the join flow leaves: a signed ``signups`` row with its mandate's SHA-256, answers
(name, date of birth, the identifiers each chosen company asks) and a fake mandate PDF sealed to the bench's own key
pair, two to four companies chosen (``request_choices``), and an accepted ID copy: a fake JPEG of
``--image-bytes`` sealed the same way. Rows go in with executemany, 2,000 at a time.

Then the round is prepared in this process, with the production app: the peak RSS is reset just before (as
bench/export.py does; the growth is the peak after minus the RSS before), and a second run (the round made again)
under ``tracemalloc`` gives the peak of Python's allocations (``--no-tracemalloc`` skips it). Printed per database:
participants, packages, seconds, peak RSS growth, tracemalloc peak, the packages' size, and each package verified.

Exit status: 0 when figures were printed, 1 when preparing failed or the packages do not hold every choice, 2 for a
bad command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml
from export import FIRST_NAMES, LAST_NAMES, fake_pdf, reset_peak_rss, status_kib
from landing import BenchFailure, app_config
from signup import ENV_POSTGRES, postgres_database, sqlite_database

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "alledata"
COMPANIES = ("tiktok", "palantir", "zoom", "meta")
CHUNK = 2_000


def campaigns_folder(tmp: Path, submit_on: dt.date) -> Path:
    """The shipped campaigns, with alledata open, offering four companies, its first round on ``submit_on``."""
    folder = tmp / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    path = folder / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["status"] = "open"
    data["plugins"]["data_request"].update(
        companies=list(COMPANIES), rounds=[{"id": "round-1", "submit_on": submit_on.isoformat()}]
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def fake_jpeg(rng: random.Random, size: int) -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.randbytes(max(0, size - 11))


def populate(app: Any, count: int, pdf_bytes: int, image_bytes: int, seed: int) -> tuple[float, dict[str, int]]:
    """Write ``count`` participants (see the module); returns the seconds it took and how many chose each
    company."""
    from sqlalchemy import insert

    from core.data.models import IdentityProof, PersonalRecord, ProofState, RequestChoice, Signup, Stage
    from core.site import site

    started = time.perf_counter()
    rng = random.Random(seed)
    chosen = dict.fromkeys(COMPANIES, 0)
    with app.app_context():
        loaded = site().registry.snapshot.campaigns[CAMPAIGN]
        seal = site().sealing_key.seal
        engine = app.extensions["claimsite.db"].engine
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        for first in range(0, count, CHUNK):
            signups, records, choices, proofs = [], [], [], []
            for number in range(first, min(first + CHUNK, count)):
                signup_id, token = number + 1, secrets.token_urlsafe(32)
                companies = rng.sample(COMPANIES, rng.randint(2, 4))
                details = {
                    slug: {identifier.id: f"p{number}@example.org" for identifier in loaded.companies[slug].identifiers}
                    for slug in companies
                }
                born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(65 * 365))
                answers = {
                    "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    "email": f"participant{number}@example.org",
                    "country": "NL",
                    "birth_date": born.isoformat(),
                    "data_request": {"companies": companies, "other": None, "details": details},
                }
                pdf = fake_pdf(rng, token[:12], pdf_bytes)
                joined = start + dt.timedelta(seconds=number)
                signups.append(
                    {
                        "id": signup_id,
                        "token": token,
                        "campaign": CAMPAIGN,
                        "email_hash": secrets.token_hex(32),
                        "language": "nl",
                        "stage": Stage.SIGNED,
                        "created_at": joined,
                        "verified_at": joined,
                        "signed_at": joined,
                        "code_attempts": 0,
                        "codes_sent": 1,
                        "signature_kind": "typed",
                        "payment_required": False,
                        "confirmed_at": joined,
                        "mandate_sha256": hashlib.sha256(pdf).hexdigest(),
                    }
                )
                records.append(
                    {
                        "signup_id": signup_id,
                        "sealed_mandate": seal(pdf),
                        "sealed_answers": seal(json.dumps(answers, ensure_ascii=False).encode()),
                    }
                )
                choices += [{"signup_id": signup_id, "company": slug, "chosen_at": joined} for slug in companies]
                for slug in companies:
                    chosen[slug] += 1
                image = fake_jpeg(rng, image_bytes)
                proofs.append(
                    {
                        "signup_id": signup_id,
                        "state": ProofState.ACCEPTED,
                        "sealed_image": seal(image),
                        "media_type": "image/jpeg",
                        "size": len(image),
                        "received_at": joined,
                        "reviewed_at": joined,
                    }
                )
            with engine.begin() as connection:
                connection.execute(insert(Signup.__table__), signups)
                connection.execute(insert(PersonalRecord.__table__), records)
                connection.execute(insert(RequestChoice.__table__), choices)
                connection.execute(insert(IdentityProof.__table__), proofs)
    return time.perf_counter() - started, chosen


def prepare(app: Any, instance: Path, out: Path, batch: int, trace: bool) -> dict[str, Any]:
    """Prepare round-1 in this process; its figures."""
    from core.exports.round_requests import prepare_round
    from core.sealing import OpeningKeys
    from core.site import site

    keys = OpeningKeys.from_files(sorted((instance / "keys").glob("private-*.key")))
    with app.app_context():
        loaded = site().registry.snapshot.campaigns[CAMPAIGN]
        gc.collect()
        if trace:
            tracemalloc.start()
        reset = reset_peak_rss()
        rss_before = status_kib("VmRSS")
        started = time.perf_counter()
        done = prepare_round(loaded, "round-1", keys, out, batch=batch)
        seconds = time.perf_counter() - started
        peak_after = status_kib("VmHWM")
        traced = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    return {
        "seconds": seconds,
        "growth_kib": (peak_after or 0) - (rss_before or 0),
        "exact": reset and rss_before is not None and peak_after is not None,
        "traced": traced,
        "done": done,
    }


def measure_database(args: argparse.Namespace, database: str, url: str, tmp: Path, campaigns: Path) -> bool:
    from core import create_app
    from core.exports.round_package import verify_round_package

    print(f"{database}: making {args.participants} participants over {len(COMPANIES)} companies", flush=True)
    secret = secrets.token_urlsafe(48)
    instance = tmp / f"instance-{database}"
    app = create_app({**app_config(secret, str(instance)), "database_url": url, "campaigns_dir": campaigns})
    made, chosen = populate(app, args.participants, args.pdf_bytes, args.image_bytes, args.seed)
    print(f"  made in {made:.0f} s; choices {chosen}", flush=True)
    out = tmp / f"packages-{database}"
    figures = prepare(app, instance, out, args.batch, trace=False)
    done = figures["done"]
    ok = True
    size = sum(c.path.stat().st_size for c in done.companies if c.path)
    entries = sum(c.participants for c in done.companies)
    print(
        f"  prepared {len(done.companies)} packages, {entries} entries (batch {args.batch}): {figures['seconds']:.1f} s"
    )
    growth = figures["growth_kib"]
    print(
        f"  peak RSS growth {growth / 1024:.1f} MiB ({growth * 1024 / max(entries, 1):.0f} bytes per entry)"
        + ("" if figures["exact"] else " (the peak could not be reset: it may read low)")
    )
    if args.tracemalloc:
        traced = prepare(app, instance, out, args.batch, trace=True)
        peak = traced["traced"]
        print(
            f"  tracemalloc peak {peak / 2**20:.1f} MiB ({peak / max(entries, 1):.0f} bytes per entry; the round made "
            f"again, {traced['seconds']:.0f} s under tracing)"
        )
        done = traced["done"]  # the packages on disk now are this run's
    print(f"  packages {size / 2**20:.1f} MiB")
    for company in done.companies:
        check = verify_round_package(company.path, company.manifest_sha256) if company.path else None
        fits = company.participants == chosen[company.company] and check is not None and check.ok
        ok = ok and fits
        print(f"  {company.company}: {company.participants} participants, verify {'OK' if fits else 'WRONG'}")
    app.extensions["claimsite.db"].engine.dispose()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000, help="synthetic participants in the round")
    parser.add_argument("--batch", type=int, default=500, help="sign-ups read at a time (the command's default)")
    parser.add_argument("--pdf-bytes", type=int, default=2_000, help="size of each fake mandate PDF")
    parser.add_argument("--image-bytes", type=int, default=20_000, help="size of each fake ID image")
    parser.add_argument("--seed", type=int, default=1, help="seed of the names and choices")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(ENV_POSTGRES, ""),
        help=f"a server where the bench may create a database (default: ${ENV_POSTGRES})",
    )
    parser.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false", help="skip the traced run")
    args = parser.parse_args(argv)
    if args.participants < 1 or args.batch < 1:
        parser.error("--participants and --batch must be at least 1")
    ok = True
    try:
        with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as name:
            tmp = Path(name)
            campaigns = campaigns_folder(tmp, dt.date.today() + dt.timedelta(days=1))
            if "sqlite" in args.databases:
                with sqlite_database(name) as url:
                    ok = measure_database(args, "sqlite", url, tmp, campaigns) and ok
            if "postgresql" in args.databases and args.postgres_url:
                with postgres_database(args.postgres_url) as url:
                    ok = measure_database(args, "postgresql", url, tmp, campaigns) and ok
            elif "postgresql" in args.databases:
                print(f"postgresql skipped: set {ENV_POSTGRES} or --postgres-url")
    except BenchFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
