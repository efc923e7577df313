"""The write lock of an SQLite ledger, taken in turn by writers that wait for it.

SQLite's own busy handler sleeps longer the longer a writer has waited (up to
100 ms at a time), while a process appending in a loop takes the lock back
within a fraction of a millisecond of releasing it: under contention a
waiting writer seldom finds the lock free, and one waited over 60 s while
others wrote hundreds of times. Here a waiting writer tries again after a
short random pause, and a writer that met others lately, coming back for the
lock at once, first pauses as long, so that every waiting writer gets a
chance at each release (a writer alone pays nothing). A writer is refused
only when nothing else was written for the whole wait (one process kept the
lock), or, however many other writes got through, after :data:`LIMIT_WAITS`
waits.
"""

from __future__ import annotations

import random
import sqlite3
import time

from allegiance.errors import LedgerError

PAUSE_S = (0.0005, 0.003)  # a waiting writer tries again after a random pause in this range
COURTESY_S = PAUSE_S[1]  # a writer back within this of its last write lets waiting ones in first
LATELY_S = 1.0  # ... if it had to wait for the lock itself within this long
LIMIT_WAITS = 5  # however many other writes get through, a writer gives up after 5 waits
_PROGRESS_S = 0.05  # how often a waiting writer checks whether others still write

NOTHING_WRITTEN = "nothing was written."


class WriteLock:
    """How the connections of one ledger take its SQLite write lock (``BEGIN IMMEDIATE``).

    Parameters
    ----------
    name : str
        The ledger, as shown in a refusal.
    wait_s : float
        How long a writer waits while nothing else is written before it is
        refused; the database's busy timeout for the rest of its transaction.
    """

    def __init__(self, name: str, wait_s: float) -> None:
        self.name = name
        self.wait_s = wait_s
        self._released = self._waited = -float("inf")

    def acquire(self, raw: sqlite3.Connection) -> None:
        """Begin a write transaction on ``raw``, waiting in turn for the write lock.

        Raises
        ------
        LedgerError
            If one process held the lock for the whole wait, or other
            processes kept writing for :data:`LIMIT_WAITS` waits.
        """
        now = time.monotonic()
        if now - self._released < COURTESY_S and now - self._waited < LATELY_S:
            time.sleep(COURTESY_S)
        raw.execute("PRAGMA busy_timeout = 0")  # the waiting is done here
        try:
            self._wait(raw)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(self.wait_s * 1000)}")

    def released(self) -> None:
        """Note that a write transaction of this ledger ended."""
        self._released = time.monotonic()

    def _wait(self, raw: sqlite3.Connection) -> None:
        began = checked = progressed = time.monotonic()
        version, tries, writes = _data_version(raw), 0, 0
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            tries += 1
            now = self._waited = time.monotonic()
            # Checked before a refusal too: this process may not have run for a while.
            if now - checked >= _PROGRESS_S or now - progressed >= self.wait_s:
                checked, seen = now, _data_version(raw)
                if version is None:
                    version = seen
                elif seen is not None and seen != version:
                    version, writes, progressed = seen, writes + 1, now
            if now - progressed >= self.wait_s:
                raise self._refusal(
                    f"another process has held the ledger's write lock for the whole "
                    f"{self.wait_s:g} s this command waited for it, writing nothing else",
                    "wait until the other command (or a program holding the file open) is "
                    f"done, then run this again; {NOTHING_WRITTEN}",
                )
            if now - began >= LIMIT_WAITS * self.wait_s:
                raise self._refusal(
                    f"could not get the ledger's write lock in {now - began:.0f} s: other "
                    f"processes kept writing ({writes} or more writes got through while this "
                    f"one waited; {tries} tries)",
                    f"run this again when fewer processes write to the ledger; {NOTHING_WRITTEN}",
                )
            time.sleep(random.uniform(*PAUSE_S))

    def _refusal(self, problem: str, fix: str) -> LedgerError:
        return LedgerError(self.name, problem + ".", fix)


def _data_version(raw: sqlite3.Connection) -> int | None:
    """Return the database's data version (changed by every other connection's commit)."""
    try:
        return int(raw.execute("PRAGMA data_version").fetchone()[0])
    except sqlite3.OperationalError:  # being committed to right now: ask again later
        return None
