"""The data breach check's form post (``POST /check``) against a no-op form post, both under gunicorn, in one run.

Run: ``.venv/bin/python bench/breach_http.py`` (``--records N``, default 1 million; ``--help`` lists the rest). On
PostgreSQL too when ``CLAIMSITE_TEST_POSTGRES_URL`` or ``--postgres-url`` names a server where it may create a
database (``claimsite_bench_<random>``, dropped afterwards, as ``bench/signup.py`` does).

Target (issue 19): the check post at least half the rate of a no-op form post measured in the same run, i.e.
check/no-op >= 0.5, the median of the rounds' ratios.

What it does, with the production app throughout (``bench/landing.py``'s ``app_config``: production settings and a
breach key of the bench's own in a temporary instance folder):

1. writes a synthetic dump of ``--records`` rows with ``bench/breach.py``'s dump writer and imports it into
   facebookleak's dataset ``facebook-2021`` with the real ``flask breach import`` (run through the app's command
   line in this process), into the instance folder's ``breach/``, under the app's own breach key;
2. starts gunicorn with ``bench/signup.py``'s bench app (``signup:make_bench_app()``: the rate limits always allow,
   and ``<prefix>/__bench/noop`` reads a posted form and answers 302 without touching the database);
3. opens one session per client with ``GET /check`` (its session cookie and csrf_token), then alternates rounds of
   ``POST /check`` and of the no-op post, with the same bodies (``phone`` and ``csrf_token``): numbers half in the
   dump and half not, typed as visitors type them (``06 12345678`` for a Dutch one, ``+49 1512 3456789`` for the
   others);
4. checks every answer: the check must answer 200 with the found sentence for a number in the dump and the
   not-found sentence for one that is not (the other sentence absent), the no-op 302; afterwards the funnel's
   counts in the database (checks, found) must equal the check answers (warm-ups included).

It prints, per round and over all rounds, posts per second, p50 and p99 latency, gunicorn's CPU per post (and the
rate that CPU alone allows on this machine's cores), then the check/no-op ratio against the target.

``--profile N`` instead posts N checks and N no-op posts through Flask's test client on SQLite (time and CPU per
post of each, in process), then the checks again under cProfile, to show where the check's time goes.

Exit status: 0 when figures were printed (also when the target is missed), 1 when an answer was wrong, the funnel's
counts do not match the answers, the import failed or the server did not start or died, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from breach import PLANS, write_dump
from landing import BenchFailure, app_config, stop
from signup import (
    CORES,
    ENV_POSTGRES,
    NOOP_PATH,
    REQUEST_TIMEOUT,
    Run,
    Server,
    Session,
    cpu_seconds,
    describe,
    open_session_retrying,
    postgres_database,
    read_answer_with_body,
    sqlite_database,
    start_server,
)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CAMPAIGN = "facebookleak"
DATASET = "facebook-2021"
TARGET_RATIO = 0.5
MAX_RUN_SECONDS = 170  # measuring alone, per command: the import and the start-up come on top
RIGHT = "right"  # an answer as expected: 200 with the right sentence, or the no-op's 302

# Numbers that are in no dump of bench/breach.py: for each country code of its plans, a mobile range it never
# writes (its numbers start with the plan's prefix, these with another one).
MISSING_PREFIXES = {"31": "62", "49": "152", "32": "48", "33": "62", "44": "78"}


# --- the campaign and its dump ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckSite:
    """Where facebookleak's check is served, and the sentences its answers must hold (in its default language)."""

    host: str
    prefix: str
    found_sentence: bytes
    missing_sentence: bytes

    @property
    def check_path(self) -> str:
        return f"{self.prefix}/check"


def production_app(secret: str, instance_dir: str):  # type: ignore[no-untyped-def]
    """The production app as gunicorn's workers build it (without the bench's changes, which an import needs not)."""
    from core import create_app
    from core.campaigns import CampaignConfigError
    from core.settings import SettingsError

    try:
        return create_app(app_config(secret, instance_dir))
    except (CampaignConfigError, SettingsError) as exc:
        raise BenchFailure(f"the production app cannot start:\n{exc}") from None


