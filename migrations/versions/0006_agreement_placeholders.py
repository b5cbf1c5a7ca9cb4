"""agreement placeholders: the values filled into each accepted text, recorded at signing

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:30:00.000000

``accepted_agreements.placeholders`` keeps the campaign's values filled into the text (its name, the organisation,
the target company: not personal data); ``personal_records.sealed_placeholders`` (and a working copy until the
mandate is made) the participant's name and their child's, as filled in. With them a signed text is made again
exactly as signed, whatever later edits of the campaign file change (core.signup.agreements.signed_values).

Texts accepted before this revision get the campaign's values here, as the campaign files hold them at the upgrade
(``"recorded": "upgrade"``): from then on an edit of the campaign file changes nothing for them either. (A text
that no longer matches the campaign file at the upgrade did not match before it: it is flagged as it was.) Their
names were filled in as typed, which the sealed answers hold, so they need nothing more.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _campaigns():  # type: ignore[no-untyped-def]
    """The campaigns of the running app (``flask db upgrade``), else of an app made from the environment."""
    from flask import has_app_context

    from core.site import site
    if has_app_context():
        return site().registry.snapshot.campaigns
    from core import create_app

    with create_app().app_context():
        return site().registry.snapshot.campaigns


def _record_values_of_earlier_signers() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT a.id, s.campaign, a.language FROM accepted_agreements a JOIN signups s ON s.id = a.signup_id "
        "WHERE a.placeholders IS NULL")).all()
    if not rows:
        return
    campaigns = _campaigns()
    update = sa.text("UPDATE accepted_agreements SET placeholders = :placeholders WHERE id = :id")
    for accepted_id, slug, language in rows:
        loaded = campaigns.get(slug)
        if loaded is None:  # no longer served: its texts are checked against today's values, as before
            continue
        c = loaded.campaign
        values = {"campaign": c.text(c.name, language), "organisation": c.organisation.name,
                  "target_company": c.target_company}
        bind.execute(update, {"id": accepted_id, "placeholders": json.dumps(
            {"recorded": "upgrade", "values": values}, ensure_ascii=False, sort_keys=True)})


def upgrade() -> None:
    with op.batch_alter_table('accepted_agreements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placeholders', sa.Text(), nullable=True))
    with op.batch_alter_table('personal_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_placeholders', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('working_placeholders', sa.LargeBinary(), nullable=True))
    _record_values_of_earlier_signers()


def downgrade() -> None:
    if op.get_bind().execute(sa.text(
            "SELECT 1 FROM personal_records WHERE sealed_placeholders IS NOT NULL LIMIT 1")).first() is not None:
        raise RuntimeError("agreement texts were signed with recorded names: revision 0005 cannot keep them, and "
                           "without them those texts can no longer be checked. Export the evidence first.")
    with op.batch_alter_table('personal_records', schema=None) as batch_op:
        batch_op.drop_column('working_placeholders')
        batch_op.drop_column('sealed_placeholders')
    with op.batch_alter_table('accepted_agreements', schema=None) as batch_op:
        batch_op.drop_column('placeholders')
