"""Crash- and concurrency-safe file writing: unique temporary names, atomic rename, locks.

Every cache and artifact file molmtd writes goes through :func:`atomic_write`: the data
is written to a temporary file whose name is unique per process and call
(``.<name>.<pid>.<random>.tmp``), flushed to disk, then renamed over the final name
(``os.replace``). A reader therefore sees either the old file or the whole new one,
never half of one, whatever happens to the writer (``kill -9``, a full disk). Two
processes never share a temporary name.

:func:`directory_lock` serialises builders of one cache directory (an embedding store,
the graph store, a corpus) across processes with an advisory lock on ``<dir>/.lock``
(the ``filelock`` package, ``fcntl.flock`` on POSIX): the second process waits, then
finds the finished work and reuses it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from molmtd.errors import DiskFullError

__all__ = ["atomic_write", "atomic_write_text", "temporary_name", "directory_lock",
           "remove_stale_temporaries", "TMP_SUFFIX", "LOCK_NAME"]

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
LOCK_NAME = ".lock"
# below this much free space, a write error without errno is taken as a full disk
_NEARLY_FULL_BYTES = 1 << 20


def temporary_name(final: str | Path) -> Path:
    """A temporary path beside ``final``, unique to this process and call."""
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _short_write_on_full_disk(err: OSError, final: Path) -> bool:
    """A write error without errno on a file system that is (nearly) out of space.

    numpy's ``ndarray.tofile`` (used by ``np.save``) reports a short write as
    ``OSError("40960 requested and 40928 written")`` with no errno, so a full disk is
    recognised by the space left where the file was being written.
    """
    if err.errno is not None:
        return False
    try:
        stats = os.statvfs(final.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES


def atomic_write(final: str | Path, write: Callable[[Path], object], *,
                 fsync: bool = True) -> Path:
    """Create ``final`` by ``write(tmp)`` on a unique temporary path, then rename.

    Args:
        final: the path to create or replace.
        write: called with the temporary path; must write the whole file there.
        fsync: flush the file to disk before the rename makes it visible.

    Returns:
        ``final``.

    Raises:
        DiskFullError: the file system is full (nothing is left behind: the temporary
            file is removed and ``final`` is untouched).
        OSError: any other write error (the temporary file is removed as well).
    """
    final = Path(final)
    tmp = temporary_name(final)
    try:
        write(tmp)
        if fsync:
            _fsync(tmp)
        os.replace(tmp, final)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT) or _short_write_on_full_disk(err, final):
            raise DiskFullError(
                errno.ENOSPC, f"no space left on the device while writing {final} "
                f"({err.strerror or err}); free some space, or point the cache "
                "(store.cache_dir / $MOLMTD_CACHE_DIR) or --out at a larger disk, then run "
                "again: finished work is kept", str(final)) from err
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return final


def atomic_write_text(final: str | Path, text: str, *, fsync: bool = True) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(final, lambda p: Path(p).write_text(text, encoding="utf-8"),
                        fsync=fsync)


def remove_stale_temporaries(directory: str | Path) -> int:
    """Delete temporary files left in ``directory`` by killed writers; returns how many.

    Call it only while holding :func:`directory_lock` on ``directory``: a live writer of
    that directory holds the lock too, so every temporary file found is stale.
    """
    n = 0
    for tmp in Path(directory).glob(f"*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            n += 1
    return n


@contextlib.contextmanager
def directory_lock(directory: str | Path, what: str = "") -> Iterator[None]:
    """Hold an exclusive inter-process lock on ``directory`` (created if missing).

    The lock is advisory: every molmtd builder of that directory takes it. A process
    that has to wait logs it once. The lock is released when the block ends or the
    process dies (the kernel drops it with the file descriptor).
    """
    from filelock import FileLock, Timeout

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory / LOCK_NAME), is_singleton=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another process building %s (%s)", what or "this cache",
                 directory)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
