"""The contact copy: the one readable copy of a participant's e-mail address kept after the join flow.

The join flow's answers are sealed to the foundation (the web server can write them but never read them back), and
its working copies are released once the confirmation mail is composed. Mail that comes later (an invitation when a
pre-registered campaign opens, a withdrawal's confirmation, notices) still needs the address: this module keeps it,
and only it.

- **The address alone**, nothing else of the answers, one row per sign-up (``contacts``).
- **Kept once verified**: written when the visitor proves the address is theirs (:func:`core.signup.flow.verify`),
  never for an address nobody has verified.
- **Locked under a key of its own**, ``CLAIMSITE_CONTACT_KEY`` (:class:`core.sealing.ContactBox`): a copy of the
  database, or the hash key that opens the flow's working copies, does not open it.
- **Removed** on erasure (:func:`core.signup.withdrawal.erase`), with a sign-up that retention deletes (ON DELETE
  CASCADE), and once a withdrawal's confirmation mail is composed: after that nothing more is mailed.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.data.db import dialect_insert, utcnow
from core.data.models import Contact, Signup
from core.sealing import SealingError
from core.site import site


def keep_contact(session: Session, signup: Signup, address: str) -> None:
    """Keep (or replace) the contact copy of ``signup``'s verified ``address``."""
    locked = site().contact_box.lock(address.encode())
    statement = dialect_insert(session.get_bind().dialect.name, Contact.__table__).values(
        signup_id=signup.id, locked_address=locked, kept_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["signup_id"],
            set_={"locked_address": statement.excluded.locked_address, "kept_at": statement.excluded.kept_at},
        )
    )


def contact_address(session: Session, signup: Signup) -> str | None:
    """The address to mail ``signup`` at, or None: none was kept (erased, withdrawn, or signed before contact copies
    existed), or it was locked under another contact key (which the log of the caller should report, not guess)."""
    contact = session.get(Contact, signup.id, populate_existing=True)  # keep_contact writes past the session
    if contact is None:
        return None
    try:
        return site().contact_box.unlock(contact.locked_address).decode()
    except SealingError:
        return None


def forget_contact(session: Session, signup: Signup) -> None:
    """Remove ``signup``'s contact copy (there may be none)."""
    session.execute(delete(Contact).where(Contact.signup_id == signup.id))