def check_site(app) -> CheckSite:  # type: ignore[no-untyped-def]
    """facebookleak's canonical address and the two answers' sentences, as its default language says them."""
    from markupsafe import escape

    from core.breach.datasets import breach_settings_of
    from core.i18n import catalog_gettext

    loaded = app.extensions["claimsite"].registry.snapshot.campaigns.get(CAMPAIGN)
    settings = breach_settings_of(loaded) if loaded is not None else None
    dataset = next((d for d in settings.datasets if d.id == DATASET), None) if settings is not None else None
    if dataset is None:
        raise BenchFailure(f"campaign {CAMPAIGN} is not served or does not check dataset {DATASET}")
    language = loaded.campaign.default_language
    gettext = catalog_gettext(ROOT / "translations", language)
    leak = str(escape(dataset.name.get_text(language, language)))
    # The page's own strings (templates/breach/answer.html); they do not address the visitor, so "je" and "u" agree.
    found = gettext("This number is in the %(leak)s.") % {"leak": leak}
    missing = gettext("This number is not in the %(leak)s.") % {"leak": leak}
    address = app.extensions["claimsite"].tenancy.index().canonical[CAMPAIGN]
    return CheckSite(address.host, address.prefix, found.encode(), missing.encode())


def import_dataset(app, dump: Path, jobs: int) -> str:  # type: ignore[no-untyped-def]
    """Import ``dump`` as facebookleak's dataset with the real ``flask breach import``; its summary line."""
    result = app.test_cli_runner().invoke(args=["breach", "import", DATASET, str(dump), "--jobs", str(jobs)])
    if result.exit_code != 0:
        raise BenchFailure(
            f"flask breach import failed ({result.exit_code}, {result.exception!r}):\n{result.output[-3000:]}"
        )
    return next((line for line in result.output.splitlines() if line.startswith(f"{DATASET}:")), "done")


def typed(e164: str) -> str:
    """``e164`` as a visitor types it: a Dutch number in national format (``06 12345678``), others with ``+``."""
    import phonenumbers

    number = phonenumbers.parse(e164)
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if e164.startswith("+31") else style.INTERNATIONAL)


def missing_numbers(count: int, rng: random.Random) -> list[str]:
    """``count`` valid mobile numbers (E.164) in ranges :func:`breach.write_dump` never writes, each read back as
    itself from the way a visitor types it (:func:`typed`)."""
    from core.breach.phones import NotAPhoneNumber, normalise

    numbers: list[str] = []
    for index in itertools.count():
        if len(numbers) == count:
            return numbers
        if index > count * 10:
            raise BenchFailure("cannot make valid numbers outside the dump's ranges (see MISSING_PREFIXES)")
        code, _prefix, digits = PLANS[index % len(PLANS)]
        number = f"+{code}{MISSING_PREFIXES[code]}{rng.randrange(10**digits):0{digits}d}"
        try:
            if normalise(typed(number), "NL") == number:
                numbers.append(number)
        except NotAPhoneNumber:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Post:
    """One check as a visitor sends it: the form's ``phone`` field (url-encoded), and whether it is in the dump."""

    phone_field: str
    found: bool


