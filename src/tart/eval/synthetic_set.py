"""Synthetic evaluation of tart-2: each prior component against classical learners, and TART's tasks.

`evaluate_components`: for each component of the mixture prior and each k, fresh tasks (fixed
seed), drawn one at a time (`MixturePrior.sample_each`: each its own number of signal directions
and frame), in a raw space of `n_raw` dims; the first k points of a task are its context, the next
`n_queries` its queries. tart-2 predicts them as `TartClassifier(reasoner=model)` with its
default settings would (`classifier_proba`: the classifier's own plan, views weighted on the
context, temperature, batched over tasks). The classical learners see the raw features, standardised on the context:
- `logreg`: logistic (softmax) regression with C chosen by 3-fold cross-validation on the context;
- `lda`: shrinkage LDA (`solver="lsqr", shrinkage="auto"`; `tart.eval.probes.lda_proba`), the
  plug-in rule of the Gaussian components.
`evaluate_tart_tasks`: TART's own tasks (d = 16, alpha = 10, as `tart.eval.synthetic`) for tart-2, the
faithful module and MAP logistic regression, on the same draws as `tart eval-synthetic`.
Accuracy against the sampled labels; CE is the mean log loss in nats.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from tart.checkpoint import atomic_write_json
from tart.eval.probes import lda_proba
from tart.eval.synthetic import binary_scores, logreg_logits
from tart.priors_tart2 import COMPONENTS, MixturePrior
from tart.classifier import TartClassifier
from tart.inputs import condition
from tart.plan import Job, combine, execute
from tart.reasoner import Reasoner
from tart.set_reasoner import SetReasoner
from tart.strategy import SetStrategy, fit_plans
from tart.priors_tart import LogisticPrior

SET_KS = (8, 16, 32, 64, 128, 256, 512)
BASELINES = ("logreg", "lda")
DRAWS = "each task alone"  # how evaluate_components draws its tasks (in the evaluation files' spec)


def classifier_proba(model: SetReasoner, cx_BKD: torch.Tensor, cy_BK: torch.Tensor, qx_BMD: torch.Tensor,
                     n_classes_B: torch.Tensor, task_batch: int = 16, **params) -> np.ndarray:
    """What `TartClassifier(reasoner=model, **params)` (default settings otherwise) fitted on each
    raw task's context predicts for its queries: probabilities [B, M, L] (L the most classes of any
    task; classes absent from a context get 0). The same plan as the classifier's
    (`tart.strategy.fit_plans`: views weighted on the context, temperature, linear member), run batched over the
    tasks. A context with one class predicts it (Laplace-smoothed, as the baselines)."""
    fam = SetStrategy(TartClassifier(**params).get_params(deep=False), model)
    B, M, L = len(cx_BKD), qx_BMD.shape[1], int(n_classes_B.max())
    out = np.zeros((B, M, L))
    for start in range(0, B, task_batch):
        tasks, contexts, queries = [], [], []
        for b in range(start, min(start + task_batch, B)):
            classes, y = np.unique(cy_BK[b].numpy(), return_inverse=True)
            if len(classes) == 1:
                out[b] = baseline_proba("one-class", cx_BKD[b].numpy(), cy_BK[b].numpy(), qx_BMD[b].numpy(), L)
                continue
            ctx, q = condition(cx_BKD[b].double().numpy(), qx_BMD[b].double().numpy())
            tasks.append((b, classes))
            contexts.append((ctx, ctx, y.astype(np.int64), len(classes)))
            queries.append(q)
        fitted = fit_plans(fam, model, contexts, temperature=True) if contexts else []
        jobs = [Job(f.plan, c[1], q, f.maps) for f, c, q in zip(fitted, contexts, queries)]
        probs = execute(model, fam.template(), jobs)[0] if jobs else []
        for (b, classes), f, p, q in zip(tasks, fitted, probs, queries):
            proba = combine(f.plan, p, temperature=f.temperature)
            out[b][:, classes] = proba if f.linear is None else f.linear.mix(proba, q)
    return out


def _proba(clf, Xq: np.ndarray, L: int) -> np.ndarray:
    p = np.zeros((len(Xq), L))
    p[:, clf.classes_] = clf.predict_proba(Xq)
    return p


def baseline_proba(name: str, cx: np.ndarray, cy: np.ndarray, qx: np.ndarray, L: int) -> np.ndarray:
    """Probabilities [M, L] of a classical learner fitted on one context (standardised features).
    A context with one class predicts it with Laplace-smoothed probability."""
    present = np.unique(cy)
    if len(present) == 1 or name == "one-class":
        p = np.full((len(qx), L), 1.0 / (len(cy) + L))
        p[:, present[0]] = (len(cy) + 1.0) / (len(cy) + L)
        return p
    scaler = StandardScaler().fit(cx)
    xs, qs = scaler.transform(cx), scaler.transform(qx)
    with warnings.catch_warnings():  # one-example classes and short fits warn; the result stands
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        if name == "lda":
            p = np.zeros((len(qs), L))
            p[:, present] = lda_proba(xs, cy, qs)
            return p
        clf = LogisticRegression(max_iter=500)
        folds = int(min(3, np.bincount(cy)[present].min()))
        if folds >= 2:
            cv = StratifiedKFold(folds, shuffle=True, random_state=0)
            clf = GridSearchCV(clf, {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}, cv=cv, scoring="neg_log_loss")
        return _proba(clf.fit(xs, cy), qs, L)


def _scores(proba_BML: np.ndarray, qy_BM: np.ndarray) -> tuple[float, float, list[float]]:
    """Accuracy, CE and each task's accuracy (for paired standard errors)."""
    acc_B = (proba_BML.argmax(-1) == qy_BM).mean(-1)
    p_true = np.take_along_axis(proba_BML, qy_BM[..., None], -1)[..., 0]
    return float(acc_B.mean()), float(-np.log(np.clip(p_true, 1e-12, 1.0)).mean()), acc_B.tolist()


