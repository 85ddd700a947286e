"""Lightning callback measuring the training step as the runner trains it (``measure: {enabled: true, ...}``).

Timeline of one ``trainer.fit`` (batch indices counted by the callback, so a resumed run measures its own steps):

* ``warmup_steps`` untimed steps (cuDNN autotuning, allocator warm-up, optimizer-state creation);
* on CPU, one **memory-profiled** step (``torch.profiler`` with ``profile_memory=True``, see
  :mod:`benchmark.measure.memory`); it is not timed, because the profiler slows it down;
* ``steps`` **timed** steps. For each: ``step`` time = Lightning's ``on_train_batch_start`` → ``on_train_batch_end``
  of this callback (forward, loss, OR penalty, backward, optimizer step and the method's momentum/EMA update, which
  ``PretrainModule.optimizer_step`` runs right after it; the batch is already on the device), and
  peak memory (CUDA: ``reset_peak_memory_stats`` at the step start and ``max_memory_allocated`` at its end, as the
  SFRIK code; CPU: the process RSS high-water mark, reset at each step start). ``iteration`` time = from one step's
  start to the next's: adds the data-loader wait, the LR-scheduler step, logging and checkpointing, i.e. what SFRIK's ``batch_time`` spans;
* after the last timed step, if ``loss_only``: the **loss alone** on that step's batch (``method.loss_inputs`` under
  ``no_grad``, then ``warmup_steps`` + ``steps`` calls of ``method.loss_only`` forward and backward to its inputs
  with ``torch.autograd.grad``). Method buffers (BN statistics, memory banks, centres) and the RNG state are saved
  before and restored after, so the measurement does not change the training run; parameters get no gradient;
* right after it, if ``regularizer_only``: the **OR penalty alone** (the OR paper's Table 10, "the time overhead
  required by the different backbones to compute OR at one time, and we have averaged over 10 times"):
  ``warmup_steps`` + ``steps`` calls of ``γ · Σ_l R(W_l)`` over the encoder's regularised weights
  (``PretrainModule.regularizer.penalty(method.encoder)``) forward and backward to those weights with
  ``torch.autograd.grad`` (no ``.grad`` is written, no optimizer step). The RNG state (SRIP's power-iteration start
  vector) is restored afterwards. The mean over the timed calls is the paper's number (``time_s.mean``).

Both are wall times; ``cpu_time_s`` beside them is the process CPU time (``time.process_time``, all threads) of the
same intervals, which a busy shared machine disturbs far less than wall time (it does not count waiting for a core).
Throughput = images per step (the per-device batch × world size; images, not views) / median step time. Out of
memory inside the loss measurement is recorded as that section's result; out of memory inside a training step
ends the fit (the runner records the run as failed) and is also kept in :meth:`MeasureCallback.summary`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from benchmark.measure.calls import measure_callable
from benchmark.measure.memory import (
    MemorySample,
    StepMemory,
    is_out_of_memory,
    memory_profiler,
    oom_result,
    profiler_allocations,
    summarize_memory,
)
from benchmark.measure.timing import summarize_times, synchronize

__all__ = ["MeasureCallback", "batch_views"]


def batch_views(batch: Any) -> list[Tensor]:
    """The list of view tensors of a runner batch ``(views, labels)`` (as ``PretrainModule.training_step`` reads it)."""
    views = batch[0] if isinstance(batch, (list, tuple)) else batch
    if isinstance(views, Tensor):
        return [views]
    return list(views)


class MeasureCallback(pl.Callback):
    """Per-step time, throughput and peak memory of training, plus the loss alone (see the module docstring).

    Args:
        warmup_steps: Untimed steps before measuring.
        steps: Timed steps.
        loss_only: Also measure the method's loss alone on the embeddings of the last timed batch.
        regularizer_only: Also measure the OR penalty alone (forward + backward) after the last timed step.
        profile_cpu_memory: On CPU, spend one extra (untimed) step under the memory profiler.
    """

    def __init__(self, *, warmup_steps: int = 3, steps: int = 10, loss_only: bool = True,
                 regularizer_only: bool = False, profile_cpu_memory: bool = True) -> None:
        if warmup_steps < 0 or steps < 1:
            raise ValueError(f"warmup_steps must be >= 0 and steps >= 1, got {warmup_steps} and {steps}")
        self.warmup_steps = int(warmup_steps)
        self.steps = int(steps)
        self.loss_only = bool(loss_only)
        self.regularizer_only = bool(regularizer_only)
        self.profile_cpu_memory = bool(profile_cpu_memory)
        self._seen = 0
        self._device: torch.device | None = None
        self._profile_idx: int | None = None
        self._t0: float | None = None
        self._mem: StepMemory | None = None
        self._profiler: Any = None
        self._starts: dict[int, float] = {}
        self._cpu_starts: dict[int, float] = {}
        self._c0: float | None = None
        self._step_times: list[float] = []
        self._step_cpu: list[float] = []
        self._samples: list[MemorySample] = []
        self._profiled: MemorySample | None = None
        self._profiled_step: int | None = None
        self._images_per_step: int | None = None
        self._batch_per_device: int | None = None
        self._world_size = 1
        self._last_batch: Any = None
        self._loss: dict[str, Any] | None = None
        self._regularizer: dict[str, Any] | None = None
        self._failure: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> MeasureCallback:
        """From the suite's ``measure`` block (:class:`benchmark.suite.schema.MeasureConfig`)."""
        return cls(warmup_steps=cfg.warmup_steps, steps=cfg.steps, loss_only=cfg.loss_only,
                   regularizer_only=cfg.regularizer_only)

    # ------------------------------------------------------------------------------------ window
    @property
    def _first_timed(self) -> int:
        return self.warmup_steps + (1 if self._profile_idx is not None else 0)

    def _is_timed(self, i: int) -> bool:
        return self._first_timed <= i < self._first_timed + self.steps

    # ------------------------------------------------------------------------------------ hooks
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        i = self._seen
        if self._device is None:
            self._device = torch.device(pl_module.device)
            self._world_size = int(getattr(trainer, "world_size", 1) or 1)
            if self.profile_cpu_memory and self._device.type != "cuda":
                self._profile_idx = self.warmup_steps
        if self._first_timed <= i <= self._first_timed + self.steps:
            synchronize(self._device)
            self._starts[i] = time.perf_counter()
            self._cpu_starts[i] = time.process_time()
        if i == self._profile_idx:
            self._profiler = memory_profiler()
            self._profiler.__enter__()
        elif self._is_timed(i):
            self._mem = StepMemory(self._device)
            self._mem.start()
            synchronize(self._device)
            self._c0 = time.process_time()
            self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        i = self._seen
        if self._profiler is not None:
            self._stop_profiler()
        elif self._is_timed(i) and self._t0 is not None and self._mem is not None:
            synchronize(self._device)
            self._step_times.append(time.perf_counter() - self._t0)
            self._step_cpu.append(time.process_time() - (self._c0 or 0.0))
            self._samples.append(self._mem.stop())
            self._t0, self._mem = None, None
            if self._images_per_step is None:
                views = batch_views(batch)
                self._batch_per_device = int(views[0].shape[0])
                self._images_per_step = self._batch_per_device * self._world_size
        if self.loss_only and self._loss is None:
            self._last_batch = batch
            if i == self._first_timed + self.steps - 1:
                self._loss = self.measure_loss(trainer, pl_module, batch)
                self._last_batch = None
        if self.regularizer_only and self._regularizer is None and i == self._first_timed + self.steps - 1:
            self._regularizer = self.measure_regularizer(pl_module)
        self._seen += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._profiler is not None:
            self._stop_profiler()
        if self.loss_only and self._loss is None and self._last_batch is not None:
            self._loss = self.measure_loss(trainer, pl_module, self._last_batch)
        self._last_batch = None
        if self.regularizer_only and self._regularizer is None and self._seen > 0:
            self._regularizer = self.measure_regularizer(pl_module)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self._profiler is not None:
            self._stop_profiler()
        if is_out_of_memory(exception):
            self._failure = {**oom_result(exception, self._device), "step_index": self._seen}
        self._last_batch = None

    def _stop_profiler(self) -> None:
        prof, self._profiler = self._profiler, None
        prof.__exit__(None, None, None)
        alloc = profiler_allocations(prof)
        self._profiled = MemorySample(device=str(self._device), tensor_source="torch.profiler[profile_memory]",
                                      tensor_peak_above_start_bytes=alloc.peak_above_start)
        self._profiled_step = self._seen

    # ------------------------------------------------------------------------------------ loss alone
    def measure_loss(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any) -> dict[str, Any]:
        """Time and memory of ``method.loss_only`` forward + backward on this batch's embeddings."""
        method = getattr(pl_module, "method", None)
        if method is None or not hasattr(method, "loss_inputs"):
            return {"status": "unsupported", "reason": f"{type(pl_module).__name__} has no .method.loss_inputs"}
        device = torch.device(pl_module.device)
        views = batch_views(batch)
        saved = {name: buf.detach().clone() for name, buf in method.named_buffers()}
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        ctx = trainer.precision_plugin.train_step_context() if trainer is not None else contextlib.nullcontext()
        try:
            with torch.random.fork_rng(devices=rng_devices), ctx:
                try:
                    with torch.no_grad():
                        inputs = method.loss_inputs(views)
                except NotImplementedError:
                    return {"status": "unsupported", "reason": f"{type(method).__name__} does not implement loss_inputs"}
                wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]

                def call() -> None:
                    with torch.enable_grad():
                        loss = method.loss_only(*inputs)
                        if wrt:
                            torch.autograd.grad(loss, wrt)

                result = measure_callable(call, device=device, warmup_steps=self.warmup_steps, steps=self.steps,
                                          profile_memory=self.profile_cpu_memory)
                tensors = [t for t in inputs if isinstance(t, Tensor)]
                result["inputs_bytes"] = int(sum(t.numel() * t.element_size() for t in tensors))
                result["input_shapes"] = [list(t.shape) for t in tensors]
                return result
        except Exception as exc:
            if is_out_of_memory(exc):
                return {**oom_result(exc, device), "phase": "loss_inputs"}
            raise
        finally:
            with torch.no_grad():
                for name, buf in method.named_buffers():
                    if name in saved and saved[name].shape == buf.shape:
                        buf.copy_(saved[name])

    # ------------------------------------------------------------------------------------ OR penalty alone
    def measure_regularizer(self, pl_module: pl.LightningModule) -> dict[str, Any]:
        """Time and memory of the OR penalty ``γ · Σ_l R(W_l)`` forward + backward (the paper's Table 10)."""
        regularizer = getattr(pl_module, "regularizer", None)
        method = getattr(pl_module, "method", None)
        if regularizer is None:
            return {"status": "not_applicable", "reason": "regularizer 'none': there is no OR penalty to time"}
        if method is None or not hasattr(regularizer, "weights"):
            return {"status": "unsupported", "reason": f"{type(regularizer).__name__} exposes no weights()"}
        encoder = method.encoder
        weights = [w for _, w in regularizer.weights(encoder) if w.requires_grad]
        device = torch.device(pl_module.device)
        rng_devices = [device.index or 0] if device.type == "cuda" else []

        def call() -> None:
            with torch.enable_grad():
                penalty, _ = regularizer.penalty(encoder)
                if weights:
                    torch.autograd.grad(penalty, weights)

        try:
            with torch.random.fork_rng(devices=rng_devices):
                result = measure_callable(call, device=device, warmup_steps=self.warmup_steps, steps=self.steps,
                                          profile_memory=self.profile_cpu_memory)
        except Exception as exc:
            if is_out_of_memory(exc):
                return oom_result(exc, device)
            raise
        result.update({"kind": getattr(regularizer, "kind", None), "gamma": getattr(regularizer, "gamma", None),
                       "layers": len(weights), "parameters": int(sum(w.numel() for w in weights)),
                       "definition": "forward + backward (torch.autograd.grad) of gamma * sum_l R(W_l) over the "
                                     "encoder's regularised weights; mean over the timed calls = the paper's Table 10"})
        return result

    # ------------------------------------------------------------------------------------ result
    def summary(self) -> dict[str, Any]:
        """Everything measured, JSON-ready (bytes as ints, times in seconds)."""
        out: dict[str, Any] = {
            "device": str(self._device) if self._device is not None else None,
            "device_name": _device_name(self._device),
            "warmup_steps": self.warmup_steps,
            "steps_requested": self.steps,
            "steps_measured": len(self._step_times),
            "batch_per_device": self._batch_per_device,
            "world_size": self._world_size,
            "images_per_step": self._images_per_step,
            "step_definition": "on_train_batch_start -> on_train_batch_end: forward, loss, penalty, backward, "
                               "optimizer step, momentum update (batch already on device)",
            "iteration_definition": "step start -> next step start: adds data wait, "
                                    "LR schedule, logging, checkpointing",
            "status": "ok",
        }
        notes: list[str] = []
        if self._step_times:
            stats = summarize_times(self._step_times)
            out["step"] = {"time_s": stats.to_dict(),
                           "cpu_time_s": summarize_times(self._step_cpu).to_dict(),
                           "throughput_images_per_s": stats.throughput(self._images_per_step or 0),
                           "memory": summarize_memory(self._samples, self._profiled)}
            keys = sorted(self._starts)
            iters = [self._starts[b] - self._starts[a] for a, b in zip(keys, keys[1:], strict=False)]
            cpu = [self._cpu_starts[b] - self._cpu_starts[a] for a, b in zip(keys, keys[1:], strict=False)]
            if iters:
                it = summarize_times(iters)
                out["iteration"] = {"time_s": it.to_dict(), "cpu_time_s": summarize_times(cpu).to_dict(),
                                    "throughput_images_per_s": it.throughput(self._images_per_step or 0)}
        else:
            out["status"] = "no_steps"
            notes.append(f"training ran {self._seen} step(s); measuring needs {self._first_timed + self.steps} "
                         f"(warm-up {self.warmup_steps}{', 1 memory-profiled' if self._profile_idx is not None else ''}"
                         f", {self.steps} timed)")
        if 0 < len(self._step_times) < self.steps:
            notes.append(f"only {len(self._step_times)} of {self.steps} timed steps ran (max_steps reached)")
        if self._profiled is not None:
            out["memory_profiled_step_index"] = self._profiled_step
        if self.loss_only:
            out["loss_only"] = self._loss or {"status": "not_run", "reason": "no batch reached the loss measurement"}
        if self.regularizer_only:
            out["regularizer_only"] = self._regularizer or {"status": "not_run",
                                                            "reason": "training ended before any step"}
        if self._failure is not None:
            out["status"] = "out_of_memory"
            out["failure"] = self._failure
        if notes:
            out["notes"] = notes
        return out


def _device_name(device: torch.device | None) -> str | None:
    if device is None:
        return None
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    from benchmark.measure.machine import cpu_model

    return cpu_model()
