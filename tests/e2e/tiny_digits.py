"""The ``defaults:`` block of the tiny digits suites the end-to-end tests write (kNN probe, 4 steps)."""

from __future__ import annotations

import textwrap

_DEFAULTS = """\
    defaults:
      data: {{dataset: digits, params: {{size: 16}}, input_size: 16, normalize: none{subset}}}
      backbone: {{name: tiny, width: 8}}
      augment: {{on_device: true}}
      pretrain:
        epochs: 1
        max_steps: 4
        batch_size_per_device: 64
        optimizer: {{name: sgd, lr: 0.05, base_batch_size: 64}}
        schedule: {{name: constant}}
        checkpoint_every_n_steps: 100
      eval:
        probes: [{{name: knn, k: 10}}]
      seeds: {seeds}
"""


def tiny_digits_defaults(*, seeds: str, subset: str = "") -> str:
    """The block, dedented; ``subset`` is appended inside ``data`` (e.g. ``", train_subset: 300"``)."""
    return textwrap.dedent(_DEFAULTS.format(subset=subset, seeds=seeds))
