"""Login protection helpers: the user name that django-axes and the audit trail record for an attempt."""

USERNAME_MAX = 150  # the longest user name Django's user model holds


def storable_username(raw) -> str | None:
    """A tried user name as the database can store it: no NUL bytes, valid UTF-8, at most 150 characters."""
    if raw is None:
        return None
    text = str(raw).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:USERNAME_MAX]


def axes_username(request, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: a 10,000-character or NUL-laden user name must not make a login a 500."""
    if credentials:
        return storable_username(credentials.get("username"))
    data = getattr(request, "data", None) or getattr(request, "POST", {})
    return storable_username(data.get("username"))
