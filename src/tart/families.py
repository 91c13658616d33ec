"""The registry of module families: what differs between `tart` (the paper's module) and `tart2`
(the set-layout module), in one place, so training, the CLI, export, benchmarks and evaluation
look a family up instead of branching on it.

Each `Family` names its config and module classes, presets, prior and curriculum, the input map it
reads, its synthetic evaluation and its exporter, and the two training hooks that differ (how a
batch is drawn, the loss). Evaluation and export are tooling: they are named as "module:function"
references and imported only when called, so `import tart` loads neither.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from tart import priors_tart, priors_tart2
from tart.reasoner import TART_PRESETS, Reasoner, ReasonerConfig, tart_preset
from tart.set_reasoner import TART2_PRESETS, SetReasoner, SetReasonerConfig, tart2_preset


@dataclass(frozen=True)
class Drawn:
    """One rank's training batch and what the trainer logs about it."""

    task: Any  # the batch the family's loss reads
    dims: int  # feature width logged as `active_dims`
    points: int  # points per task logged as `points` (tart: sequence length; tart2: context K)
    tokens: int  # tokens in this rank's batch


@dataclass(frozen=True)
class Family:
    """A module family: its classes, presets, prior, curriculum, input map, evaluator, exporter."""

    name: str  # TrainConfig.family, and the shipped module's name for load_reasoner
    about: str
    config_class: type
    module_class: type
    presets: Mapping[str, Any]
    preset: Callable[[str], Any]  # a fresh copy of a named preset's config
    prior_class: type
    prior_from_dict: Callable[[dict], Any]
    curriculum_class: type
    batch_class: type  # what `draw_batch` returns in `Drawn.task`
    input_map: str  # "module:name" of the map fitted on each context before the module reads it
    strategy: str  # "module:class" of the classifier's strategy (tart.strategy): its map, plan, folds
    evaluator: str  # "module:function", the synthetic evaluation: evaluator(model, **options) -> rows
    exporter: str  # "module:function", writes an exported run's evaluation and model card
    shipped: str  # the shipped module's folder under tart/weights/
    draw_batch: Callable[..., Drawn]  # (prior, curriculum, model_cfg, step, generator_on, n, device)
    loss: Callable[..., torch.Tensor]  # (model, task, autocast) -> scalar training loss
    check_recipe: Callable[[Any, Any, Any], None]  # (curriculum, prior, model_cfg): ValueError if unfit

    @property
    def model_type(self) -> str:
        """The `model_type` its module writes to config.json."""
        return self.module_class.model_type

    def model_config(self, preset: str, overrides: Mapping[str, Any] | None = None):
        """A preset's config with `overrides` (field -> value) applied."""
        return self.config_class(**{**self.preset(preset).to_dict(), **(overrides or {})})

    def evaluate(self, model, **options):
        """The family's synthetic evaluation of `model` (imported on first use)."""
        return resolve(self.evaluator)(model, **options)

    def export(self, model, out_dir, summary: dict, **options) -> dict:
        """Write an exported run's evaluation and model card into `out_dir` (imported on first use)."""
        return resolve(self.exporter)(model, out_dir, summary, **options)


def resolve(ref: str):
    """The object a "package.module:name" reference names."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# ---- the faithful family ---------------------------------------------------------------------
def _draw_tart(prior, curriculum, model_cfg, step: int, generator_on, n: int, device) -> Drawn:
    """Logistic tasks at the curriculum's (dims, points), drawn on `device`."""
    dims, points = curriculum.at(step)
    task = prior.sample(n, points, dims, generator=generator_on(device), device=device)
    return Drawn(task, dims, points, 2 * points * n)


def _loss_tart(model, task, autocast) -> torch.Tensor:
    """Binary cross-entropy at every x position of the sequences, averaged."""
    with autocast:
        logits = model(task.x_BND, task.y_BN)
    return F.binary_cross_entropy_with_logits(logits.float(), task.y_BN)


def _check_tart(curriculum, prior, model_cfg: ReasonerConfig) -> None:
    """The curriculum's longest sequence fits the module's positions."""
    if curriculum.points_end > model_cfg.max_points:
        raise ValueError(f"curriculum reaches {curriculum.points_end} points but the model holds "
                         f"{model_cfg.max_points}")


