"""The web page's guards: a secret token, a CSRF token, files confined, a loopback address.

The server prints a URL with a random token (as Jupyter does). The first
request that carries it (``?token=...``) is answered with an HttpOnly,
SameSite=Strict cookie holding it and a redirect to the same page without
it; every later request shows the cookie. Every form carries the server's
CSRF token, checked on every POST. Files are served only from inside one
folder, whatever ``..`` or symlinks a path holds.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from allegiance.errors import AllegianceError

COOKIE = "allegiance_token"
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class RefusedError(AllegianceError):
    """A request, a path or an address the server refuses, with what to do instead."""


class NotFoundError(RefusedError):
    """A theatre, question, job or report file the server does not have."""


@dataclass(frozen=True)
class Secrets:
    """The server's token (who may use the page) and CSRF token (which forms it made)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def knows(self, token: str | None) -> bool:
        """Return whether ``token`` is the server's (compared in constant time)."""
        return bool(token) and secrets.compare_digest(str(token), self.token)

    def form_made_here(self, csrf: object) -> bool:
        """Return whether a form's CSRF field is the server's (compared in constant time)."""
        return isinstance(csrf, str) and bool(csrf) and secrets.compare_digest(csrf, self.csrf)


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str, *, host_given: bool = True) -> None:
    """Refuse to listen on an address others can reach unless asked for and guarded.

    Parameters
    ----------
    host : str
        The address to bind.
    token : str
        The server's token ("" for none).
    host_given : bool
        Whether ``host`` was given explicitly (``--host``) rather than by default.

    Raises
    ------
    RefusedError
        For a non-loopback address without ``--host`` or without a token.
    """
    if is_loopback(host):
        return
    if not host_given:
        raise RefusedError(
            f"serve: {host} is reachable from other machines; it is bound only when given "
            "with --host. Fix: leave out the address (127.0.0.1) or pass --host explicitly."
        )
    if not token:
        raise RefusedError(
            f"serve --host {host}: a public address needs a token, and none is set. "
            "Fix: bind 127.0.0.1, or serve with a token."
        )


def confined(folder: Path, path: str) -> Path:
    """Return ``folder / path`` if it is a file inside ``folder``, symlinks resolved.

    Parameters
    ----------
    folder : Path
        The only folder files may come from.
    path : str
        A path relative to it, as requested.

    Raises
    ------
    RefusedError
        For an absolute path, one that leaves ``folder`` (``..``, a symlink
        pointing out), or no such file.
    """
    root = folder.resolve()
    if not path or Path(path).is_absolute() or "\x00" in path:
        raise RefusedError(f"{path!r}: give a path inside the reports' folder.")
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        raise RefusedError(f"{path!r} is outside the reports' folder: it is not served.")
    if not target.is_file():
        raise NotFoundError(f"{path!r}: no such report file.")
    return target