def visitor_posts(in_dump: list[str], count: int, seed: int) -> list[Post]:
    """``count`` posts, found and not found in turn, from ``in_dump`` (numbers of the dump) and numbers outside it."""
    rng = random.Random(seed)
    found = rng.sample(in_dump, min(count // 2, len(in_dump)))
    if not found:
        raise BenchFailure("the dump holds no number to look up (--records too small)")
    missing = missing_numbers(len(found), rng)
    return [
        Post(urlencode({"phone": typed(number)}), is_found)
        for pair in zip(found, missing, strict=True)
        for number, is_found in zip(pair, (True, False), strict=True)
    ]


# --- the load generator -------------------------------------------------------------------------------------


@dataclass
class Round(Run):
    """A run of ``bench/signup.py`` whose good answers are the ones checked :data:`RIGHT`."""

    found: int = 0  # right answers to numbers in the dump (the funnel must count as many found)
    wrong: list[str] = field(default_factory=list)  # the first few wrong answers, described

    @property
    def ok(self) -> int:
        return self.answers[RIGHT]


# (status, headers, body, the post) -> None when the answer is right, else what is wrong with it
Judge = Callable[[str, dict[str, str], bytes, Post], str | None]


def check_judge(site: CheckSite) -> Judge:
    """The check answers 200 with the sentence of its number's answer, and without the other one."""

    def judge(status: str, headers: dict[str, str], body: bytes, post: Post) -> str | None:
        expected, other = (
            (site.found_sentence, site.missing_sentence) if post.found else (site.missing_sentence, site.found_sentence)
        )
        if status != "200":
            return f"{status} (expected 200)"
        if expected not in body or other in body:
            return f"200 without the {'found' if post.found else 'not-found'} sentence"
        return None

    return judge


def noop_judge(site: CheckSite) -> Judge:
    """The no-op view answers 302 to the join form's verification step (``bench/signup.py``'s ``bench_noop``)."""
    location = f"{site.prefix}/join/verify"

    def judge(status: str, headers: dict[str, str], body: bytes, post: Post) -> str | None:
        if status != "302" or not headers.get("location", "").endswith(location):
            return f"{status} to {headers.get('location')!r} (expected 302 to {location})"
        return None

    return judge


async def visitor(
    server: Server, path: str, session: Session, posts: Iterator[Post], judge: Judge, deadline: float, run: Round
) -> None:
    """One visitor's browser: post a number, read and judge the answer, post the next, until the deadline."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\nCookie: {session.cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nUser-Agent: claimsite-bench\r\n"
    ).encode()
    token = urlencode({"csrf_token": session.csrf_token})
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        post = next(posts)
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert reader is not None
            body = f"{post.phone_field}&{token}".encode()
            started = time.perf_counter()
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status, headers, answer = await read_answer_with_body(reader)
            latency = time.perf_counter() - started
        except (TimeoutError, OSError, EOFError, asyncio.IncompleteReadError) as exc:
            run.answers[f"connection: {type(exc).__name__} {exc}"[:80]] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
            continue
        wrong = judge(status, headers, answer, post)
        if wrong is None:
            run.answers[RIGHT] += 1
            run.found += post.found
            run.latencies.append(latency)
        else:
            run.answers[wrong] += 1
            if len(run.wrong) < 3:
                start = max(0, answer.find(b'class="notice'))  # the answer's sentence, else the page's start
                run.wrong.append(f"{wrong} for {post.phone_field}: {answer[start : start + 300]!r}")
        if headers.get("connection", "").lower() == "close":
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def load(
    server: Server, path: str, sessions: list[Session], posts: list[Post], judge: Judge, seconds: float, label: str
) -> Round:
    """``len(sessions)`` visitors posting to ``path`` for ``seconds`` (then the posts in flight are awaited), with
    the CPU that gunicorn, PostgreSQL, this process and the machine spent meanwhile."""
    run = Round(label, len(sessions))
    shared = itertools.cycle(posts)  # every visitor takes the next number: found and not found in turn

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(visitor(server, path, s, shared, judge, deadline, run) for s in sessions))

    before = cpu_seconds(server.process.pid)
    client_before, started = time.process_time(), time.perf_counter()
    asyncio.run(main())
    run.seconds = time.perf_counter() - started
    run.client_cpu = time.process_time() - client_before
    after = cpu_seconds(server.process.pid)
    run.server_cpu, run.database_cpu, run.machine_cpu = (b - a for a, b in zip(before, after, strict=True))
    return run


def pooled(label: str, rounds: list[Round]) -> Round:
    """The rounds of one kind as one run: their answers, latencies, seconds and CPU added up."""
    total = Round(label, rounds[0].clients)
    for run in rounds:
        total.seconds += run.seconds
        total.latencies += run.latencies
        total.answers += run.answers
        total.found += run.found
        total.wrong += run.wrong
        total.client_cpu += run.client_cpu
        total.server_cpu += run.server_cpu
        total.database_cpu += run.database_cpu
        total.machine_cpu += run.machine_cpu
    return total


# --- the database's side ------------------------------------------------------------------------------------


def funnel_counts(storage_url: str) -> tuple[int, int]:
    """facebookleak's checks and found numbers in the funnel (the shared counters: core.breach.funnel), yesterday
    and today (UTC) together: a run may cross midnight."""
    import datetime as dt

    from core.breach.funnel import funnel
    from core.ratelimits import RateLimits

    today = dt.datetime.now(dt.UTC).date()
    days = funnel(RateLimits(storage_url), CAMPAIGN, today - dt.timedelta(days=1), today)
    return sum(day.checks for day in days), sum(day.found for day in days)


# --- the driver ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ratios: dict[str, float] = field(default_factory=dict)  # database -> median of the rounds' check/no-op ratios
    problems: list[str] = field(default_factory=list)


def measure_database(
    args: argparse.Namespace,
    database: str,
    url: str,
    secret: str,
    tmp: str,
    site: CheckSite,
    posts: list[Post],
    outcome: Outcome,
) -> None:
    """Serve ``url`` under gunicorn, alternate rounds of the check and the no-op, check the answers and counts."""
    instance_dir = str(Path(tmp, "instance"))
    log = Path(tmp, f"gunicorn-{database}.log")
    counters = str(app_config(secret, instance_dir)["ratelimit_storage_url"])  # where the workers count
    checks_before, found_before = funnel_counts(counters)
    kinds = {
        "check": (site.check_path, check_judge(site)),
        "no-op": (f"{site.prefix}{NOOP_PATH}", noop_judge(site)),
    }
    measured: dict[str, list[Round]] = {"check": [], "no-op": []}
    warm: list[Round] = []
    server = start_server(args, secret, instance_dir, url, site.host, site.prefix, log)
    try:
        sessions = [open_session_retrying(server, path=site.check_path) for _ in range(args.clients)]
        for kind, (path, judge) in kinds.items():
            warm.append(load(server, path, sessions, posts, judge, args.warmup, kind))
        for number in range(args.rounds):
            order = ["no-op", "check"] if number % 2 == 0 else ["check", "no-op"]  # neither always goes first
            for kind in order:
                path, judge = kinds[kind]
                run = load(server, path, sessions, posts, judge, args.seconds, kind)
                measured[kind].append(run)
                print(f"round {number + 1}, {kind}:")
                print(describe(database, run))
        if server.process.poll() is not None:
            raise BenchFailure(f"gunicorn died during the run:\n{log.read_text()[-3000:]}")
    finally:
        stop(server.process)

    every = [*warm, *measured["check"], *measured["no-op"]]
    for run in every:
        for what, count in run.answers.items():
            if what != RIGHT:
                outcome.problems.append(f"{database} {run.label}: {count} x {what}")
        outcome.problems += [f"{database} {run.label}: {example}" for example in run.wrong[:1]]
    checks, found = funnel_counts(counters)
    checks, found = checks - checks_before, found - found_before
    answered = sum(run.ok for run in every if run.label == "check")
    answered_found = sum(run.found for run in every if run.label == "check")
    same = "ok" if (checks, found) == (answered, answered_found) else "MISMATCH"
    print(
        f"{database:10} check: {answered} checks answered right, {answered_found} of them found (warm-ups "
        f"included); the funnel counted {checks} checks, {found} found: {same}"
    )
    if same != "ok":
        outcome.problems.append(f"{database}: {answered} checks answered, the funnel counted {checks} ({found} found)")

    check, noop = pooled("check", measured["check"]), pooled("no-op", measured["no-op"])
    ratios = [c.rate / n.rate if n.rate else 0.0 for c, n in zip(measured["check"], measured["no-op"], strict=True)]
    outcome.ratios[database] = statistics.median(ratios)
    print(f"{database:10} all {args.rounds} rounds, check:")
    print(describe(database, check))
    print(f"{database:10} all {args.rounds} rounds, no-op:")
    print(describe(database, noop))
    cpu_check, cpu_noop = check.per_post_ms(check.server_cpu), noop.per_post_ms(noop.server_cpu)
    print(
        f"{database:10} check/no-op: {outcome.ratios[database]:.2f} (median of the rounds: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}); by gunicorn's CPU per post alone "
        f"{cpu_noop / cpu_check:.2f} ({cpu_check:.2f} against {cpu_noop:.2f} ms), which other load moves less"
    )


def prepare(args: argparse.Namespace, secret: str, tmp: str) -> tuple[CheckSite, list[Post]]:
    """The dump written and imported into ``tmp``'s instance folder; where the check is and the posts to send."""
    from core.breach.phones import NotAPhoneNumber, normalise

    app = production_app(secret, str(Path(tmp, "instance")))
    site = check_site(app)
    dump = Path(tmp, "dump.csv")
    started = time.monotonic()
    sample = write_dump(dump, args.records, args.seed)
    print(f"dump: {args.records:,} rows in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    print(f"import: {import_dataset(app, dump, args.jobs)} ({time.monotonic() - started:.1f} s in all)")
    dump.unlink()  # the index is all the check reads

    def as_typed_is_valid(number: str) -> bool:  # a visitor's format must read back as the same number
        try:
            return normalise(typed(number), "NL") == number
        except NotAPhoneNumber:
            return False

    return site, visitor_posts([n for n in sample if as_typed_is_valid(n)], args.numbers, args.seed)


def measure(args: argparse.Namespace) -> Outcome:
    secret = secrets.token_urlsafe(36)
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
        site, posts = prepare(args, secret, tmp)
        print(
            f"POST http://{site.host}{site.check_path} against {site.prefix}{NOOP_PATH} under gunicorn {args.workers} "
            f"{args.worker_class} worker(s); {args.clients} clients; {len(posts)} numbers, half in the dump; "
            f"{args.warmup:g} s warm-up of each, then {args.rounds} x {args.seconds:g} s of each, alternating; "
            f"{CORES} cores, load average {os.getloadavg()[0]:.2f}"
        )
        if "sqlite" in args.databases:
            with sqlite_database(tmp) as url:
                measure_database(args, "sqlite", url, secret, tmp, site, posts, outcome)
        if "postgresql" in args.databases and args.postgres_url:
            with postgres_database(args.postgres_url) as url:
                measure_database(args, "postgresql", url, secret, tmp, site, posts, outcome)
        elif "postgresql" in args.databases:
            print(f"postgresql skipped: set {ENV_POSTGRES} or --postgres-url")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    for database, ratio in outcome.ratios.items():
        met = "met" if ratio >= TARGET_RATIO else "MISSED"
        print(f"target {database}: check/no-op >= {TARGET_RATIO}: {met} ({ratio:.2f})")
    return outcome


# --- the profile --------------------------------------------------------------------------------------------


def profile(args: argparse.Namespace) -> None:
    """``args.profile`` checks and as many no-op posts through Flask's test client on SQLite (the same app and
    bodies as gunicorn serves), timed; then the checks again under cProfile, by function of ours and the
    templates, cumulative."""
    import cProfile
    import pstats
    from urllib.parse import parse_qsl

    from signup import CSRF_INPUT, build_app

    secret = secrets.token_urlsafe(36)
    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
        site, posts = prepare(args, secret, tmp)
        with sqlite_database(tmp) as url:
            app = build_app(secret, str(Path(tmp, "instance")), url, site.prefix)
            browser = app.test_client()
            page = browser.get(site.check_path, headers={"Host": site.host}).get_data(as_text=True)
            token = CSRF_INPUT.search(page)
            if token is None:
                raise BenchFailure(f"GET {site.check_path} shows no form with a csrf_token")
            judges = {site.check_path: check_judge(site), f"{site.prefix}{NOOP_PATH}": noop_judge(site)}

            def post(path: str, number: int) -> None:
                sent = posts[number % len(posts)]
                data = {**dict(parse_qsl(sent.phone_field)), "csrf_token": token.group(1)}
                answer = browser.post(path, data=data, headers={"Host": site.host})
                headers = {name.lower(): value for name, value in answer.headers.items()}
                wrong = judges[path](str(answer.status_code), headers, answer.get_data(), sent)
                if wrong is not None:
                    raise BenchFailure(f"{path} answered {wrong}")

            for path in judges:
                for number in range(50):  # warm: templates compiled, caches filled
                    post(path, number)
                started, cpu = time.perf_counter(), time.process_time()
                for number in range(args.profile):
                    post(path, number)
                wall_ms = (time.perf_counter() - started) / args.profile * 1000
                cpu_ms = (time.process_time() - cpu) / args.profile * 1000
                print(f"{path}: {wall_ms:.2f} ms per post ({cpu_ms:.2f} ms CPU), in process, on SQLite")
            profiler = cProfile.Profile()
            profiler.enable()
            for number in range(args.profile):
                post(site.check_path, number)
            profiler.disable()
    print(f"\n{site.check_path} under cProfile (inflated times; the shares hold), our code and templates:")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"/(core|themes|plugins)/", 30)
    if os.environ.get("BENCH_PROFILE_ALL"):
        stats.sort_stats("tottime").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="rows in the dump (default 1 million)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the import's parsing processes")
    parser.add_argument("--numbers", type=int, default=2000, help="distinct numbers posted, half in the dump")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one round of each kind")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, alternating")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up of each kind")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4, as README.md runs production)")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads-per-worker", type=int, default=4, help="gunicorn threads (gthread)")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(ENV_POSTGRES, ""),
        help=f"PostgreSQL server where a database may be created (default: ${ENV_POSTGRES})",
    )
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        default=0,
        help="instead: N checks and N no-op posts through Flask's test client on SQLite, then cProfile (e.g. 500)",
    )
    args = parser.parse_args(argv)
    if args.profile:
        try:
            profile(args)
        except BenchFailure as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        return 0
    databases = ("sqlite" in args.databases) + ("postgresql" in args.databases and bool(args.postgres_url))
    budget = databases * (2 * args.warmup + 2 * args.rounds * args.seconds)
    if args.records < 100 or args.numbers < 2 or args.rounds < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--records >= 100, --numbers >= 2, --rounds >= 1, --clients >= 1 and --seconds > 0, please")
    if args.warmup < 0 or budget > MAX_RUN_SECONDS:
        parser.error(f"(2 x warm-up + 2 x rounds x seconds) x databases must stay within {MAX_RUN_SECONDS} s")
    try:
        outcome = measure(args)
    except BenchFailure as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    if outcome.problems:
        print("wrong answers or counts:\n  " + "\n  ".join(outcome.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