# ---- tart-2 ------------------------------------------------------------------------------------
def _draw_tart2(prior, curriculum, model_cfg: SetReasonerConfig, step: int, generator_on, n: int,
                device) -> Drawn:
    """Raw tasks drawn on `device` (its own generator), each mapped there by the map fitted on
    its context, its basis found as the curriculum says (`map_basis`)."""
    g = generator_on(device)
    task = priors_tart2.sample_set_batch(prior, curriculum, model_cfg.n_dims, n, g,
                                         device=device, whiten=model_cfg.whiten_map,
                                         basis=curriculum.map_basis, first=model_cfg.map_first)
    if model_cfg.label_codes:  # class-count-free labels: each task's classes in random slots
        task = priors_tart2.assign_slots(task, model_cfg.n_classes, g)
    B, K = task.cx_BKd.shape[:2]
    return Drawn(task, model_cfg.n_dims, K, B * (K + task.qx_BMd.shape[1]))


def _loss_tart2(model, task, autocast) -> torch.Tensor:
    """Cross-entropy of every query over its task's classes."""
    with autocast:
        if task.used_BL is None:
            logits = model(task.cx_BKd, task.cy_BK, task.qx_BMd, task.n_classes_B)
        else:
            logits = model(task.cx_BKd, task.cy_BK, task.qx_BMd, used_BL=task.used_BL)
    return F.cross_entropy(logits.float().flatten(0, 1), task.qy_BM.flatten())


def _check_tart2(curriculum, prior, model_cfg) -> None:
    """tart-2 reads any context size; the prior's classes must fit the module's."""
    if prior.max_classes > model_cfg.n_classes:
        raise ValueError(f"the prior draws up to {prior.max_classes} classes but the module reads "
                         f"{model_cfg.n_classes}")


TART = Family(
    name="tart", about="the paper's module: GPT-2 layout, binary, logistic prior",
    config_class=ReasonerConfig, module_class=Reasoner, presets=TART_PRESETS, preset=tart_preset,
    prior_class=priors_tart.LogisticPrior, prior_from_dict=priors_tart.prior_from_dict,
    curriculum_class=priors_tart.Curriculum, batch_class=priors_tart.Task,
    input_map="tart.projection:ContextProjection", strategy="tart.strategy:FaithfulStrategy",
    evaluator="tart.eval.synthetic:evaluate_synthetic", exporter="tart.export:export_tart",
    shipped="default", draw_batch=_draw_tart, loss=_loss_tart, check_recipe=_check_tart,
)
TART2 = Family(
    name="tart2", about="the set-layout module: order-free, multi-class, mixture prior",
    config_class=SetReasonerConfig, module_class=SetReasoner, presets=TART2_PRESETS,
    preset=tart2_preset, prior_class=priors_tart2.MixturePrior,
    prior_from_dict=priors_tart2.prior_from_dict, curriculum_class=priors_tart2.SetCurriculum,
    batch_class=priors_tart2.SetBatch, input_map="tart.projection:fit_set_map",
    strategy="tart.strategy:SetStrategy",
    evaluator="tart.eval.synthetic_set:evaluate_components", exporter="tart.export:export_tart2",
    shipped="tart2", draw_batch=_draw_tart2, loss=_loss_tart2, check_recipe=_check_tart2,
)
FAMILIES: dict[str, Family] = {f.name: f for f in (TART, TART2)}
DEFAULT = TART2  # the classifier's default module


def get(name: str) -> Family:
    """The family called `name` ("tart" or "tart2")."""
    if name not in FAMILIES:
        raise ValueError(f"family must be one of {tuple(FAMILIES)}, got {name!r}")
    return FAMILIES[name]


def for_model_type(model_type: str | None) -> Family:
    """The family whose module writes this config.json `model_type` (none or unknown: `tart`,
    whose `from_pretrained` then names the problem)."""
    return next((f for f in FAMILIES.values() if f.model_type == model_type), TART)


def for_module(module) -> Family:
    """The family of a module instance."""
    for family in FAMILIES.values():
        if isinstance(module, family.module_class):
            return family
    raise TypeError(f"{type(module).__name__} is no module of a known family ({', '.join(FAMILIES)})")


def for_batch(task) -> Family:
    """The family whose training batches look like `task`."""
    for family in FAMILIES.values():
        if isinstance(task, family.batch_class):
            return family
    raise TypeError(f"{type(task).__name__} is no training batch of a known family")


def all_presets() -> list[str]:
    """Every preset name of every family, sorted (a name may belong to several)."""
    return sorted({name for family in FAMILIES.values() for name in family.presets})
