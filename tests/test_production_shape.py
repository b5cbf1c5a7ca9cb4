"""Several app servers as production runs them (issue 22): the shape of tests/production_shape.py, nginx in front of
two gunicorn instances standing for two machines, two mail workers, on PostgreSQL and Redis. Nothing may assume
one process: a rate limit counts once over both instances, a session and a signed link work whichever answers, a
campaign change reaches both without a restart, two workers never send one mail twice, one instance killed
during a burst of sign-ups loses none and doubles none, and a post cut off with its instance gets the error page
(nginx does not send it to the other) and is taken when sent again.

Needs nginx (skipped, saying so, without it), PostgreSQL (``CLAIMSITE_TEST_POSTGRES_URL``, as the other database
tests) and Redis on 127.0.0.1:6379 (database 12); in CI a missing PostgreSQL or Redis is a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy

from tests.conftest import POSTGRES_ADMIN_URL
from tests.gunicorn_server import Answer
from tests.nginx_server import nginx_binary
from tests.production_shape import SIGNUP_HOST, ProductionShape, Visitor, location_path, smoke
from tests.test_ratelimit_storage import redis_answers

REDIS_URL = "redis://127.0.0.1:6379/12"
SIGNUP_FORM_LIMIT = 20  # core/ratelimits.py: "signup-form-ip"
PUBLISH_WAIT_SECONDS = 30  # README, "Publishing a change": live within about 6 s


def needs(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the production shape: {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def shape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionShape]:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (make system-deps installs Debian's nginx)")
    if not POSTGRES_ADMIN_URL:
        needs("PostgreSQL not configured (CLAIMSITE_TEST_POSTGRES_URL)")
    if not redis_answers():
        needs("needs Redis on 127.0.0.1:6379 (production keeps its rate-limit counts there)")
    folder = tmp_path_factory.mktemp("production-shape")
    with ProductionShape(folder, POSTGRES_ADMIN_URL, REDIS_URL, workers_count=2) as started:
        yield started


@pytest.fixture(autouse=True)
def logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """The end of every process's log, shown with a failed test."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before and "shape" in request.fixturenames:
        print(request.getfixturevalue("shape").log_tails())


def run_id() -> str:
    return secrets.token_hex(3)


def test_the_smoke_check_of_make_prod_check_passes(shape: ProductionShape) -> None:
    checks = smoke(shape)
    assert len(checks) == 3
    assert [check for check in checks if not check.ok] == []


def test_a_rate_limit_counts_once_over_both_instances(shape: ProductionShape) -> None:
    # Join forms sent from one address, to each instance in turn: the 21st within the hour is refused, wherever it
    # goes (here through nginx). Counted per instance, each would have seen ten.
    a, b = shape.machines
    source, run = "127.0.10.1", run_id()
    statuses = []
    for n in range(SIGNUP_FORM_LIMIT):
        visitor = Visitor(shape.nginx.port, source=source)  # type: ignore[union-attr]
        statuses.append(visitor.join(f"limit-{run}-{n}@example.org", port=(a, b)[n % 2].port).status)
    assert statuses == [302] * SIGNUP_FORM_LIMIT
    over = Visitor(shape.nginx.port, source=source).join(f"limit-{run}-over@example.org")  # type: ignore[union-attr]
    assert over.status == 429
    # Another address is not affected.
    other = Visitor(shape.nginx.port, source="127.0.10.2").join(f"limit-{run}-other@example.org")  # type: ignore[union-attr]
    assert other.status == 302


def verification_link(shape: ProductionShape, address: str) -> str:
    """The path of the link in the newest code mail to ``address``."""
    with shape.smtp.lock:
        mails = [r.message for r in shape.smtp.messages if address in r.rcpt_tos]
    text = mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(rf"http://{re.escape(SIGNUP_HOST)}(/\S*join/verify/\S+)", text)
    assert found, text
    return found.group(1)


def test_a_join_started_on_one_instance_goes_on_on_the_other(shape: ProductionShape) -> None:
    a, b = shape.machines
    address = f"across-{run_id()}@example.org"
    visitor = Visitor(shape.nginx.port, source="127.0.11.1")  # type: ignore[union-attr]
    posted = visitor.join(address, port=a.port)
    assert posted.status == 302 and location_path(posted) == "/en/join/verify"
    assert len(shape.wait_for_code_mails([address])[address]) == 1
    # The link in the mail (signed with the secret key both share) opened on B, in the session A started.
    link = verification_link(shape, address)
    page = visitor.send("GET", link, port=b.port)
    assert page.status == 200, page.body[:500]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.body)
    assert token
    confirmed = visitor.send("POST", link, {"csrf_token": token.group(1)}, port=b.port)
    assert confirmed.status == 302 and location_path(confirmed).endswith("/join/sign"), confirmed.body[:500]
    # Back on A, the session knows the address is proved.
    assert visitor.send("GET", location_path(confirmed), port=a.port).status == 200
    # A session cookie that neither server signed is nobody's.
    stranger = Visitor(shape.nginx.port, source="127.0.11.2")  # type: ignore[union-attr]
    stranger.cookies = {name: value[:-4] + "AAAA" for name, value in visitor.cookies.items()}
    assert stranger.send("GET", location_path(confirmed), port=b.port).status != 200


