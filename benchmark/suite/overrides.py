"""Command-line overrides of a suite: ``key.path=value`` pairs, ``--seeds``, ``--epochs`` and ``--steps``.

They are applied after everything the suite file resolves (the last layer of the precedence, after the grid
point), so they are part of each run's resolved config and therefore of its config hash: an overridden run never
reuses the record of an un-overridden one. Values are YAML (``pretrain.epochs=2``, ``regularizer={name: so,
gamma: 1.0e-6}``, ``eval.probes=[{name: knn, k: 20}]``); a mapping merges into the suite's block unless it names
another component (``name``), as grid values do. Keys must start with an experiment field; deeper keys are
checked by the schema and the components' parameter models like any suite key, and errors name the override.

Examples::

    bench run suites/smoke.yaml pretrain.epochs=1 method.temperature=0.2 --seeds 0,1
    bench run suites/smoke.yaml --epochs 1 --steps 5
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from benchmark.errors import SuiteError
from benchmark.registry import did_you_mean
from benchmark.suite.schema import EXPERIMENT_FIELDS

#: Experiment fields a command-line override may set (the id and the grid are the suite file's own).
OVERRIDABLE = sorted(EXPERIMENT_FIELDS - {"id", "grid"})

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Override:
    """One assignment: dotted ``key``, parsed ``value`` and the ``text`` it came from (for records and errors)."""

    key: str
    value: Any
    text: str

    @property
    def where(self) -> str:
        """How errors name it: ``command line 'pretrain.epochs=2'``."""
        return f"command line '{self.text}'"


def parse_value(text: str) -> Any:
    """A YAML value; numbers in any float notation (``1e-3`` is a string to YAML 1.1, a float here)."""
    if _NUMBER.match(text.strip()):
        number = float(text)
        return int(text) if re.fullmatch(r"[+-]?\d+", text.strip()) else number
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteError(f"the value {text!r} is not valid YAML ({str(exc).splitlines()[0]})",
                         path="command line", hint="quote the whole key=value for the shell, e.g. 'a={x: 1}'") from None


def parse_override(text: str) -> Override:
    """``key.path=value`` → :class:`Override`.

    Raises:
        SuiteError: no ``=``, a malformed key, or a first key that is not an experiment field (with did-you-mean).
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SuiteError(f"override '{text}' is not key=value", path="command line",
                         hint="e.g. pretrain.epochs=2 or method.temperature=0.2 (keys are dotted experiment fields)")
    if not _KEY.match(key):
        raise SuiteError(f"override key '{key}' is not a dotted name", path="command line",
                         hint="e.g. pretrain.optimizer.lr=0.1")
    head = key.split(".")[0]
    if head not in OVERRIDABLE:
        what = (f"'{head}' cannot be overridden" if head in ("id", "grid")
                else f"unknown key '{head}' in override '{text}'{did_you_mean(head, OVERRIDABLE)}")
        raise SuiteError(what, path="command line", hint=f"overrides set experiment fields: {', '.join(OVERRIDABLE)}")
    return Override(key=key, value=parse_value(raw), text=text)


def flag_overrides(*, seeds: str | None = None, epochs: int | None = None, steps: int | None = None) -> list[Override]:
    """``--seeds 0,1,2`` → ``seeds``, ``--epochs N`` → ``pretrain.epochs``, ``--steps N`` → ``pretrain.max_steps``."""
    out: list[Override] = []
    if seeds is not None:
        try:
            values = [int(s) for s in seeds.replace(" ", "").split(",") if s]
        except ValueError:
            raise SuiteError(f"--seeds '{seeds}' is not a comma-separated list of integers", path="command line",
                             hint="e.g. --seeds 0,1,2") from None
        if not values:
            raise SuiteError("--seeds is empty", path="command line", hint="e.g. --seeds 0,1,2")
        out.append(Override("seeds", values, f"--seeds {seeds}"))
    if epochs is not None:
        out.append(Override("pretrain.epochs", int(epochs), f"--epochs {epochs}"))
    if steps is not None:
        out.append(Override("pretrain.max_steps", int(steps), f"--steps {steps}"))
    return out


def collect(assignments: Sequence[str], *, seeds: str | None = None, epochs: int | None = None,
            steps: int | None = None) -> list[Override]:
    """Every override of one command line, in the order they apply (``key=value`` pairs first, then the flags)."""
    return [parse_override(a) for a in assignments] + flag_overrides(seeds=seeds, epochs=epochs, steps=steps)
