"""Synthetic evaluation: the module against logistic regression (MAP) and the Bayes rule.

For each k, fresh tasks are drawn from the prior with a fixed seed; the first k points of a task
are its context and the next `n_queries` its queries. Three predictors see the same points:
- `tart`: the reasoning module, all queries of a task in one shared-context pass;
- `logreg`: scikit-learn LogisticRegression(C=alpha**2, fit_intercept=False) fitted on the k
  context points, which is the MAP estimate under w ~ N(0, alpha^2 I);
- `bayes`: sigmoid(x . w) with the task's true w (the ceiling).
Accuracy is against the sampled labels; cross-entropy is the mean binary log loss in nats.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from tart.reasoner import Reasoner
from tart.priors_tart import LogisticPrior

DEFAULT_KS = (8, 16, 32, 64, 128, 256)


def logreg_logits(cx_KD: np.ndarray, cy_K: np.ndarray, qx_MD: np.ndarray, alpha: float) -> np.ndarray:
    """Logits of the MAP logistic regression fitted on one context.

    A context holding a single class has no finite-data fit in scikit-learn; it then predicts
    that class with Laplace-smoothed probability (k+1)/(k+2).
    """
    if cy_K.min() == cy_K.max():
        k = len(cy_K)
        p = (k + 1) / (k + 2)
        return np.full(len(qx_MD), np.log(p / (1 - p)) * (1 if cy_K[0] == 1 else -1))
    clf = LogisticRegression(C=alpha**2, fit_intercept=False, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(cx_KD, cy_K)
    return clf.decision_function(qx_MD)


def binary_scores(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy, mean binary cross-entropy in nats) of logits against 0/1 labels."""
    acc = ((logits > 0).float() == y).float().mean().item()
    ce = F.binary_cross_entropy_with_logits(logits.float(), y).item()
    return acc, ce


@torch.no_grad()
def evaluate_synthetic(
    model: Reasoner | None,
    ks: tuple[int, ...] = DEFAULT_KS,
    n_tasks: int = 256,
    n_queries: int = 64,
    prior: LogisticPrior | None = None,
    active_dims: int | None = None,
    seed: int = 1234,
    baselines: bool = True,
    task_batch: int = 64,
) -> list[dict]:
    """One row per k: accuracy and cross-entropy of the module, logistic regression and Bayes.

    `model=None` evaluates the baselines only. Ks the model cannot hold are skipped with a row
    that says so (`"skipped"`).
    """
    prior = prior or LogisticPrior(n_dims=model.config.n_dims if model else 16)
    rows = []
    for k in ks:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if model is not None and k + 1 > model.config.max_points:
            rows.append({"k": k, "skipped": f"model holds at most {model.config.max_points - 1}"})
            continue
        g = torch.Generator().manual_seed(seed + k)
        task = prior.sample(n_tasks, k + n_queries, active_dims, generator=g)
        cx, cy = task.x_BND[:, :k], task.y_BN[:, :k]
        qx, qy = task.x_BND[:, k:], task.y_BN[:, k:]
        row: dict = {"k": k, "n_tasks": n_tasks, "n_queries": n_queries}
        if model is not None:
            logits = torch.cat([
                model.predict(cx[i : i + task_batch], cy[i : i + task_batch], qx[i : i + task_batch]).cpu()
                for i in range(0, n_tasks, task_batch)
            ])
            row["tart_acc"], row["tart_ce"] = binary_scores(logits, qy)
        if baselines:
            lr = torch.from_numpy(np.stack([
                logreg_logits(cx[i].numpy(), cy[i].numpy(), qx[i].numpy(), prior.alpha)
                for i in range(n_tasks)
            ])).float()
            row["logreg_acc"], row["logreg_ce"] = binary_scores(lr, qy)
            row["bayes_acc"], row["bayes_ce"] = binary_scores(task.bayes_logits()[:, k:], qy)
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table of `evaluate_synthetic` rows."""
    cols = [c for c in ("tart", "logreg", "bayes") if any(f"{c}_acc" in r for r in rows)]
    head = "| k | " + " | ".join(f"{c} acc | {c} CE" for c in cols) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(cols))]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['k']} | " + " | ".join(["-"] * 2 * len(cols)) + " |")
            continue
        cells = [f"{r[f'{c}_acc']:.3f} | {r[f'{c}_ce']:.3f}" for c in cols]
        lines.append(f"| {r['k']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
