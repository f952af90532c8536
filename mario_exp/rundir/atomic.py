"""Write a file so that a reader, or a crash, sees either the old content or the new, never half."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write` on a temporary file beside `path`, fsync it, then rename it over `path`.

    If writing fails (a full disk, an exception), `path` keeps its previous content and the
    temporary file is removed. An OSError that names no file (a buffered write failing only
    when the handle is flushed or closed) is raised again naming `path`, so that the one-line
    error can say which file could not be written.
    """
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
        commit(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temp_path(path: Path) -> Path:
    """Where a new version of `path` is written before `commit` renames it into place (for
    writers that need a file name rather than a handle, such as an external encoder)."""
    return path.with_name(f".{path.name}.tmp")


def commit(tmp: Path, path: Path) -> None:
    """fsync the finished `tmp` and rename it over `path`."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    # The rename is durable only once the folder's entry is on disk too.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
