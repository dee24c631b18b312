"""Folders built once and shared by every trial and run: base models and tokenized data, under content-hash keys.

A folder is built under a file lock, so concurrent trials (or sweeps) wait for one build instead of racing, in a
staging folder beside its target, then renamed onto it: it appears whole or not at all, so a crash never leaves
half a model, and "the folder exists" means "the folder is complete". On a multi-node Ray cluster point the cache
(`$RATIO_SWEEPER_CACHE`, default `~/.cache/ratio-sweeper`) at a filesystem every node can read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

FOLDER_MODE = 0o755
"""mkdtemp's 0700 would hide a shared cache from the other users of a cluster."""


def cache_root() -> Path:
    return Path(os.environ.get("RATIO_SWEEPER_CACHE", "~/.cache/ratio-sweeper")).expanduser()


def build_once(target: Path, build: Callable[[Path], object]) -> Path:
    """`target`, built by `build(staging_folder)` unless it exists (once, even across processes)."""
    target = Path(target)
    if target.is_dir():  # complete by construction: it only ever appears through os.replace
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_dir():  # another process built it while this one waited
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        staging.chmod(FOLDER_MODE)
        try:
            build(staging)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
