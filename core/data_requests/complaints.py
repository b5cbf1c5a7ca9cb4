"""The complaint to a supervisory authority (Art. 77 GDPR) about a company that did not answer a round's request in
time: drafted by the daily reminder as a Markdown file for staff to read, complete with the enclosures and send.

A draft, not a filing: a complaint goes out under the foundation's name and its lawyer checks it, so the command
writes a file staff open, never a mail to the authority. It names the request by its reference, its dates (sent,
received, due, an extension and whether it counted) and the number of data subjects, and nobody by name: the
authority asks for the mandates when it needs them, and the file sits in the instance folder, not in the sealed
data.

Whose authority: the participants'. Art. 77(1) GDPR lets a data subject complain in the Member State of their
habitual residence; a foundation acting for them (Art. 80(1)) complains where they live. The foundation's
campaigns are for people in the Netherlands, so the Dutch Autoriteit Persoonsgegevens (:data:`PARTICIPANTS_AUTHORITY`,
``nl-ap`` in ``campaigns/_shared/authorities.yaml``) gets it, whatever the company's lead authority: the AP
passes it on under Art. 56 when another authority leads.

The text goes through flask-babel in the campaign's default language (the lead translates the catalogs).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask_babel import force_locale
from flask_babel import gettext as _

from core.campaigns.companies import Authority, Company
from core.data.models import CompanyRequest
from core.data_requests.deadlines import Deadline, ExtensionOutcome

#: The authority of the participants of the foundation's campaigns (see the module).
PARTICIPANTS_AUTHORITY = "nl-ap"


def complaint_path(instance_dir: Path, request: CompanyRequest) -> Path:
    """Where the draft of ``request``'s complaint is kept: ``complaints/<campaign>/<round>-<company>.md``."""
    return instance_dir / "complaints" / request.campaign / f"{request.round_id}-{request.company}.md"


def channel_words(channel: str | None) -> str:
    """How a request went, as "by ..." says it (in the language forced by the caller)."""
    words = {"email": _("e-mail"), "webform": _("web form"), "letter": _("post"), "fax": _("fax")}
    return words.get(channel or "", channel or "")


def complaint_text(
    request: CompanyRequest,
    due: Deadline,
    company: Company,
    authority: Authority,
    organisation: str,
    organisation_email: str,
    language: str,
    today: dt.date,
) -> str:
    """The complaint about ``request``, in Markdown, in ``language`` (needs an app context)."""
    with force_locale(language):
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
            _("To: %(authority)s", authority=authority.name.get_text(language, "en")),
            "",
            *(f"{line}  " for line in authority.address.splitlines()),  # two spaces: a line break
            "",
            _(
                "From: %(organisation)s (%(email)s), on behalf of %(count)s data subjects who mandated it"
                " (Article 80(1) GDPR)",
                organisation=organisation,
                email=organisation_email,
                count=request.participants,
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
                count=request.participants,
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


def write_complaint(
    instance_dir: Path,
    request: CompanyRequest,
    due: Deadline,
    company: Company,
    authority: Authority,
    organisation: str,
    organisation_email: str,
    language: str,
    today: dt.date,
) -> Path:
    """Write the draft of ``request``'s complaint (:func:`complaint_path`), replacing an older draft; returns its
    path."""
    path = complaint_path(instance_dir, request)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = complaint_text(request, due, company, authority, organisation, organisation_email, language, today)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