def landing_page(port: int) -> Answer:
    return Visitor(port, host="zoomclaim.org").send("GET", "/en/", port=port)


def test_a_campaign_change_reaches_both_instances_without_a_restart(shape: ProductionShape) -> None:
    # Deployed as README says: the changed file copied to every server's campaigns/ folder; each publishes it.
    marker = f"Changed title {run_id()}"
    masters = [machine.server.process.pid for machine in shape.machines]  # type: ignore[union-attr]
    for machine in shape.machines:
        assert marker not in landing_page(machine.port).body
    for machine in shape.machines:
        path = machine.campaigns / "zoomclaim.yaml"
        text = path.read_text(encoding="utf-8")
        changed, count = re.subn(r"(?m)^(\s+title:\s*\n(?:\s+nl: .*\n)?\s+en: ).*$", rf"\g<1>{marker}", text, count=1)
        assert count == 1, "zoomclaim.yaml's first English title"
        path.write_text(changed, encoding="utf-8")
    started = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < len(shape.machines) and time.monotonic() - started < PUBLISH_WAIT_SECONDS:
        for machine in shape.machines:
            if machine.name not in seen and marker in landing_page(machine.port).body:
                seen[machine.name] = time.monotonic() - started
        time.sleep(0.3)
    print(f"the change showed after: {seen}")
    assert sorted(seen) == [machine.name for machine in shape.machines]
    assert [machine.server.process.pid for machine in shape.machines] == masters  # type: ignore[union-attr]
    assert all(machine.server.process.poll() is None for machine in shape.machines)  # type: ignore[union-attr]


def jobs_done(shape: ProductionShape) -> dict[int, Counter[str]]:
    """Per worker (its index), how many times it logged each job id as done."""
    done: dict[int, Counter[str]] = {}
    for index in range(len(shape.workers)):
        [log] = shape.logs.glob(f"worker-{index + 1}-*.log")
        done[index] = Counter(re.findall(r"job (\d+) \([^)]*\) done", log.read_text(errors="replace")))
    return done


def test_two_workers_never_send_the_same_mail(shape: ProductionShape) -> None:
    # Both workers are held while the sign-ups queue their code mails, then let go at once: they race for the same
    # jobs on the same database.
    assert len(shape.workers) == 2
    before = jobs_done(shape)
    run, count = run_id(), 16
    addresses = [f"mail-{run}-{n}@example.org" for n in range(count)]
    for worker in shape.workers:
        os.killpg(worker.pid, signal.SIGSTOP)
    try:
        for n, address in enumerate(addresses):
            posted = Visitor(shape.nginx.port, source=f"127.0.12.{n + 1}").join(address)  # type: ignore[union-attr]
            assert posted.status == 302
    finally:
        for worker in shape.workers:
            os.killpg(worker.pid, signal.SIGCONT)
    codes = shape.wait_for_code_mails(addresses)
    time.sleep(3.0)  # a second copy would come within a few of the workers' polls
    codes = {address: shape.code_mails(address) for address in addresses}
    assert {address: len(found) for address, found in codes.items()} == dict.fromkeys(addresses, 1)
    after = jobs_done(shape)
    took = {index: sum((after[index] - before[index]).values()) for index in after}
    print(f"code mails sent by each worker: {took}")
    assert all(n == 1 for counts in after.values() for n in counts.values())  # no job run twice by one worker
    assert not set(after[0]) & set(after[1])  # nor by both
    assert sum(took.values()) >= count and all(took.values()), took  # both took part


