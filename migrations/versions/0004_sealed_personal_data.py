"""sealed personal data: a sealed copy for the foundation, a working copy for the flow, the participant's copy

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:40:00.000000

Rows written before this revision held the answers, signature and mandate in the clear: they are sealed here, with
the keys of the app running the migration (``flask db upgrade``), or of the settings in the environment.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

NEW_COLUMNS = ('sealed_answers', 'sealed_signature', 'sealed_mandate', 'working_answers', 'working_signature',
               'participant_mandate')


def _keys():  # type: ignore[no-untyped-def]
    """(public sealing key, working box, hash key) of the running app, else from the environment's settings."""
    from flask import has_app_context

    from core.sealing import WorkingBox
    if has_app_context():
        from core.site import site

        return site().sealing_key, site().working_box, site().hash_key
    from core.settings import load_settings

    settings = load_settings()
    hash_key = settings.resolved_hash_key()
    return settings.resolved_sealing_key(), WorkingBox(hash_key), hash_key


def _seal_existing_rows() -> None:
    from nacl.secret import SecretBox

    from core.data.hashing import keyed_hash, normalise_email

    def lock_for_participant(key: bytes, plaintext: bytes) -> bytes:
        # The participant's copy as it was then (a key derived from the address): revision 0020a replaces it.
        return b"CSW1" + SecretBox(key).encrypt(plaintext)

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.signup_id, p.data, p.pending, p.signature_png, p.mandate_pdf, s.confirmed_at, s.withdrawn_at "
        "FROM personal_records p JOIN signups s ON s.id = p.signup_id")).all()
    if not rows:
        return
    sealing, working, hash_key = _keys()
    update = sa.text("UPDATE personal_records SET sealed_answers = :sealed_answers, "
                     "sealed_signature = :sealed_signature, sealed_mandate = :sealed_mandate, "
                     "working_answers = :working_answers, working_signature = :working_signature, "
                     "pending = :pending, participant_mandate = :participant_mandate WHERE signup_id = :id")
    for signup_id, data, pending, signature, mandate, confirmed_at, withdrawn_at in rows:
        data, pending = bytes(data), None if pending is None else bytes(pending)
        signature, mandate = (None if value is None else bytes(value) for value in (signature, mandate))
        running = confirmed_at is None and withdrawn_at is None
        address = json.loads(data.decode()).get("email")
        copy_key = bytes.fromhex(keyed_hash(hash_key, "mandate-copy", normalise_email(address))) if address else None
        bind.execute(update, {
            "id": signup_id, "sealed_answers": sealing.seal(data),
            "sealed_signature": None if signature is None else sealing.seal(signature),
            "sealed_mandate": None if mandate is None else sealing.seal(mandate),
            "working_answers": working.lock(data) if running else None,
            "working_signature": working.lock(signature) if running and signature is not None else None,
            "pending": working.lock(pending) if running and pending is not None else None,
            "participant_mandate": lock_for_participant(copy_key, mandate) if mandate and copy_key else None,
        })


def upgrade() -> None:
    with op.batch_alter_table('personal_records', schema=None) as batch_op:
        for name in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.LargeBinary(), nullable=True))
    _seal_existing_rows()
    with op.batch_alter_table('personal_records', schema=None) as batch_op:
        batch_op.drop_column('data')
        batch_op.drop_column('signature_png')
        batch_op.drop_column('mandate_pdf')
        batch_op.alter_column('sealed_answers', existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT 1 FROM personal_records LIMIT 1")).first() is not None:
        raise RuntimeError("personal data is sealed now and the web server cannot open it: revision 0003 kept it "
                           "in the clear, so going back would lose it. Export it with the private key first.")
    with op.batch_alter_table('personal_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data', sa.LargeBinary(), nullable=False))
        batch_op.add_column(sa.Column('signature_png', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('mandate_pdf', sa.LargeBinary(), nullable=True))
        for name in NEW_COLUMNS:
            batch_op.drop_column(name)
