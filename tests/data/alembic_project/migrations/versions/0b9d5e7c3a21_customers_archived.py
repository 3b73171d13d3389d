"""customers get an archived flag; email becomes required

Revision ID: 0b9d5e7c3a21
Revises: a7e44c01f9d3
"""
import sqlalchemy as sa
from alembic import op

revision = "0b9d5e7c3a21"
down_revision = "a7e44c01f9d3"

# the table as the previous revision left it: batch mode copies from it (and can be rendered with --sql)
customers = sa.Table(
    "customers", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text),
)


def upgrade() -> None:
    op.execute("UPDATE customers SET email = '' WHERE email IS NULL")
    with op.batch_alter_table("customers", copy_from=customers) as batch:  # SQLite: a move-and-copy rebuild
        batch.add_column(sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.alter_column("email", existing_type=sa.Text, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("email", existing_type=sa.Text, nullable=True)
        batch.drop_column("archived")