def _gap_se(a_B: list[float], b_B: list[float]) -> float:
    """Standard error of the mean of the per-task accuracy differences a - b (the same tasks)."""
    d_B = np.asarray(a_B) - np.asarray(b_B)
    return float(d_B.std(ddof=1) / np.sqrt(len(d_B))) if len(d_B) > 1 else float("nan")


def evaluate_components(
    model: SetReasoner | None, ks=SET_KS, components=COMPONENTS, n_tasks: int = 64, n_queries: int = 64,
    n_raw: int = 64, seed: int = 1234, baselines=BASELINES, prior: MixturePrior | None = None,
    cache_file: Path | None = None, stack="auto",
) -> list[dict]:
    """One row per (component, k): accuracy and CE of tart-2 and each baseline, `best`, the name of
    the most accurate baseline, and `gap_se`, the standard error of tart-2's accuracy minus the
    best's over the row's tasks (paired: the same tasks). The baselines' scores depend only on the
    tasks, so with `cache_file` (a JSON file) they are computed once per (component, k, sizes,
    seed, prior)."""
    # tasks of up to 10 classes whatever the module reads (a class-count-free module's 64 codes
    # included), so modules are compared on the same tasks
    L = min(model.config.n_classes, 10) if model is not None else 10
    prior = prior or MixturePrior(max_classes=L)
    prior_key = hashlib.sha256(json.dumps(prior.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    cache = json.loads(Path(cache_file).read_text()) if cache_file is not None and Path(cache_file).is_file() else {}
    rows = []
    for comp in components:
        for k in ks:  # each (component, k) has its own draw, whatever else is evaluated
            g = torch.Generator().manual_seed(seed + 1000 * COMPONENTS.index(comp) + k)
            t = prior.sample_each(n_tasks, k + n_queries, n_raw, g, components=(comp,))
            cx, cy, qx, qy = t.x_BND[:, :k], t.y_BN[:, :k], t.x_BND[:, k:], t.y_BN[:, k:]
            row: dict = {"component": comp, "k": k, "n_tasks": n_tasks, "n_queries": n_queries, "n_raw": n_raw}
            per_task = {}
            if model is not None:
                proba = classifier_proba(model, cx, cy, qx, t.n_classes_B, stack=stack)
                row["tart2_acc"], row["tart2_ce"], per_task["tart2"] = _scores(proba, qy.numpy())
            for name in baselines:
                key = f"{comp}|{k}|{n_tasks}|{n_queries}|{n_raw}|{seed}|{L}|{name}|{prior_key}|each"
                if len(cache.get(key, ())) < 3:  # absent, or cached before per-task accuracies were kept
                    proba = np.stack([baseline_proba(name, cx[b].numpy(), cy[b].numpy(), qx[b].numpy(), L)
                                      for b in range(n_tasks)])
                    cache[key] = _scores(proba, qy.numpy())
                    if cache_file is not None:
                        Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
                        atomic_write_json(Path(cache_file), cache)
                row[f"{name}_acc"], row[f"{name}_ce"], per_task[name] = cache[key]
            if baselines:
                row["best"] = max(baselines, key=lambda b: row[f"{b}_acc"])
                if model is not None:
                    row["gap_se"] = _gap_se(per_task["tart2"], per_task[row["best"]])
            rows.append(row)
    return rows


@torch.no_grad()
def evaluate_tart_tasks(model: SetReasoner, faithful: Reasoner | None = None,
                        ks: tuple[int, ...] = (8, 16, 32, 64, 128, 256), n_tasks: int = 256,
                        n_queries: int = 64, seed: int = 1234, stack="auto") -> list[dict]:
    """TART's logistic tasks (the same draws as `tart.eval.synthetic.evaluate_synthetic`): tart-2 through
    its map (the classifier's `stack`), the faithful module on the raw 16 dims, MAP logistic regression."""
    prior = LogisticPrior()
    rows = []
    for k in ks:
        g = torch.Generator().manual_seed(seed + k)
        task = prior.sample(n_tasks, k + n_queries, None, generator=g)
        cx, cy, qx, qy = task.x_BND[:, :k], task.y_BN[:, :k], task.x_BND[:, k:], task.y_BN[:, k:]
        row: dict = {"k": k, "n_tasks": n_tasks, "n_queries": n_queries}
        p = np.clip(classifier_proba(model, cx, cy.long(), qx, torch.full((n_tasks,), 2), stack=stack), 1e-12, 1.0)
        row["tart2_acc"], row["tart2_ce"] = binary_scores(torch.from_numpy(np.log(p[..., 1]) - np.log(p[..., 0])), qy)
        if faithful is not None and k + 1 <= faithful.config.max_points:
            f = torch.cat([faithful.predict(cx[i : i + 64], cy[i : i + 64], qx[i : i + 64]).cpu()
                           for i in range(0, n_tasks, 64)])
            row["tart_acc"], row["tart_ce"] = binary_scores(f, qy)
        lr = torch.from_numpy(np.stack([logreg_logits(cx[i].numpy(), cy[i].numpy(), qx[i].numpy(), prior.alpha)
                                        for i in range(n_tasks)])).float()
        row["logreg_acc"], row["logreg_ce"] = binary_scores(lr, qy)
        rows.append(row)
    return rows


def format_components(rows: list[dict]) -> str:
    """Markdown: accuracy of tart-2 and each baseline, tart-2 minus the best baseline and that
    difference's standard error over the row's tasks."""
    names = [n for n in ("tart2", *BASELINES) if any(f"{n}_acc" in r for r in rows)]
    head = "| component | k | " + " | ".join(f"{n} acc" for n in names) + " | tart2 - best (points) | SE |"
    lines = [head, "|" + "---|" * (len(names) + 4)]
    for r in rows:
        gap = f"{100 * (r['tart2_acc'] - r[r['best'] + '_acc']):+.1f}" if "tart2_acc" in r and "best" in r else "-"
        se = f"{100 * r['gap_se']:.1f}" if "gap_se" in r else "-"
        lines.append(f"| {r['component']} | {r['k']} | " + " | ".join(f"{r[n + '_acc']:.3f}" for n in names)
                     + f" | {gap} | {se} |")
    return "\n".join(lines)


def format_tart_tasks(rows: list[dict]) -> str:
    names = [n for n in ("tart2", "tart", "logreg") if any(f"{n}_acc" in r for r in rows)]
    lines = ["| k | " + " | ".join(f"{n} acc | {n} CE" for n in names) + " | tart2 - tart (points) |",
             "|" + "---|" * (2 + 2 * len(names))]
    for r in rows:
        gap = f"{100 * (r['tart2_acc'] - r['tart_acc']):+.1f}" if "tart_acc" in r else "-"
        cells = [f"{r[n + '_acc']:.3f} | {r[n + '_ce']:.3f}" if n + "_acc" in r else "- | -" for n in names]
        lines.append(f"| {r['k']} | " + " | ".join(cells) + f" | {gap} |")
    return "\n".join(lines)
