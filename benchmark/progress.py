"""Suite-level progress of ``bench run``: runs done and left, and an estimate of the time left (ETA).

The time a remaining run will take is predicted, in this order, from: a finished run of the same experiment and
grid point (another seed: same computation), the measured seconds per pretraining step of finished runs of the same
training shape (:func:`benchmark.suite.plan.training_shape`) times the run's steps plus the mean time outside
pretraining (probes, controls), the nominal estimate of :func:`benchmark.suite.plan.estimate` (on the
pretraining-set size a finished record of the same data reports, for datasets of unknown size) corrected by how
far off it was for the runs finished so far, or nothing (the line then counts the runs it cannot predict). Only runs
executed by this process count as observations (skipped runs took no time now).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from benchmark.results.record import RecordLike, as_record
from benchmark.suite.plan import Run, estimate, format_duration, training_shape


def _sibling_key(run: Run) -> str:
    return f"{run.experiment_id}/{run.variant}"


def _data_key(run: Run) -> str:
    return run.config.data.model_dump_json(include={"dataset", "params", "train_subset"})


class SuiteProgress:
    """Observes finished runs and predicts the time left; :meth:`line` is what ``bench run`` prints after a run."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._run_seconds: dict[str, float] = {}  # experiment/variant -> total seconds of a finished run
        self._step_seconds: dict[str, list[float]] = {}  # training shape -> seconds per pretraining step
        self._overheads: list[float] = []  # seconds outside pretraining per finished run
        self._nominal_ratio: list[float] = []  # observed / nominal pretraining seconds
        self._n_train: dict[str, int] = {}  # data config -> pretraining images seen in a record (npz & co.)

    def observe(self, run: Run, record: RecordLike) -> None:
        """Learn from a run this process executed (failed runs teach nothing about the time of a full run)."""
        record = as_record(record)
        if not record.ok:
            return
        timings = record.timings or {}
        total = float(timings.get("total") or 0.0)
        pre = float(timings.get("pretrain") or 0.0)
        steps = int(record.pretrain.steps or 0) if record.pretrain is not None else 0
        n_train = record.data.n_train if record.data is not None else None
        if n_train is not None:
            self._n_train[_data_key(run)] = n_train
        self._run_seconds[_sibling_key(run)] = total
        self._overheads.append(max(0.0, total - pre))
        if steps > 0 and pre > 0:
            self._step_seconds.setdefault(training_shape(run), []).append(pre / steps)
            nominal = estimate(run, self.device, self._n_train.get(_data_key(run)))["hours"]
            if nominal:
                self._nominal_ratio.append(pre / (nominal * 3600))

    def predict(self, run: Run) -> float | None:
        """Seconds ``run`` is expected to take, or None when nothing says."""
        if _sibling_key(run) in self._run_seconds:
            return self._run_seconds[_sibling_key(run)]
        overhead = sum(self._overheads) / len(self._overheads) if self._overheads else 0.0
        est = estimate(run, self.device, self._n_train.get(_data_key(run)))
        per_step = self._step_seconds.get(training_shape(run))
        if per_step and est["steps"] is not None:
            return est["steps"] * sum(per_step) / len(per_step) + overhead
        if est["hours"] is not None:
            ratio = sum(self._nominal_ratio) / len(self._nominal_ratio) if self._nominal_ratio else 1.0
            return est["hours"] * 3600 * ratio + overhead
        return None

    def line(self, done: int, total: int, remaining: Sequence[Run], *, now: dt.datetime | None = None) -> str:
        """``suite: 3/12 runs done, about 6 min left (ETA 15:42 UTC)``, with the runs it cannot predict."""
        if not remaining:
            return f"suite: {done}/{total} runs done"
        predictions = [self.predict(r) for r in remaining]
        known = [p for p in predictions if p is not None]
        unknown = len(predictions) - len(known)
        if not known:
            return f"suite: {done}/{total} runs done, {len(remaining)} left (no time estimate yet)"
        left = sum(known)
        eta = (now or dt.datetime.now(dt.timezone.utc)) + dt.timedelta(seconds=left)
        extra = f" + {unknown} runs without an estimate" if unknown else ""
        return (f"suite: {done}/{total} runs done, about {format_duration(left)} left{extra} "
                f"(ETA {eta.strftime('%Y-%m-%d %H:%M')} UTC)")
