"""The run pipeline, one module per stage; each stage builds its parts through their package's one factory.

* :mod:`~benchmark.run.options` — :class:`RunOptions` (where data and results live, the device, CLI switches);
* :mod:`~benchmark.run.data` — the dataset's splits (cached), subsets, the validation hold-out and the pretraining
  loader, its sampler from :func:`benchmark.data.samplers.make_batch_sampler`;
* :mod:`~benchmark.run.backbone` — the encoder from :func:`benchmark.models.create_backbone`, given only the
  backbone keys the suite sets;
* :mod:`~benchmark.run.trainer` — accelerator, DDP strategy and the ``pl.Trainer``;
* :mod:`~benchmark.run.pretrain` — the method (:func:`benchmark.methods.build_method`), regulariser
  (:func:`benchmark.regularizers.build_regularizer`), resume, fit and the pretraining summary;
* :mod:`~benchmark.run.evaluate` — probes (:func:`benchmark.probes.build_probe`), transfer, spectra, figure data;
* :mod:`~benchmark.run.execute` — :func:`execute_run`: one run end to end, into its validated :class:`~benchmark.results.record.RunRecord`;
* :mod:`~benchmark.run.estimate` — ``bench plan --measure``: one timed pretraining step per training shape.

Layering: this package sits above ``train`` and ``results`` and imports nothing above them. Executing a whole plan
(:func:`benchmark.run_suite.run_plan`) needs the pre-flight checks, the progress line and the baselines-file check,
which sit above this package, so it lives in the top-level module :mod:`benchmark.run_suite`, next to ``launch``
and ``until_decided``, its other callers; those higher modules import this package, never the reverse.
"""

from benchmark.run.backbone import backbone_kwargs, build_backbone
from benchmark.run.data import load_splits, subset_indices, train_loader, validation_split
from benchmark.run.evaluate import first_test_images, run_probes, run_transfer
from benchmark.run.execute import execute_run
from benchmark.run.options import RunOptions
from benchmark.run.pretrain import pretrain

__all__ = [
    "RunOptions",
    "backbone_kwargs",
    "build_backbone",
    "execute_run",
    "first_test_images",
    "load_splits",
    "pretrain",
    "run_probes",
    "run_transfer",
    "subset_indices",
    "train_loader",
    "validation_split",
]
