"""Preparing a round of data requests (``flask requests prepare``): per company, the package of the request letter
and everything it encloses (:func:`core.exports.round_package.write_round_package`), made from the participants
the round takes (:mod:`core.data_requests.rounds`), opened with the foundation's private key; and the record of it
(``company_requests``, its members and a ``prepared`` event), written in one transaction once the file is in place,
so the database never names a package that is not there.

Why it is built this way:

- **Streamed, in bounded memory**, as the evidence package is: sign-ups are read ``batch`` at a time
  (:func:`core.data.personal_data.record_batches`, each batch expunged), and each participant's sealed data and
  ID image are opened only as the package takes them (the image is read from the database one at a time: a batch
  of ID images could be hundreds of megabytes). What grows with the round is the package's ZIP directory and the
  members' ids (8 bytes each, in an ``array``), to be recorded once the file is in place.
- **One moment in time.** On PostgreSQL each company's count and participants are read in one REPEATABLE READ
  transaction, so the letter's count and the annex agree. SQLite reads each batch as it is then: a participant who
  withdraws at that moment makes the package refuse itself (the count no longer fits) and leaves no file; run the
  command again.
- **Prepared again until sent.** A round's request to a company may be made again (members who withdrew since
  are left out, new ones taken) until it is marked sent: then it is what the company received, and is refused.
- **No personal data outside the package**: the summary and the events name counts and checksums only.
- **The companies of a round** are those the campaign offers, and every company of the catalogue that staff
  matched a participant's named company to (:func:`round_companies`). The participants gave no details for a
  company they did not choose from the list: a company the campaign does not offer gets a letter that names no
  identifiers, and its annex has each participant's name, reference and birth date only.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.companies import Company, Identifier
from core.data import personal_data
from core.data.db import db_session, utcnow
from core.data.models import (
    CompanyRequest,
    IdentityProof,
    ProofState,
    RequestEvent,
    RequestEventKind,
    RequestMember,
)
from core.data_requests import named_companies, rounds
from core.data_requests.choices import ANSWERS_KEY
from core.data_requests.letters import Addressee, IdentifierColumn, Language, RequestLetter, Sender
from core.data_requests.request_log import add_event, today_in_nl
from core.data_requests.settings import DataRequestSettings, Round, data_request_of
from core.exports.round_package import RoundPackageError, RoundParticipant, write_round_package
from core.sealing import OpeningKeys

_INSERT_CHUNK = 1000  # members inserted per statement


class PrepareError(ValueError):
    """A round that cannot be prepared as asked: says why and what to do; nothing was written."""


@dataclass(frozen=True)
class PreparedCompany:
    """What preparing one company's request did."""

    company: str
    participants: int
    path: Path | None  # None: no package (no participant)
    id_proofs: int = 0
    manifest_sha256: str | None = None
    remade: bool = False  # an earlier package of this request (not sent yet) was replaced
    removed: bool = False  # an earlier package's record was removed: nobody is in it any more


@dataclass(frozen=True)
class RoundPreparation:
    campaign: str
    round_id: str
    companies: tuple[PreparedCompany, ...]
    others_waiting: int  # participants who named another company: for staff to review, in no package


def package_name(campaign: str, round_id: str, company: str) -> str:
    return f"{campaign}-{round_id}-{company}.zip"


def round_companies(session: Session, loaded: LoadedCampaign, settings: DataRequestSettings) -> list[str]:
    """The companies a round of ``loaded`` makes a request to: those it offers (in its order), then those of the
    catalogue that a participant's named company was matched to (by slug; one no longer in the catalogue is left
    out: there is nobody to write to)."""
    offered = list(settings.companies)
    catalogue = named_companies.catalogue_of(loaded)
    matched = named_companies.matched_companies(session, loaded.slug)
    return offered + [slug for slug in matched if slug not in offered and slug in catalogue]


def company_of(loaded: LoadedCampaign, slug: str) -> Company:
    """A company of :func:`round_companies`: as the campaign loaded it, or from the catalogue."""
    return loaded.companies.get(slug) or named_companies.catalogue_of(loaded)[slug]


def letter_language(company: Company) -> Language:
    """The company's request language when a letter can be written in it, else English."""
    return "nl" if company.request_language == "nl" else "en"


def identifier_columns(company: Company, language: str) -> tuple[IdentifierColumn, ...]:
    """The company's identifiers as the annex's columns (their ids with '_' for '-', as the letter spells ids)."""
    return tuple(
        IdentifierColumn(identifier.id.replace("-", "_"), identifier.label.get_text(language, "en"))
        for identifier in company.identifiers
    )


