"""orders have a status

Revision ID: 7c2a9e05d3b6
Revises: e91f4b6a7c08
"""
import sqlalchemy as sa
from alembic import op

revision = "7c2a9e05d3b6"
down_revision = "e91f4b6a7c08"


def upgrade() -> None:
    op.add_column("orders", sa.Column("status", sa.Text, nullable=False, server_default="open"))


def downgrade() -> None:
    op.drop_column("orders", "status")
