"""Who records an item: the name given, or the operating-system user."""

from __future__ import annotations

import getpass

UNKNOWN = "unknown"  # the author when the operating system names no user


def os_user() -> str:
    """Return the operating-system user's login name, or ``"unknown"``.

    Returns
    -------
    str
        From ``getpass.getuser`` (the ``LOGNAME``, ``USER``, ``LNAME`` or
        ``USERNAME`` variable, then the password database); ``"unknown"`` when
        none names a user, e.g. in a container running an unnamed uid.
    """
    try:
        name = getpass.getuser().strip()
    except (OSError, KeyError, ImportError):  # no variable and no password entry
        return UNKNOWN
    return name or UNKNOWN


def author_of(given: str | None) -> str:
    """Return the author to record: ``given`` if it says something, else :func:`os_user`.

    Parameters
    ----------
    given : str or None
        The ``--author`` given on the command line, if any.

    Returns
    -------
    str
        The name, stripped.
    """
    if given is not None and given.strip():
        return given.strip()
    return os_user()
