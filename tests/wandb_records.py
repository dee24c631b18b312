"""Read W&B offline run files (`run-*.wandb`) back in tests.

wandb 0.31 writes no config.yaml or summary JSON offline and ships no public reader. The file is a LevelDB-style
log: a 7-byte header (`:W&B`, magic, version), then 32 KiB blocks of records, each with a 7-byte header (CRC32,
length, type: 1 full, 2 first, 3 middle, 4 last) holding a protobuf `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


@dataclass
class OfflineRun:
    """What a run recorded: its identity, config, summary and every logged history row."""

    run_id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def _payloads(data: bytes) -> list[bytes]:
    assert data[:4] == b":W&B", "not a W&B run file"
    position, payloads, pending = HEADER, [], b""
    while position + HEADER <= len(data):
        left = BLOCK - position % BLOCK
        if left < HEADER:  # the tail of a block too short for a header is padding
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        position += HEADER
        chunk = data[position : position + length]
        position += length
        if kind == 1:
            payloads.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            payloads.append(pending + chunk)
    return payloads


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def read_offline_run(path: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2

    run = OfflineRun()
    for payload in _payloads(Path(path).read_bytes()):
        record = wandb_internal_pb2.Record.FromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":  # later run records update only the fields they set
            run.run_id = record.run.run_id or run.run_id
            run.name = record.run.display_name or run.name
            run.group = record.run.run_group or run.group
            run.job_type = record.run.job_type or run.job_type
            run.config.update({_key(i): json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
    return run


def offline_runs(folder: Path) -> dict[str, OfflineRun]:
    """Every offline run under a W&B dir, by display name."""
    paths = sorted(Path(folder).glob("offline-run-*/run-*.wandb"))  # not `latest-run`, a link to one of them
    runs = [read_offline_run(path) for path in paths]
    return {run.name: run for run in runs}
