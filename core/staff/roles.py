"""Who may do what on the staff console: the role of an account, the campaigns it sees and its rights.

- An **admin** sees every campaign and may do everything: exports (they take personal data out), identity
  documents (where a campaign keeps them), the audit log (what every account did). Accounts themselves are made
  and changed with ``flask staff`` on a staff machine only, never on the web.
- A **staff** account sees only its campaigns (a list, or all), with one of two rights: ``view`` (figures, mail,
  previews, finding a sign-up by address) or ``support`` (also: mailing a sign-up a new verification code or a
  login link to its participant's page, and uploading a company's answer into its participant's vault).

The console checks these on the server for every request, before it reads or changes anything
(:mod:`core.staff.views`): a campaign the account does not see, or an action it may not take, is answered with 403
however the request was made. The pages leave out what the account may not use only to be clear; hiding a button
protects nothing. Lists across campaigns (the overview, its chart, the mail) count only the account's campaigns.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.data.models import StaffCampaign, StaffMember


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"


class Rights(StrEnum):
    VIEW = "view"
    SUPPORT = "support"  # may also mail a sign-up a new code or a login link


class Permission(StrEnum):
    """What an account may do beyond seeing its campaigns' pages."""

    SUPPORT = "support"  # mail a sign-up a new code or a login link to /my; upload into its participant's vault
    EXPORT = "export"  # admins only: participants and evidence packages hold personal data
    IDENTITY_DOCUMENTS = "identity-documents"  # admins only: any page that shows an identity document must ask
    AUDIT_LOG = "audit-log"  # admins only: it shows what every account did, on every campaign


ALL_CAMPAIGNS = "all"
_SLUG_SEPARATORS = re.compile(r"[\s,]+")


class AccessError(ValueError):
    """A role, campaign list or right that cannot be given; the message says what to give instead."""


@dataclass(frozen=True)
class Access:
    """What one account may see and do, read from its row at each request (a change applies at the next one)."""

    role: Role
    rights: Rights
    campaigns: frozenset[str] | None  # None: every campaign, including sign-ups of a campaign whose file is gone

    @classmethod
    def of(cls, staff: StaffMember) -> Access:
        if staff.role == Role.ADMIN:
            return cls(Role.ADMIN, Rights.SUPPORT, None)
        # Anything but a known right is the lesser one: an unreadable row never grants more.
        rights = Rights.SUPPORT if staff.rights == Rights.SUPPORT else Rights.VIEW
        campaigns = None if staff.all_campaigns else frozenset(link.campaign for link in staff.campaigns)
        return cls(Role.STAFF, rights, campaigns)

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN

    def sees(self, campaign: str | None) -> bool:
        """May the account see ``campaign``? Work of no campaign (``None``) only an account that sees all of them."""
        if self.campaigns is None:
            return True
        return campaign is not None and campaign in self.campaigns

    def visible(self, campaigns: Iterable[str]) -> list[str]:
        """Those of ``campaigns`` the account sees, sorted."""
        return sorted(slug for slug in campaigns if self.sees(slug))

    def may(self, permission: Permission) -> bool:
        if self.admin:
            return True
        return permission is Permission.SUPPORT and self.rights is Rights.SUPPORT

    def describe(self) -> str:
        """One line for ``flask staff list`` and the console's header: ``admin``, ``staff (view): a, b``."""
        if self.admin:
            return Role.ADMIN.value
        shown = "all campaigns" if self.campaigns is None else (", ".join(sorted(self.campaigns)) or "no campaigns")
        return f"{Role.STAFF.value} ({self.rights.value}): {shown}"


def parse_campaigns(text: str) -> list[str] | None:
    """``all`` (every campaign: None) or slugs separated by commas or spaces."""
    slugs = [slug for slug in _SLUG_SEPARATORS.split(text.strip().lower()) if slug]
    if slugs == [ALL_CAMPAIGNS]:
        return None
    if ALL_CAMPAIGNS in slugs:
        raise AccessError(f"give either '{ALL_CAMPAIGNS}' or campaign slugs, not both")
    return slugs


def check_campaigns(role: Role, campaigns: list[str] | None, known: Collection[str]) -> None:
    """Raise :class:`AccessError` unless ``campaigns`` (None: all) can be given to an account of ``role``."""
    if role is Role.ADMIN:
        if campaigns is not None:
            raise AccessError("an admin sees every campaign: leave the campaigns out, or make the account staff")
        return
    if campaigns is None:
        return
    if not campaigns:
        raise AccessError(f"give the campaigns this account may see (slugs, or '{ALL_CAMPAIGNS}')")
    unknown = sorted(set(campaigns) - set(known))
    if unknown:
        raise AccessError(f"no campaign is called {', '.join(unknown)}; the campaigns are: {', '.join(sorted(known))}")


def set_access(
    staff: StaffMember,
    role: Role,
    campaigns: list[str] | None = None,
    rights: Rights = Rights.VIEW,
    known: Collection[str] = (),
) -> None:
    """Give ``staff`` ``role``; for ``staff`` also its ``campaigns`` (None: all of them; each one of ``known``)
    and ``rights``. The caller commits. An admin gets no campaign list or rights of its own: it has them all, and
    a list would only suggest a limit that does not exist."""
    check_campaigns(role, campaigns if role is Role.STAFF else None, known)
    if role is Role.ADMIN:
        staff.role, staff.rights, staff.all_campaigns = Role.ADMIN.value, Rights.SUPPORT.value, True
        staff.campaigns = []
        return
    staff.role, staff.rights, staff.all_campaigns = Role.STAFF.value, rights.value, campaigns is None
    wanted = sorted(set(campaigns or ()))
    kept = [link for link in staff.campaigns if link.campaign in wanted]
    have = {link.campaign for link in kept}
    staff.campaigns = kept + [StaffCampaign(campaign=slug) for slug in wanted if slug not in have]
