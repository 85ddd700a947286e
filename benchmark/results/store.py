"""The results store: one JSON record per run, written atomically, finished runs skipped on rerun.

Layout under the results directory::

    <results>/runs/<experiment>[/<variant>]/seed<k>/result.json   # the record (format version RESULT_FORMAT)
    <results>/runs/<...>/seed<k>/checkpoints/last.ckpt              # resumable pretraining state
    <results>/report.{md,csv,html}                                   # written by `bench report`
    <results>/.lock                                                  # held while `bench run` writes here

A record is written with write-to-temp + fsync + ``os.replace`` (:mod:`benchmark.atomic`), so a reader sees
either the old file or the whole new one, never a partial file. Run paths come only from validated ids and are
checked to stay inside the results directory.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmark.atomic import atomic_write_text
from benchmark.errors import ResultsError
from benchmark.results.record import RunRecord
from benchmark.suite.hashing import computation_hash as run_computation_hash

RESULT_FORMAT = 1
RECORD_NAME = "result.json"


@dataclass
class ResultsStore:
    """Reads and writes run records under ``root``."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def run_dir(self, run_path: str) -> Path:
        """Directory of a run; refuses paths that would leave the results directory."""
        base = self.root.resolve()
        target = (base / "runs" / run_path).resolve()
        if base not in target.parents:
            raise ResultsError(
                f"run path '{run_path}' escapes the results directory {base}",
                hint="experiment ids and grid labels may not contain '..' or absolute paths",
            )
        return target

    def record_path(self, run_path: str) -> Path:
        return self.run_dir(run_path) / RECORD_NAME

    def load(self, run_path: str) -> RunRecord | None:
        """The record of a run, or None if absent. A corrupt record is reported, never silently reused."""
        path = self.record_path(run_path)
        if not path.exists():
            return None
        return read_record(path)

    def is_done(self, run_path: str, config_hash: str, computation_hash: str | None = None) -> bool:
        """True when a finished record of the same run exists (failed runs are retried).

        Same run = same config hash, or, when ``computation_hash`` is given, the same computation hash of the
        record's stored config (:func:`benchmark.suite.hashing.computation_hash`): a suite edit that only touches
        titles, references or notes does not send finished runs back to training.
        """
        rec = self.load(run_path)
        if rec is None or rec.status != "ok":
            return False
        if rec.config_hash == config_hash:
            return True
        if computation_hash is None or rec.config is None:
            return False
        return run_computation_hash(rec.config) == computation_hash

    def write(self, run_path: str, record: RunRecord | Mapping[str, Any]) -> Path:
        """Write ``record`` as the run's ``result.json``; a mapping is validated first (an invalid record is a
        ResultsError naming the field, and the file on disk is left as it was)."""
        path = self.record_path(run_path)
        if not isinstance(record, RunRecord):
            try:
                record = RunRecord.model_validate(record)
            except ValidationError as exc:
                raise ResultsError(f"invalid result record for {run_path}: {validation_text(exc)}", path=str(path),
                                   hint="a bug in the code that made the record; nothing was written") from exc
        data = {"format": RESULT_FORMAT, **record.model_dump(mode="python", exclude_unset=True)}
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")
        return path

    def records(self) -> Iterator[RunRecord]:
        """Every record under ``root/runs`` (sorted by path)."""
        runs = self.root / "runs"
        if not runs.exists():
            return
        for path in sorted(runs.rglob(RECORD_NAME)):
            yield read_record(path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock on the results directory (``fcntl.flock``), so two runs cannot interleave writes."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / ".lock", "a+")  # noqa: SIM115
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise ResultsError(
                    f"results directory {self.root} is in use by {holder}",
                    hint="wait for the other `bench run` to finish, or use another --results-dir",
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()


def validation_text(exc: ValidationError, limit: int = 3) -> str:
    """The first ``limit`` errors of a validation as ``field.path: message (got value)``."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(x) for x in err["loc"]) or "record"
        got = repr(err.get("input"))
        parts.append(f"{where}: {err['msg']} (got {got if len(got) <= 60 else got[:57] + '...'})")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def read_record(path: Path) -> RunRecord:
    """Parse and validate one record; a corrupt, invalid or future-format file is a ResultsError naming the file."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(
            f"corrupt result record ({exc})", path=str(path), hint="delete it; the run is redone on the next `bench run`"
        ) from None
    if not isinstance(rec, dict) or rec.get("format", 0) > RESULT_FORMAT:
        raise ResultsError(
            f"result record format {rec.get('format') if isinstance(rec, dict) else '?'} is newer than this "
            f"version understands ({RESULT_FORMAT})",
            path=str(path),
            hint="upgrade ssl-repro-bench",
        )
    try:
        return RunRecord.model_validate(rec)
    except ValidationError as exc:
        raise ResultsError(f"invalid result record: {validation_text(exc)}", path=str(path),
                           hint="delete it; the run is redone on the next `bench run`") from None


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
