"""the open-lead count per rep reads only an index

Revision ID: a1e7c0de0004
Revises: a1e7c0de0003
Create Date: 2026-11-25 05:30:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "a1e7c0de0004"
down_revision: str | Sequence[str] | None = "a1e7c0de0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_leads_rep_id_status_first_attempt_at",
        "leads",
        ["rep_id", "status", "first_attempt_at"],
    )
    op.drop_index("ix_leads_rep_id_status", table_name="leads")


def downgrade() -> None:
    op.create_index("ix_leads_rep_id_status", "leads", ["rep_id", "status"])
    op.drop_index("ix_leads_rep_id_status_first_attempt_at", table_name="leads")
