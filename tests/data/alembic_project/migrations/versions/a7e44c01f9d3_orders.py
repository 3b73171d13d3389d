"""orders

Revision ID: a7e44c01f9d3
Revises: 3f1c0a9d2b10
"""
import sqlalchemy as sa
from alembic import op

revision = "a7e44c01f9d3"
down_revision = "3f1c0a9d2b10"


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("note", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("orders")
