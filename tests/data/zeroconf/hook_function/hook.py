"""The application's SQL function, as its own connection registers it."""


def _slug(text):
    return "-".join(str(text).lower().split()) if text is not None else None


def register(conn):
    conn.create_function("slug", 1, _slug, deterministic=True)
