"""The complaint to a supervisory authority (Art. 77 GDPR) about a company that did not answer a round's request in
time: drafted by the daily reminder as a Markdown file for staff to read, complete with the enclosures and send.

A draft, not a filing: a complaint goes out under the foundation's name and its lawyer checks it, so the command
writes a file staff open, never a mail to the authority. It names the request by its reference, its dates (sent,
received, due, an extension and whether it counted) and the number of data subjects, and nobody by name: the
authority asks for the mandates when it needs them, and the file sits in the instance folder, not in the sealed
data.

Whose authority: the participants'. Art. 77(1) GDPR lets a data subject complain in the Member State of their
habitual residence; a foundation acting for them (Art. 80(1)) complains where they live, whatever the company's lead
authority (which the authority receiving it involves under Art. 56). So an overdue request gets one draft per
authority of its members' countries of residence, each for that many data subjects: preparing a round counts its
members by country (:mod:`core.exports.round_requests`, only the counts are kept), and each country's authority is
the one ``campaigns/_shared/authorities.yaml`` gives for it (:func:`addressees`). Members whose country the form did
not ask go to the foundation's own authority (:data:`PARTICIPANTS_AUTHORITY`, the Dutch Autoriteit
Persoonsgegevens); a country without an authority in the file still gets its draft, addressed to "the supervisory
authority of <country>", saying its address must be added before it is sent.

The text goes through flask-babel: in the campaign's default language for the Dutch authority, in English for the
others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from flask_babel import force_locale
from flask_babel import gettext as _

from core.campaigns.companies import Authority, Company
from core.data.models import CompanyRequest
from core.data_requests.deadlines import Deadline, ExtensionOutcome

#: The authority of the participants of the foundation's campaigns (see the module).
PARTICIPANTS_AUTHORITY = "nl-ap"


@dataclass(frozen=True)
class Addressee:
    """Who one draft goes to: an authority of the file (None: the country has none there yet), the country of
    residence it speaks for, and how many of the request's data subjects live there."""

    key: str  # the authority's id, or "<country>-unknown"
    authority: Authority | None
    country: str
    data_subjects: int


def addressees(residence: Mapping[str, int], authorities: Mapping[str, Authority]) -> list[Addressee]:
    """The drafts an overdue request needs, from its members' countries of residence (``residence``: counts by ISO
    code, "" where the form did not ask), one per authority, by key."""
    by_country = {authority.country: (key, authority) for key, authority in sorted(authorities.items())}
    counted: dict[str, Addressee] = {}
    for country, count in sorted(residence.items()):
        if not country:
            fallback = authorities.get(PARTICIPANTS_AUTHORITY)
            country = fallback.country if fallback is not None else "NL"
        key, authority = by_country.get(country, (f"{country.lower()}-unknown", None))
        earlier = counted.get(key)
        counted[key] = Addressee(key, authority, country, count + (earlier.data_subjects if earlier else 0))
    return [counted[key] for key in sorted(counted)]


def complaint_path(instance_dir: Path, request: CompanyRequest, addressee: str) -> Path:
    """Where the draft of ``request``'s complaint to ``addressee`` (its key) is kept:
    ``complaints/<campaign>/<round>-<company>-<addressee>.md``."""
    return instance_dir / "complaints" / request.campaign / f"{request.round_id}-{request.company}-{addressee}.md"


def channel_words(channel: str | None) -> str:
    """How a request went, as "by ..." says it (in the language forced by the caller)."""
    words = {"email": _("e-mail"), "webform": _("web form"), "letter": _("post"), "fax": _("fax")}
    return words.get(channel or "", channel or "")


