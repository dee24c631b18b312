"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o644
"""mkstemp creates files readable by their owner only; outputs are meant to be shared."""


def write_atomically(target: Path, write: Callable[[str], object]) -> Path:
    """Call `write(temp_path)` on a temp file in `target`'s folder, then rename it onto `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    os.close(handle)
    try:
        write(temp)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return target


def write_text_atomically(target: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically."""
    return write_atomically(target, lambda path: Path(path).write_text(text, encoding="utf-8"))
