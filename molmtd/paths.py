"""Where molmtd keeps its caches: one per-user folder, outside any checkout.

Teacher embeddings of a 250k-molecule corpus take hours to compute; they must survive a
fresh clone and be shared by every run of the same user. Order of precedence: an explicit
path (recipe ``store.cache_dir`` or a ``--cache-dir`` option), ``$MOLMTD_CACHE_DIR``,
``$XDG_CACHE_HOME/molmtd``, ``~/.cache/molmtd``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir", "resolve_cache_dir"]


def default_cache_dir() -> Path:
    """The per-user cache folder (not created here)."""
    root = os.environ.get("MOLMTD_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "molmtd"


def resolve_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``explicit`` when given (``~`` expanded), else :func:`default_cache_dir`."""
    return Path(explicit).expanduser() if explicit else default_cache_dir()
