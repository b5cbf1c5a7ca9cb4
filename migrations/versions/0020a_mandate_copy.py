"""the participant's copy of the mandate: a vault file for a one-off key, out of the server's reach (issue 21)

Revision ID: 0020a_mandate_copy
Revises: 0019
Create Date: 2026-12-03 22:00:00.000000

Until this revision the participant's copy (``participant_mandate``) was locked with a key derived from their
address and the hash key, so whoever held the database and the hash key opened it from a guessed address. From now
on it is a vault file for a key pair made for that copy (core.signup.mandate_copy), its private key kept in the
working copy (``working_mandate_key``) only until the confirmation mail carries it. The copies in the old form:

- of a sign-up whose working copy is still kept (the mandate made, the confirmation mail not composed yet: a
  payment awaited, say), the copy is opened with the old key, from the address in the working copy, and encrypted
  again in the new form, so that its confirmation mail attaches it and links it as any;
- every other one is dropped (NULL): its confirmation mail went out with the PDF attached, and the link in that
  mail now leads to a page that says so. These are exactly the copies an outside test opened.

Going back drops the new column only: the code of revision 0019 cannot open copies in the new form (its mandate
links answer 404), and one of its confirmation mails not yet composed then goes without the PDF.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020a_mandate_copy"
down_revision = "0019"
branch_labels = None
depends_on = None

NEW_FORM = b"CLVAULT1"  # core/vault/FORMAT.md
OLD_FORM = b"CSW1"  # the secretbox of revision 0004


def _hash_key() -> str:
    """The hash key of the running app (``flask db upgrade``), else of the environment's settings."""
    from flask import has_app_context

    if has_app_context():
        from core.site import site

        return site().hash_key
    from core.settings import load_settings

    return load_settings().resolved_hash_key()


def _in_new_form(old: bytes, working_answers: bytes | None, hash_key: str) -> tuple[bytes, bytes] | None:
    """(the copy in the new form, its one-off key locked in the working copy) for a copy in the old form whose
    working copy is still there; None when there is none or it does not open the copy."""
    import json

    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    from core.data.hashing import keyed_hash, normalise_email
    from core.sealing import SealingError, WorkingBox
    from core.signup.mandate_copy import encrypt_copy

    if working_answers is None or not old.startswith(OLD_FORM):
        return None
    working = WorkingBox(hash_key)
    try:
        address = json.loads(working.unlock(working_answers).decode()).get("email")
        if not address:
            return None
        key = bytes.fromhex(keyed_hash(hash_key, "mandate-copy", normalise_email(address)))
        pdf = SecretBox(key).decrypt(old[len(OLD_FORM) :])
    except (SealingError, CryptoError, ValueError):
        return None
    copy = encrypt_copy(pdf)
    return copy.ciphertext, working.lock(copy.private_key)


def upgrade() -> None:
    with op.batch_alter_table("personal_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("working_mandate_key", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    # The first bytes of each copy tell its form; the copies themselves are read one at a time.
    heads = bind.execute(
        sa.text(
            "SELECT signup_id, substr(participant_mandate, 1, 8) FROM personal_records "
            "WHERE participant_mandate IS NOT NULL ORDER BY signup_id"
        )
    ).all()
    old = [signup_id for signup_id, head in heads if not bytes(head).startswith(NEW_FORM)]
    hash_key = None
    for signup_id in old:
        copy, working = bind.execute(
            sa.text("SELECT participant_mandate, working_answers FROM personal_records WHERE signup_id = :id"),
            {"id": signup_id},
        ).one()
        converted = None
        if working is not None:
            hash_key = hash_key or _hash_key()
            converted = _in_new_form(bytes(copy), bytes(working), hash_key)
        bind.execute(
            sa.text(
                "UPDATE personal_records SET participant_mandate = :copy, working_mandate_key = :key "
                "WHERE signup_id = :id"
            ),
            {"id": signup_id, "copy": converted[0] if converted else None, "key": converted[1] if converted else None},
        )


def downgrade() -> None:
    with op.batch_alter_table("personal_records", schema=None) as batch_op:
        batch_op.drop_column("working_mandate_key")
