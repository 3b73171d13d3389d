"""trimmed notes and indexes for the order list

Revision ID: e91f4b6a7c08
Revises: 0b9d5e7c3a21
"""
from alembic import op

revision = "e91f4b6a7c08"
down_revision = "0b9d5e7c3a21"


def upgrade() -> None:
    op.execute("UPDATE orders SET note = trim(note) WHERE note IS NOT NULL")
    op.create_index("ix_orders_customer", "orders", ["customer_id"])
    op.create_index("ix_customers_email", "customers", ["email"])


def downgrade() -> None:
    op.drop_index("ix_customers_email", "customers")
    op.drop_index("ix_orders_customer", "orders")
