"""alembic environment: SQLite with a real transaction per revision.

pysqlite's default lets DDL commit on its own; the two listeners below make SQLAlchemy's
BEGIN the transaction, so a revision and its alembic_version update commit together.
"""

from alembic import context
from sqlalchemy import create_engine, event, pool

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run_migrations_offline() -> None:
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"},
                      transactional_ddl=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN")

    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
