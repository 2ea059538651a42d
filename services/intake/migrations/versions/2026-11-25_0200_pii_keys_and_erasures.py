"""data keys and erasure audit (crypto-shredding of personal data)

Revision ID: a1e7c0de0001
Revises: 174010a58975
Create Date: 2026-11-25 02:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a1e7c0de0001'
down_revision: Union[str, Sequence[str], None] = '174010a58975'
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
    sa.Column('scope', sa.String(length=8), nullable=False, comment='lead (by id) or email'),
    sa.Column('lead_count', sa.Integer(), nullable=False),
    sa.Column('requested_by_key_id', sa.String(length=64), nullable=False),
    sa.Column('requested_by_name', sa.String(length=200), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True, comment="intake's own part"),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True, comment='every service'),
    sa.PrimaryKeyConstraint('erasure_id', name=op.f('pk_erasures'))
    )
    op.create_table('erasure_leads',
    sa.Column('erasure_id', sa.String(length=36), nullable=False),
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True, comment='handoff, the last service, published lead.erased'),
    sa.PrimaryKeyConstraint('erasure_id', 'lead_id', name=op.f('pk_erasure_leads'))
    )
    with op.batch_alter_table('erasure_leads', schema=None) as batch_op:
        batch_op.create_index('ix_erasure_leads_lead_id', ['lead_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('erasure_leads', schema=None) as batch_op:
        batch_op.drop_index('ix_erasure_leads_lead_id')
    op.drop_table('erasure_leads')
    op.drop_table('erasures')
    op.drop_table('pii_keys')

