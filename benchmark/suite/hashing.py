"""A run's identity: the config hash of its resolved experiment and the computation hash records are matched by.

The hashes are computed from the plan (:class:`benchmark.suite.plan.Run`) and stored in every record; the results
store (``is_done``) and ``bench compare`` recompute the computation hash of stored configs with the same code.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any) -> str:
    """First 16 hex digits of the SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


#: Experiment fields that describe a run but do not change what it computes (titles, paper references, notes, the
#: verdict tolerance, the list of seeds — the run's own seed is hashed separately). Editing them leaves the
#: computation hash unchanged, so finished runs are still recognised as done.
DESCRIPTIVE_FIELDS: tuple[str, ...] = ("title", "reproduces", "assumptions", "tags", "tolerance", "seeds")


#: Probe parameters hashed by their EFFECTIVE value: probe name -> {key: (the probe's default now, its default
#: before it was hashed)}. ``Run.hashed_config`` fills the current default into every probe config that omits the
#: key, so changing a probe's default changes the hash of every run relying on it and its old records are not
#: reused. A stored config that lacks the key was written before, under the old default: :func:`computation_hash`
#: fills that one in, so a run that now states the old value explicitly still matches its records.
#: ``tests/probes/test_random_init_fairness.py`` checks the current defaults against the probes' ``Params``.
PROBE_PARAMS_HASHED_EFFECTIVE: dict[str, dict[str, tuple[Any, Any]]] = {
    "linear": {"normalize": ("standardize", "none")},  # 'none' until issue 13 (random-init fairness)
}


def fill_probe_params(experiment: dict[str, Any], *, legacy: bool) -> None:
    """Fill :data:`PROBE_PARAMS_HASHED_EFFECTIVE` into the probe configs of a dumped experiment, in place: the
    current default, or with ``legacy`` the default of records written before the key was hashed."""
    eval_cfg = experiment.get("eval")
    if not isinstance(eval_cfg, dict):
        return
    lists = [eval_cfg.get("probes")] + [t.get("probes") for t in eval_cfg.get("transfer") or [] if isinstance(t, dict)]
    for probes in lists:
        for probe in probes or []:
            for key, (default, old) in PROBE_PARAMS_HASHED_EFFECTIVE.get(str(probe.get("name")), {}).items():
                probe.setdefault(key, old if legacy else default)


def computation_hash(hashed: dict[str, Any]) -> str:
    """Hash of a run's hashed config (``Run.hashed_config()``, also stored as a record's ``config``) without the
    descriptive fields: two runs with the same computation hash train and probe identically. Probe parameters a
    stored config lacks get the value they had when it was written (:data:`PROBE_PARAMS_HASHED_EFFECTIVE`)."""
    experiment = {k: v for k, v in (hashed.get("experiment") or {}).items() if k not in DESCRIPTIVE_FIELDS}
    experiment = json.loads(json.dumps(experiment, default=str))  # a copy: the caller's config is left as it is
    fill_probe_params(experiment, legacy=True)
    return config_hash({**hashed, "experiment": experiment})