def _letter(
    loaded: LoadedCampaign, settings: DataRequestSettings, round_: Round, company: Company, count: int
) -> RequestLetter:
    language = letter_language(company)
    # Only a company the campaign offers asked its participants for details (see the module).
    offered = company.slug in settings.companies
    organisation = loaded.campaign.organisation
    return RequestLetter(
        language=language,
        organisation=Sender(
            name=organisation.name,
            website=str(organisation.website),
            email=str(organisation.email),
            chamber_of_commerce=organisation.chamber_of_commerce,
        ),
        company=Addressee(
            slug=company.slug,
            name=company.name,
            runs=tuple(company.runs),
            address_lines=tuple(line for line in (company.address or "").splitlines() if line.strip()),
            email=str(company.email) if company.email else None,
            webform=str(company.webform) if company.webform else None,
        ),
        campaign_name=loaded.campaign.name.get_text(language, loaded.campaign.default_language),
        round_id=f"{loaded.slug}-{round_.id}",
        dated=round_.submit_on,
        participant_count=count,
        identifiers=identifier_columns(company, language) if offered else (),
        id_proofs=settings.identity_proof,
        reply_to=str(organisation.email),
    )


def _begin_snapshot(session: Session) -> None:
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _participants(
    session: Session,
    company: Company,
    conditions: list[ColumnElement[bool]],
    keys: OpeningKeys,
    members: array[int],
    residence: Counter[str],
    *,
    identifiers: Sequence[Identifier],
    with_id: bool,
    batch: int,
    progress: Callable[[int], None] | None,
) -> Iterator[RoundParticipant]:
    """The round's participants for ``company``, opened one at a time; each one's id goes into ``members``, and
    their country of residence is counted in ``residence`` (only the counts are kept: whose supervisory authority
    a complaint goes to, :mod:`core.data_requests.complaints`)."""
    columns = [(identifier.id, identifier.id.replace("-", "_")) for identifier in identifiers]
    for signups in personal_data.record_batches(session, *conditions, batch=batch):
        ids = [signup.id for signup, _record in signups]
        proofs = _proofs(session, ids) if with_id else {}
        for signup, record in signups:
            opened = personal_data.open_record(record, keys)
            answers = opened.answers
            details = ((answers.get(ANSWERS_KEY) or {}).get("details") or {}).get(company.slug) or {}
            image = None
            if with_id:
                proof_id, media_type = proofs[signup.id]
                sealed = session.scalar(select(IdentityProof.sealed_image).where(IdentityProof.id == proof_id))
                image = (keys.open(sealed), media_type) if sealed is not None else None
            members.append(signup.id)
            residence[str(answers.get("country") or "").upper()] += 1
            yield RoundParticipant(
                reference=signup.token[:12],
                name=str(answers.get("name") or ""),
                identifiers={column: str(details[source]) for source, column in columns if details.get(source)},
                birth_date=str(answers.get("birth_date") or "") or None,
                mandate_pdf=opened.mandate_pdf or b"",
                id_image=image,
            )
            del opened, answers, image
        for signup, record in signups:
            session.expunge(signup)
            session.expunge(record)
        if progress is not None:
            progress(len(signups))


def _proofs(session: Session, ids: list[int]) -> dict[int, tuple[int, str]]:
    """signup id -> (its newest accepted proof's id, media type), for the sign-ups ``ids`` (ascending)."""
    found: dict[int, tuple[int, str]] = {}
    query = (
        select(IdentityProof.signup_id, IdentityProof.id, IdentityProof.media_type)
        .where(
            IdentityProof.signup_id.between(ids[0], ids[-1]),
            IdentityProof.state == ProofState.ACCEPTED,
            IdentityProof.sealed_image.is_not(None),
        )
        .order_by(IdentityProof.id)
    )
    for signup_id, proof_id, media_type in session.execute(query):
        found[signup_id] = (proof_id, media_type)  # the newest wins
    return found


def _existing(session: Session, campaign: str, round_id: str, company: str) -> CompanyRequest | None:
    return session.scalars(
        select(CompanyRequest).where(
            CompanyRequest.campaign == campaign, CompanyRequest.round_id == round_id, CompanyRequest.company == company
        )
    ).first()


def _forget(session: Session, request: CompanyRequest) -> None:
    session.execute(delete(RequestMember).where(RequestMember.company_request_id == request.id))
    session.execute(delete(RequestEvent).where(RequestEvent.company_request_id == request.id))
    session.delete(request)


