"""data keys and erasure audit (crypto-shredding of personal data)

Revision ID: a1e7c0de0003
Revises: edcab6b0a60a
Create Date: 2026-11-25 02:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a1e7c0de0003'
down_revision: Union[str, Sequence[str], None] = 'edcab6b0a60a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('pii_keys',
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('kid', sa.String(length=32), nullable=True),
    sa.Column('key', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shredded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_pii_keys'))
    )
    op.create_table('erasures',
    sa.Column('erasure_id', sa.String(length=36), nullable=False),
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('erasure_id', 'lead_id', name=op.f('pk_erasures'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('erasures')
    op.drop_table('pii_keys')