def test_one_instance_killed_during_a_burst_of_sign_ups_loses_none_and_doubles_none(
    shape: ProductionShape,
) -> None:
    # Visitors join through nginx, each from an address of their own; when a third of the forms were taken, machine
    # B's gunicorn (master and workers) is killed. A post cut off with it gets an error page, and its visitor sends
    # the form once more, as that page asks.
    run, count = run_id(), 45
    addresses = [f"burst-{run}-{n}@example.org" for n in range(count)]
    answers: dict[str, list[int | str]] = {address: [] for address in addresses}
    taken = threading.Semaphore(0)
    lock = threading.Lock()

    def visitor(n: int) -> None:
        address = addresses[n]
        person = Visitor(shape.nginx.port, source=f"127.0.13.{n + 1}")  # type: ignore[union-attr]
        token = person.form_token("/en/join")
        for _ in range(2):  # the post, and once more after an error
            try:
                status: int | str = person.join(address, token=token).status
            except OSError as exc:
                status = type(exc).__name__
            with lock:
                answers[address].append(status)
            if status == 302:
                taken.release()
                return

    def kill_b_after_a_third() -> None:
        for _ in range(count // 3):
            taken.acquire(timeout=60)
        shape.kill(shape.machines[1])

    killer = threading.Thread(target=kill_b_after_a_third)
    killer.start()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(visitor, range(count)))
    killer.join(timeout=60)
    try:
        final = {address: statuses[-1] for address, statuses in answers.items()}
        retried = [address for address, statuses in answers.items() if len(statuses) > 1]
        print(
            f"{count} visitors; first answers: {Counter(str(s[0]) for s in answers.values())}; "
            f"sent again after an error: {len(retried)}, then {Counter(str(answers[a][-1]) for a in retried)}"
        )
        assert machine_is_dead(shape)
        assert [a for a, status in final.items() if status != 302] == []  # every visitor's form was taken
        rows = shape.rows()
        missing = [a for a in addresses if ("tiktokclaim", shape.email_hash(a)) not in rows]
        assert missing == []
        codes = shape.wait_for_code_mails(addresses)
        time.sleep(3.0)
        codes = {address: shape.code_mails(address) for address in addresses}
        # One code mail per post the app took: one for a visitor answered at the first try; one or two for one who
        # sent the form again (the cut-off post may or may not have been stored before the server died).
        assert {a: len(codes[a]) for a in addresses if a not in retried} == {
            a: 1 for a in addresses if a not in retried
        }
        assert all(1 <= len(codes[a]) <= 2 for a in retried), {a: codes[a] for a in retried}
    finally:
        shape.restart(shape.machines[1])


def machine_is_dead(shape: ProductionShape) -> bool:
    process = shape.machines[1].server.process
    return process is not None and process.poll() is not None


def test_a_post_cut_off_with_its_instance_gets_an_error_page_and_is_taken_when_sent_again(
    shape: ProductionShape,
) -> None:
    # Four visitors send the join form while the test holds a lock on the sign-up table: each post waits inside
    # one of the four gunicorn workers (two per instance), its row not yet written. Machine B is then killed: its
    # two posts are cut off, and nginx must not resend them to A (a POST is not idempotent) but answer the error
    # page, which asks to send the form once more. A's two posts are taken when the lock goes; the two visitors of
    # B send again and are taken too: four rows and four code mails, none lost and none doubled.
    shape.wait_until_nginx_uses(shape.machines[1])  # when an earlier test stopped it
    run = run_id()
    addresses = [f"cut-{run}-{n}@example.org" for n in range(4)]
    visitors = [Visitor(shape.nginx.port, source=f"127.0.14.{n + 1}") for n in range(4)]  # type: ignore[union-attr]
    tokens = [visitor.form_token("/en/join") for visitor in visitors]
    engine = sqlalchemy.create_engine(shape.database_url)
    try:
        with engine.connect() as holder, ThreadPoolExecutor(4) as pool:
            holder.execute(sqlalchemy.text("LOCK TABLE signups IN EXCLUSIVE MODE"))
            posts = [
                pool.submit(visitor.join, address, token=token)
                for visitor, address, token in zip(visitors, addresses, tokens, strict=True)
            ]
            assert waiting_on_the_lock(engine, 4), "the four posts never all reached the sign-up table"
            shape.kill(shape.machines[1])
            time.sleep(1.0)  # nginx has read B's connections closing
            holder.rollback()  # the lock goes
            first = [post.result(timeout=60) for post in posts]
        assert sorted(answer.status for answer in first) == [302, 302, 502, 502]
        cut = [n for n, answer in enumerate(first) if answer.status != 302]
        # The sign-up is one statement, committed on its own: PostgreSQL may finish a statement whose client died
        # (it does not look for a lost client while it waits), so a cut-off post may be stored all the same. Sent
        # again, it is taken either way, as the same sign-up, with one more code mail.
        stored_before = {n: ("tiktokclaim", shape.email_hash(addresses[n])) in shape.rows() for n in cut}
        for n in cut:
            assert "send it once more" in first[n].body and "verstuur het nog eens" in first[n].body
            assert visitors[n].join(addresses[n], token=tokens[n]).status == 302
        rows = shape.rows()
        assert [a for a in addresses if ("tiktokclaim", shape.email_hash(a)) not in rows] == []
        shape.wait_for_code_mails(addresses)
        time.sleep(2.0)
        expected = [2 if stored_before.get(n) else 1 for n in range(4)]
        assert [len(shape.code_mails(address)) for address in addresses] == expected
        print(f"cut-off posts stored before they were sent again: {sum(stored_before.values())} of 2")
    finally:
        engine.dispose()
        shape.restart(shape.machines[1])


def waiting_on_the_lock(engine: sqlalchemy.Engine, count: int, timeout: float = 30.0) -> bool:
    """True once ``count`` other sessions of this database wait for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.execute(
                sqlalchemy.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting >= count:
            return True
        time.sleep(0.1)
    return False
