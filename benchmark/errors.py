"""One user-error family, caught once at the CLI (printed without traceback, exit code 2).

Library code raises a subclass of :class:`BenchError` for anything the *user* can fix (a suite file, a
dataset path, a registry name) and gives a remedy in ``hint``. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BenchError(Exception):
    """A user-facing error: what is wrong, where, and how to fix it.

    Args:
        message: What is wrong, in one sentence.
        path: The file the problem is in (suite, baseline, dataset file), if any.
        line: 1-based line number in ``path``, if known.
        key: Dotted key inside the file (e.g. ``experiments[2].method.name``), if any.
        hint: How to fix it.
    """

    message: str
    path: str | None = None
    line: int | None = None
    key: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.format())

    def location(self) -> str:
        """``file:line`` (or just ``file``) for the start of the message; empty when unknown."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else str(self.path)

    def format(self) -> str:
        """The one-line message plus an indented hint, as the CLI prints it."""
        where = self.location()
        text = f"{where}: " if where else ""
        if self.key:
            text += f"{self.key}: "
        text += self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.format()


class SuiteError(BenchError):
    """A suite or baseline file is malformed (YAML, schema, unknown name, out-of-range value)."""


class RegistryError(BenchError):
    """An unknown or duplicate name in a registry (method, backbone, dataset, probe, ...)."""


class DataError(BenchError):
    """A dataset is missing, corrupt or inconsistent with what the suite asks for."""


class ResultsError(BenchError):
    """The results directory is locked, corrupt or from an incompatible format version."""


class HintedValueError(ValueError):
    """A ``ValueError`` for schema and parameter validators that also says how to fix the value (shown as the hint).

    Raised inside pydantic validators at any layer; :func:`benchmark.suite.errors_map.raise_validation_error` turns
    it into a :class:`SuiteError` at the offending key, with this hint.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class RunFailure(Exception):
    """A single run failed for a recorded reason (divergence, collapse, out-of-memory).

    Not a :class:`BenchError`: the suite goes on with the other runs and the report shows the failure.
    """

    def __init__(self, reason: str, *, kind: str, step: int | None = None) -> None:
        self.reason = reason
        self.kind = kind
        self.step = step
        super().__init__(f"{kind} at step {step}: {reason}" if step is not None else f"{kind}: {reason}")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``bench run``: which run was interrupted, where it resumes, and what is kept.

    Args:
        run_id: The run that was executing.
        index: Its 1-based position in the plan; ``total`` the number of runs in the plan.
        results_dir: Where the finished records (and the run's checkpoint) are.
        checkpoint_step: The step of the run's last checkpoint (None: no checkpoint yet, it restarts).
        finished: Runs with a finished record in ``results_dir`` (done before or during this invocation).
    """

    def __init__(self, run_id: str, *, index: int, total: int, results_dir: str, checkpoint_step: int | None,
                 finished: int) -> None:
        self.run_id, self.index, self.total = run_id, index, total
        self.results_dir, self.checkpoint_step, self.finished = results_dir, checkpoint_step, finished
        super().__init__(run_id)
