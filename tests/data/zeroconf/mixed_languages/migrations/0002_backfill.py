"""A data migration written in Python: the sqlfiles adapter cannot run it."""


def upgrade(conn):
    conn.execute("UPDATE notes SET body = trim(body)")