def prepare_round(
    loaded: LoadedCampaign,
    round_id: str,
    keys: OpeningKeys,
    out_dir: Path,
    *,
    companies: Sequence[str] = (),
    batch: int = 500,
    progress: Callable[[str, int], None] | None = None,
    now: dt.datetime | None = None,
) -> RoundPreparation:
    """Prepare ``round_id`` of ``loaded``: for each company of :func:`round_companies` (or only ``companies``), its
    package in ``out_dir`` (``<campaign>-<round>-<company>.zip``) and its record (see the module). Needs an app
    context. ``progress(company, n)`` is told of each batch of participants written.

    Raises :class:`PrepareError` (nothing written) for a campaign without data requests, an unknown round or
    company, or a request of the round already marked sent; :class:`core.sealing.SealingError` without the private
    key the data was sealed to; :class:`FileExistsError` for a package file that is there though the database
    knows no package of it; :class:`RoundPackageError` when the round changed while it was read (run it again)."""
    settings = data_request_of(loaded)
    if settings is None:
        raise PrepareError(f"campaign '{loaded.slug}' has no data_request settings: it files no requests")
    try:
        round_ = rounds.round_of(settings, round_id)
    except LookupError as exc:
        raise PrepareError(str(exc)) from None
    session = db_session()
    known = round_companies(session, loaded, settings)
    wanted = list(companies) or known
    if unknown := [slug for slug in wanted if slug not in known]:
        session.rollback()
        raise PrepareError(
            f"company {', '.join(unknown)} is not offered by {loaded.slug} nor matched to a company a participant "
            f"named (its requests go to {', '.join(known)})"
        )
    sent = [
        request
        for slug in wanted
        if (request := _existing(session, loaded.slug, round_id, slug)) is not None and request.sent_on is not None
    ]
    if sent:
        named = ", ".join(f"{request.company} (sent {request.sent_on})" for request in sent)
        others = [slug for slug in wanted if slug not in {request.company for request in sent}]
        raise PrepareError(
            f"the request of {loaded.slug} {round_id} to {named} was marked sent: it is what the company received and"
            " is not made again; nothing was written"
            + (f". Prepare the others with --company {' --company '.join(others)}" if others else "")
        )
    session.rollback()
    out_dir.mkdir(parents=True, exist_ok=True)
    done = [
        _prepare_company(
            session, loaded, settings, round_, company_of(loaded, slug), keys, out_dir, batch, progress, now
        )
        for slug in wanted
    ]
    waiting = rounds.others_waiting(session, loaded.slug, round_)
    session.rollback()
    return RoundPreparation(loaded.slug, round_id, tuple(done), waiting)


def _prepare_company(
    session: Session,
    loaded: LoadedCampaign,
    settings: DataRequestSettings,
    round_: Round,
    company: Company,
    keys: OpeningKeys,
    out_dir: Path,
    batch: int,
    progress: Callable[[str, int], None] | None,
    now: dt.datetime | None,
) -> PreparedCompany:
    _begin_snapshot(session)
    existing = _existing(session, loaded.slug, round_.id, company.slug)
    conditions = rounds.in_round(loaded.slug, settings, round_, company.slug, existing.id if existing else None)
    count = rounds.member_count(session, conditions)
    if not count:
        if existing is not None:
            _forget(session, existing)
            session.commit()
            return PreparedCompany(company.slug, 0, None, removed=True)
        session.rollback()
        return PreparedCompany(company.slug, 0, None)
    target = out_dir / package_name(loaded.slug, round_.id, company.slug)
    members: array[int] = array("q")  # 8 bytes a member, until they are recorded
    residence: Counter[str] = Counter()  # members by country of residence ("" where the form did not ask it)
    letter = _letter(loaded, settings, round_, company, count)
    participants = _participants(
        session,
        company,
        conditions,
        keys,
        members,
        residence,
        identifiers=company.identifiers if letter.identifiers else (),
        with_id=settings.identity_proof,
        batch=batch,
        progress=None if progress is None else (lambda n: progress(company.slug, n)),
    )
    try:
        summary = write_round_package(target, letter, participants, overwrite=existing is not None)
    except RoundPackageError:
        session.rollback()
        raise
    _record(session, loaded.slug, round_.id, company.slug, existing, members, residence, summary.manifest_sha256, now)
    return PreparedCompany(
        company.slug, summary.participants, target, summary.id_proofs, summary.manifest_sha256, existing is not None
    )


def _record(
    session: Session,
    campaign: str,
    round_id: str,
    company: str,
    existing: CompanyRequest | None,
    members: array[int],
    residence: Counter[str],
    manifest_sha256: str,
    now: dt.datetime | None,
) -> None:
    """The request, its members and its ``prepared`` event, in one transaction (the file is in place)."""
    now = now or utcnow()
    if existing is not None:
        request = existing
        session.execute(delete(RequestMember).where(RequestMember.company_request_id == request.id))
    else:
        request = CompanyRequest(campaign=campaign, round_id=round_id, company=company)
        session.add(request)
    request.prepared_at, request.participants, request.manifest_sha256 = now, len(members), manifest_sha256
    session.flush()
    for start in range(0, len(members), _INSERT_CHUNK):
        session.execute(
            insert(RequestMember),
            [{"company_request_id": request.id, "signup_id": id_} for id_ in members[start : start + _INSERT_CHUNK]],
        )
    detail = {
        "participants": len(members),
        "manifest_sha256": manifest_sha256,
        "remade": existing is not None,
        "residence": dict(sorted(residence.items())),  # counts by country: no one is named
    }
    add_event(session, request, RequestEventKind.PREPARED, today_in_nl(now), detail)
    session.commit()
