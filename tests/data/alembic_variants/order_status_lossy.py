"""orders have a status (planted bug: the rebuild copies only the orders with a note)

Revision ID: 7c2a9e05d3b6
Revises: e91f4b6a7c08
"""
from alembic import op

revision = "7c2a9e05d3b6"
down_revision = "e91f4b6a7c08"


def upgrade() -> None:
    op.execute("CREATE TABLE orders_new (id INTEGER NOT NULL PRIMARY KEY, customer_id INTEGER NOT NULL "
               "REFERENCES customers (id), total NUMERIC(10, 2) NOT NULL, note TEXT, "
               "status TEXT DEFAULT 'open' NOT NULL)")
    op.execute("INSERT INTO orders_new (id, customer_id, total, note) "
               "SELECT id, customer_id, total, note FROM orders WHERE note <> ''")
    op.execute("DROP TABLE orders")
    op.execute("ALTER TABLE orders_new RENAME TO orders")
    op.create_index("ix_orders_customer", "orders", ["customer_id"])


def downgrade() -> None:
    pass
