"""The synthetic report's paired standard errors, and scripts/synthetic_redraws.py's selection and pooling."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tart.eval import synthetic_set as es
from tart.set_reasoner import SetReasoner, tart2_preset

spec = importlib.util.spec_from_file_location("synthetic_redraws",
                                              Path(__file__).parents[1] / "scripts" / "synthetic_redraws.py")
redraws = importlib.util.module_from_spec(spec)
spec.loader.exec_module(redraws)


def test_gap_se_is_the_paired_standard_error():
    a, b = [0.5, 0.75, 0.25, 1.0], [0.5, 0.5, 0.5, 0.5]
    d = np.array(a) - np.array(b)
    assert es._gap_se(a, b) == pytest.approx(d.std(ddof=1) / 2.0)
    assert es._gap_se(a, a) == 0.0  # the same tasks: no difference, no error
    assert np.isnan(es._gap_se([0.5], [0.25]))


def test_rows_carry_the_gap_se_and_old_cache_entries_are_recomputed(tmp_path):
    model = SetReasoner(tart2_preset("tiny")).eval()
    kw = dict(ks=(8,), components=("gaussian",), n_tasks=5, n_queries=6, n_raw=6)
    fresh = es.evaluate_components(model, **kw)[0]
    cache = tmp_path / "baselines.json"
    assert es.evaluate_components(model, **kw, cache_file=cache)[0] == fresh
    entries = json.loads(cache.read_text())
    assert all(len(v) == 3 and len(v[2]) == 5 for v in entries.values())  # acc, CE, each task's accuracy
    cache.write_text(json.dumps({key: v[:2] for key, v in entries.items()}))  # as written before per-task scores
    row = es.evaluate_components(model, **kw, cache_file=cache)[0]
    assert row == fresh and 0.0 <= row["gap_se"] < 1.0
    assert json.loads(cache.read_text()) == entries
    assert "| SE |" in es.format_components([row]) and f"| {100 * row['gap_se']:.1f} |" in es.format_components([row])


def test_redraws_select_short_cells_and_pool_against_one_baseline(tmp_path):
    rows = [dict(component="softmax", k=16, tart2_acc=0.30, logreg_acc=0.32, lda_acc=0.30, best="logreg"),
            dict(component="logistic", k=128, tart2_acc=0.6691, logreg_acc=0.679, lda_acc=0.66, best="logreg"),
            dict(component="gaussian", k=16, tart2_acc=0.40, logreg_acc=0.38, lda_acc=0.37, best="logreg"),
            dict(component="softmax", k=512, tart2_acc=0.46, logreg_acc=0.49, lda_acc=0.46, best="logreg")]
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"components": rows}))
    cells = redraws.short_cells(report, below=1.0, max_k=256)
    assert [(c, k) for c, k, _ in cells] == [("softmax", 16), ("logistic", 128)]  # -0.99 shows as -1.0
    draws = [dict(tart2_acc=0.30, logreg_acc=0.31, lda_acc=0.29), dict(tart2_acc=0.35, logreg_acc=0.30, lda_acc=0.33)]
    best, gap, se = redraws.pooled(draws)
    assert best == "lda"  # best over all the draws (0.31 against 0.305), though not in the first
    assert gap == pytest.approx(1.5) and se == pytest.approx(0.5)


def test_all_cells_smallest_k_first_with_the_reports_gaps(tmp_path):
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"components": [
        dict(component="softmax", k=16, tart2_acc=0.30, logreg_acc=0.32, lda_acc=0.30, best="logreg")]}))
    cells = redraws.all_cells(report, max_k=16)
    assert [k for _, k, _ in cells] == [8] * len(es.COMPONENTS) + [16] * len(es.COMPONENTS)
    gaps = {(c, k): g for c, k, g in cells}
    assert gaps[("softmax", 16)] == pytest.approx(-2.0) and gaps[("softmax", 8)] is None
    rows = [dict(tart2_acc=0.30, logreg_acc=0.32, lda_acc=0.29), dict(tart2_acc=0.30, logreg_acc=0.32, lda_acc=0.29)]
    assert "1 of 1 cells more than 1 point" in redraws.summary([("softmax", 16, None, rows)])


def test_lda_with_one_example_per_class_is_the_nearest_class_mean():
    """Shrinkage LDA cannot estimate a spread within classes of one example (scikit-learn refuses
    the fit); the baseline then uses the identity covariance: the nearest class mean."""
    from tart.eval.probes import lda, lda_proba

    rng = np.random.default_rng(0)
    Xc, yc, Xq = rng.normal(size=(4, 6)), np.array([3, 0, 2, 1]), rng.normal(size=(9, 6))
    p = lda_proba(Xc, yc, Xq)
    nearest = np.argmin(((Xq[:, None] - Xc[None]) ** 2).sum(-1), axis=1)
    assert np.allclose(p.sum(1), 1.0) and (p.argmax(1) == yc[nearest]).all()
    assert lda(Xc, yc, Xq).shape == (9, 4)
    many = np.repeat([0, 1, 2, 3], 3)  # more examples than classes: scikit-learn's shrinkage LDA
    Xm = rng.normal(size=(12, 6))
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    ref = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(Xm, many).predict_proba(Xq)
    assert np.allclose(lda_proba(Xm, many, Xq), ref)
    rows = es.baseline_proba("lda", Xc, yc, Xq, 5)
    assert rows.shape == (9, 5) and np.allclose(rows.sum(1), 1.0) and (rows[:, 4] == 0).all()


def test_evaluation_draws_each_task_alone(monkeypatch):
    """`sample` shares one number of signal directions and one frame across its batch, so a row of
    tasks drawn together sits at one of those draws; the evaluation draws its tasks one at a time."""
    import torch

    from tart.priors_tart2 import MixturePrior

    prior = MixturePrior(max_classes=5)
    each = prior.sample_each(3, 30, 6, torch.Generator().manual_seed(5), components=("softmax",))
    g = torch.Generator().manual_seed(5)
    parts = [prior.sample(1, 30, 6, g, components=("softmax",)) for _ in range(3)]
    assert torch.equal(each.x_BND, torch.cat([p.x_BND for p in parts]))
    assert torch.equal(each.y_BN, torch.cat([p.y_BN for p in parts]))
    sizes = []
    real = MixturePrior.sample
    monkeypatch.setattr(MixturePrior, "sample", lambda self, b, *a, **kw: sizes.append(b) or real(self, b, *a, **kw))
    es.evaluate_components(None, ks=(8,), components=("softmax",), n_tasks=4, n_queries=4, n_raw=6)
    assert sizes == [1, 1, 1, 1]


def test_report_says_what_tart2_is_and_how_tasks_were_drawn():
    from argparse import Namespace

    from tart.cli import set_report_text

    row = dict(component="gaussian", k=8, tart2_acc=0.5, tart2_ce=0.7, logreg_acc=0.4, logreg_ce=0.8,
               lda_acc=0.45, lda_ce=0.75, best="lda", gap_se=0.01)
    tart_row = dict(k=8, tart2_acc=0.6, tart2_ce=0.6, tart_acc=0.7, tart_ce=0.5, logreg_acc=0.7, logreg_ce=0.9)
    args = Namespace(n_tasks=5, n_queries=6, n_raw=7, stack=None)
    alone = set_report_text("tart eval-synthetic --stack none", args, [row], [tart_row])
    assert "the module alone (`TartClassifier(stack=None)`)" in alone and "`MixturePrior.sample_each`" in alone
    assert "(5 tasks x 6 queries per row, raw width 7)" in alone and es.format_components([row]) in alone
    default = set_report_text("tart eval-synthetic", Namespace(**{**vars(args), "stack": 4.0}), [row], [tart_row])
    assert "with its linear member" in default and "module alone" not in default
