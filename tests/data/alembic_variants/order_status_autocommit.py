"""orders have a status (planted bug: the statements commit one by one)

Revision ID: 7c2a9e05d3b6
Revises: e91f4b6a7c08
"""
import sqlalchemy as sa
from alembic import op

revision = "7c2a9e05d3b6"
down_revision = "e91f4b6a7c08"


def upgrade() -> None:
    with op.get_context().autocommit_block():  # each statement commits on its own
        op.add_column("orders", sa.Column("status", sa.Text, nullable=False, server_default="open"))
        op.create_index("ix_orders_status", "orders", ["status"])


def downgrade() -> None:
    pass
