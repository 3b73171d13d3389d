"""customers

Revision ID: 3f1c0a9d2b10
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "3f1c0a9d2b10"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("customers")