def complaint_text(
    request: CompanyRequest,
    due: Deadline,
    company: Company,
    addressee: Addressee,
    organisation: str,
    organisation_email: str,
    language: str,
    today: dt.date,
) -> str:
    """The complaint about ``request`` to ``addressee``, in Markdown, in ``language`` (needs an app context)."""
    with force_locale(language):
        if addressee.authority is not None:
            to = [
                _("To: %(authority)s", authority=addressee.authority.name.get_text(language, "en")),
                "",
                *(f"{line}  " for line in addressee.authority.address.splitlines()),  # two spaces: a line break
            ]
        else:
            country = Locale.parse(language).territories.get(addressee.country, addressee.country)
            to = [
                _("To: the supervisory authority of %(country)s", country=country),
                "",
                "**"
                + _(
                    "Its address is not in campaigns/_shared/authorities.yaml yet: add the authority there, and its"
                    " address here, before this is sent."
                )
                + "**",
            ]
        sent = request.sent_on.isoformat() if request.sent_on else ""
        received = due.received.isoformat()
        how_received = (
            _("as the company's acknowledgement or the proof of delivery shows")
            if request.received_recorded
            else _(
                "taken as received on that day for a request sent by %(channel)s",
                channel=channel_words(request.channel),
            )
        )
        reference = f"{request.campaign}-{request.round_id}-{request.company}"
        lines = [
            "# "
            + _(
                "Complaint under Article 77 GDPR: %(company)s did not answer a request for access", company=company.name
            ),
            "",
            *to,
            "",
            _(
                "From: %(organisation)s (%(email)s), on behalf of %(count)s data subjects who mandated it"
                " (Article 80(1) GDPR)",
                organisation=organisation,
                email=organisation_email,
                count=addressee.data_subjects,
            ),
            "",
            _("Our reference: %(reference)s", reference=reference),
            "",
            "## " + _("The request"),
            "",
            _(
                "On %(sent)s we sent %(company)s a request for access under Article 15 GDPR on behalf of %(count)s"
                " data subjects, by %(channel)s. The company received it on %(received)s (%(how)s).",
                sent=sent,
                company=company.name,
                count=addressee.data_subjects,
                channel=channel_words(request.channel),
                received=received,
                how=how_received,
            ),
            "",
            "## " + _("The deadline"),
            "",
            _(
                "Article 12(3) GDPR required the company to answer within one month of receipt, by %(first)s.",
                first=due.first_month_due.isoformat(),
            ),
        ]
        if request.extension_claimed_on is not None:
            claimed = request.extension_claimed_on.isoformat()
            if due.reason is ExtensionOutcome.CLAIMED_LATE:
                lines.append(
                    _(
                        "The company claimed an extension of %(months)s month(s) on %(claimed)s, after the first"
                        " month had ended: too late to extend the period (Article 12(3) GDPR).",
                        months=request.extension_months,
                        claimed=claimed,
                    )
                )
            else:
                lines.append(
                    _(
                        "The company claimed an extension on %(claimed)s, within the first month; with it, the period"
                        " ended on %(due)s (at most two further months: Article 12(3) GDPR).",
                        claimed=claimed,
                        due=due.due.isoformat(),
                    )
                )
        lines += [
            "",
            _(
                "The answer was due on %(due)s. On %(today)s we have received no answer, or no complete one.",
                due=due.due.isoformat(),
                today=today.isoformat(),
            ),
            "",
            "## " + _("What we ask"),
            "",
            _(
                "We ask the authority to handle this complaint and to order the company to comply with the data"
                " subjects' requests to exercise their right of access (Article 58(2)(c) GDPR)."
            ),
            "",
            "## " + _("Enclosed"),
            "",
            "- "
            + _("the request letter, and the SHA-256 of the package's manifest: %(sha)s", sha=request.manifest_sha256),
            "- " + _("the proof of sending, and the company's messages, if any"),
            "- " + _("the mandates, on request"),
            "",
        ]
        return "\n".join(lines)


def write_complaint(instance_dir: Path, request: CompanyRequest, addressee: Addressee, text: str) -> Path:
    """Write ``text`` (:func:`complaint_text`) as the draft of ``request``'s complaint to ``addressee``
    (:func:`complaint_path`), replacing an older draft; returns its path."""
    path = complaint_path(instance_dir, request, addressee.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
