"""Training loop for both module families on synthetic tasks.

`family="tart"` trains TART's module (GPT-2 layout) on the logistic prior with TART's curriculum;
`family="tart2"` trains the set-layout module (`tart.set_reasoner`) on the mixture prior
(`tart.priors_tart2`), every task passed through the input map fitted on its own context. What
differs between the two (classes, presets, prior, curriculum, batches, loss) comes from
`tart.families`.

Single process: `tart train --preset tiny --out runs/tiny`. Several GPUs (or CPU processes on the
gloo backend): `torchrun --nproc_per_node=N -m tart.cli train ...`; each rank draws its own share of
the batch and DistributedDataParallel averages the gradients.

Every batch is drawn from a generator seeded by (seed, step, rank), so a run resumed from a
checkpoint sees exactly the data an uninterrupted run would have seen. Checkpoints hold the fp32
weights, Adam moments and RNG states (all safetensors, no pickle) and are written to a temp folder
and renamed, so a killed run never leaves a half-written checkpoint behind (`tart.runs`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from tart import checkpoint, families, runs
from tart.embed.runtime import cpu_has_fast_bf16, resolve_device
from tart.priors_tart import Curriculum, LogisticPrior
from tart.priors_tart2 import MixturePrior, SetCurriculum
from tart.reasoner import Reasoner, ReasonerConfig
from tart.set_reasoner import SetReasoner, SetReasonerConfig


@dataclass
class TrainConfig:
    family: str = "tart"  # "tart" (the faithful GPT-2 layout) or "tart2" (the set layout)
    preset: str = "tart"
    steps: int = 24_000
    batch_size: int = 128  # sequences per optimiser step, summed over all ranks
    lr: float = 3e-4
    min_lr: float = 3e-5  # floor of the cosine schedule
    schedule: str = "constant"  # "constant" or "cosine" after warm-up
    warmup: int = 500
    # "steps": warm-up over `warmup` steps, the schedule over `steps`; "time": over the wall-clock
    # budget `time_limit_s` of the whole run (resumes included), warm-up its first `warmup_share`,
    # `steps` then only a bound (a GPU window of fixed length, whatever the steps/s)
    clock: str = "steps"
    warmup_share: float = 0.05
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    prior: dict = field(default_factory=lambda: LogisticPrior().to_dict())
    curriculum: dict = field(default_factory=lambda: asdict(Curriculum()))
    model: dict = field(default_factory=dict)  # overrides of the preset's ReasonerConfig
    init_from: str | None = None  # start from the weights of this model folder (not its optimizer)
    log_every: int = 50
    ckpt_every: int = 1000
    keep_checkpoints: int = 2
    time_limit_s: float | None = None  # stop (with a checkpoint) once training took this long
    # (clock "steps": this invocation; clock "time": the whole run)
    compile: bool = False
    amp: str = "auto"  # "auto" (bf16 on CUDA), "bf16" or "off"
    device: str = "auto"

    @property
    def family_entry(self) -> families.Family:
        """The registry entry of `family`."""
        return families.get(self.family)

    def model_config(self) -> ReasonerConfig | SetReasonerConfig:
        """The preset's module config with the `model` overrides."""
        return self.family_entry.model_config(self.preset, self.model)

    def build_model(self) -> Reasoner | SetReasoner:
        """A freshly initialised module of this config."""
        return self.family_entry.module_class(self.model_config())

    def __post_init__(self) -> None:
        fam = families.get(self.family)
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if self.amp not in ("auto", "bf16", "off"):
            raise ValueError(f"amp must be 'auto', 'bf16' or 'off', got {self.amp!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.clock not in ("steps", "time"):
            raise ValueError(f"clock must be 'steps' or 'time', got {self.clock!r}")
        if self.clock == "time" and not (self.time_limit_s and self.time_limit_s > 0):
            raise ValueError("clock 'time' schedules the learning rate over time_limit_s: give a positive one")
        if not 0.0 <= self.warmup_share < 1.0:
            raise ValueError(f"warmup_share must be in [0, 1), got {self.warmup_share}")
        curriculum = fam.curriculum_class(**self.curriculum)
        fam.check_recipe(curriculum, fam.prior_from_dict(self.prior), self.model_config())


# Named training recipes: TrainConfig overrides, selected with `tart train --recipe NAME`.
RECIPES: dict[str, dict] = {
    # The original's run: the `tart` preset, TART's curriculum, batch 128, 24k steps (lr 3e-4 with
    # warm-up and clipping rather than the original's 1e-4, per a probe on an H100).
    "tart": {},
    # Minutes on a laptop CPU: the `tiny` preset on 4-dimensional tasks of up to 40 points. Points
    # start at 6 so the small model escapes the initial loss plateau quickly.
    "quick": dict(
        preset="tiny", steps=4000, batch_size=64, lr=1e-3, warmup=100, log_every=100,
        ckpt_every=500,
        curriculum=asdict(Curriculum(4, 4, 0, 6, 40, 6, 150)),
    ),
    # tart-2 on 2 CPU cores: the `cpu` preset, the mixture prior through the input map, bf16
    # autocast (the CPU's matrix units), batches of about 12k tokens, lr 1e-3 with warm-up.
    # Module-bound there: the data path is 4% of a step (8% with the exact basis), measured by
    # `tart bench-train --family tart2 --recipe tart2-cpu` on 2 CPU cores (docs/training_path.md).
    "tart2-cpu": dict(
        family="tart2", preset="cpu", steps=100_000, batch_size=64, lr=1e-3, min_lr=1e-4,
        schedule="cosine", warmup=500, amp="bf16", log_every=50, ckpt_every=250,
        keep_checkpoints=3, prior=MixturePrior().to_dict(),
        curriculum=asdict(SetCurriculum(large_frac=0.5)),
    ),
    # tart-2 fine-tuned from the shipped weights (`--init-from src/tart/weights/tart2`) on the
    # dense-signal prior: class differences spread over up to 64 directions, as in real embeddings.
    "tart2-cpu-dense": dict(
        family="tart2", preset="cpu", steps=3000, batch_size=64, lr=3e-4, min_lr=3e-5,
        schedule="cosine", warmup=200, amp="bf16", log_every=50, ckpt_every=250,
        keep_checkpoints=3, prior=MixturePrior(max_signal_dims=64, dense_signal=True).to_dict(),
        curriculum=asdict(SetCurriculum(large_frac=0.5)),
    ),
    # tart-2 fine-tuned from the shipped weights (`--init-from src/tart/weights/tart2`) to read
    # the whitened input map (fit_set_map(whiten=True)): shrinkage whitening within the map's dims.
    "tart2-cpu-white": dict(
        family="tart2", preset="cpu", steps=4000, batch_size=64, lr=3e-4, min_lr=3e-5,
        schedule="cosine", warmup=200, amp="bf16", log_every=50, ckpt_every=250,
        keep_checkpoints=3, model={"whiten_map": True}, prior=MixturePrior().to_dict(),
        curriculum=asdict(SetCurriculum(large_frac=0.5)),
    ),
    # tart-2 fine-tuned from the shipped weights to read both input maps (each task's map whitened
    # or not at random); the classifier then averages the module over the two maps of a context.
    "tart2-cpu-both": dict(
        family="tart2", preset="cpu", steps=4000, batch_size=64, lr=3e-4, min_lr=3e-5,
        schedule="cosine", warmup=200, amp="bf16", log_every=50, ckpt_every=250,
        keep_checkpoints=3, model={"whiten_map": "both"}, prior=MixturePrior().to_dict(),
        curriculum=asdict(SetCurriculum(large_frac=0.5)),
    ),
    # tart-2 at full size in one GPU window (`scripts/gpu_train.sh`): the learning rate scheduled
    # over 7 minutes of wall-clock time (--time-limit-s to change), warm-up the first 5%, bf16
    # autocast. Measured on one H200 at 817b8f8 (issue 27): 0.67-0.74 steps/s, about 95% of each
    # step in the data path (the exact map's batched SVD); the fast basis and the prior on the
    # device since: `tart bench-train --family tart2 --recipe tart2-gpu` (docs/training_path.md).
    "tart2-gpu": dict(
        family="tart2", preset="full", steps=10**7, batch_size=128, lr=5e-4, min_lr=5e-5,
        schedule="cosine", clock="time", time_limit_s=420.0, warmup_share=0.05, log_every=50,
        ckpt_every=2000, prior=MixturePrior().to_dict(),
        curriculum=asdict(SetCurriculum(tokens=49152, large_frac=0.5)),
    ),
    # tart-2 fine-tuned from the shipped weights (`--init-from src/tart/weights/tart2`) on the broader
    # prior (`MixturePrior.broad()`: every classical learner's home ground, embedding-like spectra,
    # heavy tails, noise features, imbalance) and contexts of 2 to 2,048 examples.
    "tart2-cpu-broad": dict(
        family="tart2", preset="cpu", steps=3000, batch_size=64, lr=3e-4, min_lr=3e-5,
        schedule="cosine", warmup=200, amp="bf16", log_every=50, ckpt_every=250,
        keep_checkpoints=3, model={"whiten_map": "both"}, prior=MixturePrior.broad().to_dict(),
        curriculum=asdict(SetCurriculum(k_min=2, k_max=2048, large_frac=0.3)),
    ),
    # the same prior and contexts at full size in one GPU window (as tart2-gpu)
    "tart2-gpu-broad": dict(
        family="tart2", preset="full", steps=10**7, batch_size=128, lr=5e-4, min_lr=5e-5,
        schedule="cosine", clock="time", time_limit_s=420.0, warmup_share=0.05, log_every=50,
        ckpt_every=2000, model={"whiten_map": "both"}, prior=MixturePrior.broad().to_dict(),
        curriculum=asdict(SetCurriculum(k_min=2, k_max=2048, tokens=49152, large_frac=0.3)),
    ),
    # class-count-free tart-2 on 2 CPU cores: fine-tuned from the shipped weights warm-started into
    # 64 class codes (`python scripts/codes_from_shipped.py --out runs/tart2-codes-init`, then
    # `--init-from runs/tart2-codes-init`) on the broader prior's tasks of 2 to 50 classes
    "tart2-cpu-codes": dict(
        family="tart2", preset="cpu", steps=2000, batch_size=64, lr=3e-4, min_lr=3e-5,
        schedule="cosine", warmup=100, amp="bf16", log_every=50, ckpt_every=250,
        keep_checkpoints=3, model={"whiten_map": "both", "label_codes": True, "n_classes": 64},
        prior=MixturePrior.broad(max_classes=50).to_dict(),
        curriculum=asdict(SetCurriculum(k_min=2, k_max=1024, large_frac=0.3)),
    ),
    # class-count-free tart-2 (`label_codes`: 64 class codes, no weight per class) on the broader
    # prior's tasks of 2 to 50 classes, trained from scratch in one GPU window (as tart2-gpu)
    "tart2-gpu-codes": dict(
        family="tart2", preset="full", steps=10**7, batch_size=128, lr=5e-4, min_lr=5e-5,
        schedule="cosine", clock="time", time_limit_s=420.0, warmup_share=0.05, log_every=50,
        ckpt_every=2000, model={"whiten_map": "both", "label_codes": True, "n_classes": 64},
        prior=MixturePrior.broad(max_classes=50, log_classes=True).to_dict(),
        curriculum=asdict(SetCurriculum(k_min=2, k_max=2048, tokens=49152, large_frac=0.3)),
    ),
    # the same in seconds, for tests: 16 codes, well-separated Gaussian classes, up to 12 of them
    "tart2-tiny-codes": dict(
        family="tart2", preset="tiny", steps=300, batch_size=16, lr=3e-3, warmup=20, log_every=20,
        ckpt_every=100, model={"label_codes": True, "n_classes": 16},
        prior=MixturePrior(weights={"gaussian": 1.0, "isotropic": 1.0}, max_classes=12, max_signal_dims=4,
                           sep_range=(2.0, 5.0), noise_frac=0.0).to_dict(),
        curriculum=asdict(SetCurriculum(k_min=2, k_max=64, d_max=32, n_queries=16, tokens=1024)),
    ),
    # tart-2 in seconds, for tests
    "tart2-tiny": dict(
        family="tart2", preset="tiny", steps=200, batch_size=16, lr=2e-3, warmup=20, log_every=20,
        ckpt_every=100, prior=MixturePrior(max_classes=4, max_signal_dims=4).to_dict(),
        curriculum=asdict(SetCurriculum(k_max=64, d_max=32, n_queries=16, tokens=1024)),
    ),
}
# tart2-cpu-codes continued (init from its run) with class counts log-uniform in 2..50: few-class
# tasks common, as in real data (uniform counts left binary tasks ~16% of the draws)
RECIPES["tart2-cpu-codes-log"] = {**RECIPES["tart2-cpu-codes"], "steps": 2500,
                                  "prior": MixturePrior.broad(max_classes=50, log_classes=True).to_dict()}
# the shipped module (`--init-from src/tart/weights/tart2`) fine-tuned on large contexts only (64 to
# 1,024 examples, half the steps 128 to 1,024), at a third of the rate: does more training where it
# trails the classical learners (k >= 128 on the synthetic tasks) close that gap?
RECIPES["tart2-cpu-codes-large"] = {**RECIPES["tart2-cpu-codes-log"], "steps": 2000, "lr": 1e-4, "min_lr": 1e-5,
                                    "warmup": 50,
                                    "curriculum": asdict(SetCurriculum(k_min=64, k_max=1024, large_frac=0.5))}

# the shipped module grown to 12 layers without changing what it computes (`python
# scripts/deepen_tart2.py --n-layer 12 --out runs/tart2-deep-init`, then `--init-from` it), fine-tuned
# on the shipped prior with the rate scheduled over the run's wall-clock budget: is it the size?
RECIPES["tart2-cpu-codes-deep"] = {**RECIPES["tart2-cpu-codes-log"], "steps": 10**6, "warmup_share": 0.03,
                                   "clock": "time", "time_limit_s": 5400.0, "ckpt_every": 100,
                                   "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "n_layer": 12}}
# its control: the shipped module (`--init-from src/tart/weights/tart2`) trained the same way at its 6 layers
RECIPES["tart2-cpu-codes-more"] = {**RECIPES["tart2-cpu-codes-deep"], "model": RECIPES["tart2-cpu-codes-log"]["model"]}
# the shipped module taught to read a map whose leading row is a two-class context's logistic
# regression's direction (`map_first="logistic"`): `--init-from src/tart/weights/tart2`, one hour
RECIPES["tart2-cpu-codes-first"] = {**RECIPES["tart2-cpu-codes-more"], "time_limit_s": 3600.0,
                                    "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "map_first": "logistic"}}
# the same, the logistic direction fitted in twice the map's span (`map_first="logistic-wide"`)
RECIPES["tart2-cpu-codes-wide"] = {**RECIPES["tart2-cpu-codes-first"],
                                   "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "map_first": "logistic-wide"}}
# the same, the logistic fit's ridge chosen on each context (`map_first="logistic-cv"`)
RECIPES["tart2-cpu-codes-cv"] = {**RECIPES["tart2-cpu-codes-first"],
                                 "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "map_first": "logistic-cv"}}
# the same, the strongest ridge within one standard error of the lowest loss (`map_first="logistic-1se"`):
# `--init-from runs/tart2-cv` (the module `tart2-cpu-codes-cv` trained from the shipped one), one more hour
RECIPES["tart2-cpu-codes-1se"] = {**RECIPES["tart2-cpu-codes-first"],
                                  "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "map_first": "logistic-1se"}}
# the same for two classes, and 3 to 10 classes led by their one-vs-rest fits (`map_first="logistic-ovr"`):
# `--init-from runs/tart2-cv`, one more hour
RECIPES["tart2-cpu-codes-ovr"] = {**RECIPES["tart2-cpu-codes-first"],
                                  "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "map_first": "logistic-ovr"}}
# both maps, each task's led by the class means or by its one-vs-rest fits at random, read at test time as
# views weighed on the context (`map_first="both"`): `--init-from src/tart/weights/tart2` (candidate
# `both`: with `--time-limit-s 5400`)
RECIPES["tart2-cpu-codes-both"] = {**RECIPES["tart2-cpu-codes-first"],
                                   "model": {**RECIPES["tart2-cpu-codes-log"]["model"], "map_first": "both"}}

# the shipped prior with its signal where real embeddings carry theirs (scripts/signal_profile.py,
# docs/signal_profile/signal_profile.md): the signal directions favour the larger-variance ones more strongly
# (lambda_j^u, u in 0.5-2.5 instead of 0-1) and spread over up to 32 of them; `--init-from
# src/tart/weights/tart2`, one hour
ALIGNED_PRIOR = MixturePrior.broad(max_classes=50, log_classes=True, signal_bias_range=(0.5, 2.5), max_signal_dims=32)
RECIPES["tart2-cpu-codes-aligned"] = {**RECIPES["tart2-cpu-codes-first"], "prior": ALIGNED_PRIOR.to_dict(),
                                      "model": RECIPES["tart2-cpu-codes-log"]["model"]}
# the same prior read through the logistic-1se map: `--init-from runs/tart2-1se`, one more hour
RECIPES["tart2-cpu-codes-aligned-1se"] = {**RECIPES["tart2-cpu-codes-1se"], "prior": ALIGNED_PRIOR.to_dict()}


def _weights_shape(cfg) -> dict:
    """A config without the input map's settings (its `map_keys`), which do not shape the weights:
    what `--init-from` must match."""
    return {k: v for k, v in cfg.to_dict().items() if k not in getattr(cfg, "map_keys", ())}


def recipe(name: str) -> TrainConfig:
    """The TrainConfig of a named recipe (see RECIPES)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return TrainConfig(**RECIPES[name])


def lr_at(cfg: TrainConfig, step: int, elapsed_s: float = 0.0) -> float:
    """Learning rate at `step` (clock "steps") or after `elapsed_s` of training (clock "time"):
    linear warm-up, then constant or cosine decay to `min_lr`."""
    if cfg.clock == "time":
        done, warm = min(elapsed_s / cfg.time_limit_s, 1.0), cfg.warmup_share
        if done < warm:
            return cfg.lr * max(done / warm, 1e-3)
        progress = (done - warm) / (1.0 - warm)
    else:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    if cfg.schedule == "constant":
        return cfg.lr
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


def batch_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator for one rank's batch at one step: data depend on (seed, step, rank) only."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + step) * 1_009 + rank)
    return g


def train_step(model, opt, task, autocast=None, grad_clip: float = 1.0) -> float:
    """One optimiser step on a batch of tasks, returns the loss: the loss of the family whose
    batches look like `task` (TART: BCE at every x position; tart-2: cross-entropy per query).
    A batch whose gradient is not finite changes nothing and returns NaN."""
    loss = families.for_batch(task).loss(model, task, autocast or nullcontext())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for group in opt.param_groups for p in group["params"]]
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
    if not torch.isfinite(norm):  # a non-finite gradient (every rank's, after DDP's all-reduce):
        opt.zero_grad(set_to_none=True)  # the step is skipped, the weights stay finite
        return float("nan")
    opt.step()
    return loss.item()


def make_autocast(amp: str, device: torch.device):
    """bf16 autocast on CUDA (amp="auto") or wherever asked (amp="bf16"); else a no-op. Asked on a
    CPU without AMX bfloat16 (`cpu_has_fast_bf16`), it warns: there bf16 is slower than float32."""
    if amp == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        warnings.warn("amp='bf16' on a CPU without AMX / AVX512-BF16: bfloat16 is emulated there and the "
                      "module step runs several times slower than in float32; pass --amp off",
                      RuntimeWarning, stacklevel=2)
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


class _Dist:
    """Rank/world bookkeeping; initialises torch.distributed when launched by torchrun."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, value: float, device: torch.device) -> float:
        if not self.enabled:
            return value
        t = torch.tensor([value], device=device)
        dist.all_reduce(t)
        return t.item() / self.world

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if `flag` is true on any rank."""
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def _check_run_folder(out_dir: Path, resume: bool, overwrite: bool) -> None:
    """A folder that holds a run needs `resume` or `overwrite` (not both)."""
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other")
    existing = runs.run_files(out_dir)
    if existing and not (resume or overwrite):
        raise ValueError(
            f"{out_dir} already holds a training run ({', '.join(p.name for p in existing[:4])}"
            f"{', ...' if len(existing) > 4 else ''}): continue it with --resume, or pass "
            "--overwrite to delete it and start again")


def _start_devices(cfg: TrainConfig) -> tuple[torch.device, _Dist]:
    """This rank's device and the rank bookkeeping (torch.distributed under torchrun)."""
    device = resolve_device(cfg.device)
    ddp = _Dist(device)
    if device.type == "cuda" and ddp.enabled:
        device = torch.device("cuda", ddp.local_rank)
        torch.cuda.set_device(device)
    if cfg.batch_size % ddp.world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by world size {ddp.world}")
    return device, ddp


def _restore(cfg: TrainConfig, model, opt, out_dir: Path, resume: bool, overwrite: bool,
             ddp: _Dist) -> tuple[int, float]:
    """Clear the folder (`overwrite`), or load the latest checkpoint (`resume`), or the weights of
    `cfg.init_from`; returns the step training starts at and the training time before it."""
    if overwrite and ddp.main:
        runs.clear_run(out_dir)
    ddp.barrier()
    ckpt = runs.resume_checkpoint(out_dir) if resume else None
    if ckpt is not None:
        state = checkpoint.load_model(ckpt)[1]
        model.load_state_dict(state, strict=True)
        return runs.load_training_state(ckpt, opt), runs.elapsed_of(ckpt)
    if resume and ddp.main:
        print(f"no checkpoint under {out_dir} (none was committed); starting from scratch",
              file=sys.stderr)
    if cfg.init_from:
        init = type(model).from_pretrained(cfg.init_from)
        if _weights_shape(init.config) != _weights_shape(model.config):
            raise ValueError(f"--init-from {cfg.init_from}: its config {init.config} differs "
                             f"from this run's {model.config}")
        model.load_state_dict(init.state_dict(), strict=True)
    return 0, 0.0


def _record_config(cfg: TrainConfig, out_dir: Path, start: int, ddp: _Dist) -> None:
    """train_config.json, and one line per invocation in train_config_history.jsonl (so a resume
    with new settings keeps the earlier phases' record)."""
    if ddp.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.atomic_write_json(out_dir / "train_config.json", asdict(cfg))
        with open(out_dir / "train_config_history.jsonl", "a") as f:
            f.write(json.dumps({"start_step": start, "config": asdict(cfg)}) + "\n")
    ddp.barrier()


def _wrap(model, cfg: TrainConfig, ddp: _Dist, device: torch.device):
    """The module as the optimiser steps it: DistributedDataParallel and/or torch.compile."""
    train_model = model
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if cfg.compile:
        train_model = torch.compile(train_model)
    return train_model


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True,
          overwrite: bool = False):
    """Train a reasoner per `cfg`, writing metrics and checkpoints under `out_dir`; returns it.

    A folder that already holds a run is continued with `resume=True`, or cleared first with
    `overwrite=True`; otherwise it is a ValueError (nothing there is touched)."""
    out_dir = Path(out_dir)
    _check_run_folder(out_dir, resume, overwrite)
    device, ddp = _start_devices(cfg)
    torch.manual_seed(cfg.seed)
    model = cfg.build_model().to(device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.999),
        fused=device.type == "cuda",
    )
    start, elapsed = _restore(cfg, model, opt, out_dir, resume, overwrite, ddp)
    _record_config(cfg, out_dir, start, ddp)
    _run_steps(cfg, model, _wrap(model, cfg, ddp, device), opt, out_dir, (start, elapsed), ddp, device, progress)
    model.eval()
    if ddp.enabled:
        dist.destroy_process_group()
    return model


def _run_steps(cfg: TrainConfig, model, train_model, opt, out_dir: Path, resumed: tuple[int, float],
               ddp: _Dist, device: torch.device, progress: bool) -> None:
    """The optimiser steps from the resumed (step, training time): batches drawn by the family,
    metrics logged every `log_every` steps, checkpoints every `ckpt_every`, a stop (with a
    checkpoint) at the time limit."""
    fam = cfg.family_entry
    prior, curriculum = fam.prior_from_dict(cfg.prior), fam.curriculum_class(**cfg.curriculum)
    autocast = make_autocast(cfg.amp, device)
    local_batch = cfg.batch_size // ddp.world
    start, before_s = resumed
    metrics_path = out_dir / "metrics.jsonl"
    if ddp.main:
        runs.truncate_metrics(metrics_path, start)
    bar = tqdm(
        total=cfg.steps, initial=start, disable=not (progress and ddp.main), desc="train",
        dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 30.0,  # quiet in logs
    )
    since = {"t": time.perf_counter(), "tokens": 0, "steps": 0, "loss": 0.0, "skipped": 0}
    t0 = time.perf_counter()
    run_s = lambda: before_s + time.perf_counter() - t0  # noqa: E731  (the run's training time)
    model.train()
    for step in range(start, cfg.steps):
        lr = lr_at(cfg, step, ddp.mean(run_s(), device) if cfg.clock == "time" else 0.0)
        drawn = fam.draw_batch(prior, curriculum, model.config, step,
                               partial(batch_generator, cfg.seed, step, ddp.rank), local_batch, device)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = train_step(train_model, opt, drawn.task, autocast, cfg.grad_clip)
        since["skipped"] += math.isnan(loss)
        since["loss"] += 0.0 if math.isnan(loss) else loss
        since["steps"] += 1
        since["tokens"] += drawn.tokens * ddp.world
        bar.update(1)
        done = step + 1
        spent = run_s() - (0.0 if cfg.clock == "time" else before_s)  # "steps": this invocation's
        out_of_time = cfg.time_limit_s is not None and ddp.any(spent > cfg.time_limit_s, device)
        if done % cfg.log_every == 0 or done == cfg.steps or out_of_time:
            row = {"step": done, "loss": ddp.mean(since["loss"] / max(1, since["steps"] - since["skipped"]), device),
                   "skipped": since["skipped"], "lr": lr,
                   "active_dims": drawn.dims, "points": drawn.points,
                   "steps_per_s": since["steps"] / (time.perf_counter() - since["t"]),
                   "tokens_per_s": since["tokens"] / (time.perf_counter() - since["t"]), "elapsed_s": run_s()}
            if ddp.main:
                with open(metrics_path, "a") as f:
                    f.write(json.dumps(row) + "\n")
                bar.set_postfix(loss=f"{row['loss']:.4f}", dims=drawn.dims, pts=drawn.points)
            since = {"t": time.perf_counter(), "tokens": 0, "steps": 0, "loss": 0.0, "skipped": 0}
        if done % cfg.ckpt_every == 0 or done == cfg.steps or out_of_time:
            if ddp.main:
                runs.save_checkpoint(out_dir, model, opt, cfg, done, run_s())
            ddp.barrier()
        if out_of_time:
            if ddp.main:
                print(f"time limit of {cfg.time_limit_s:.0f} s reached after {done} steps")
            break
    bar.close()
