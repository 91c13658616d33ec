"""Few-shot accuracy on fixed embeddings: TART against probes on the same class-balanced contexts.

Contexts are nested and class-balanced: for a seed, each class's pool indices are shuffled once and
the context of size k takes the first k/2 of each, so the k=32 context contains the k=16 one. The
test set is a fixed class-balanced sample drawn from the test split.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from tart.classifier import TartClassifier
from tart.projection import ContextProjection


def balanced_context(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of a class-balanced context of size k (nested in k for a fixed seed)."""
    if k % 2:
        raise ValueError(f"k must be even for a balanced binary context, got {k}")
    rng = np.random.default_rng(seed)
    parts = []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < k // 2:
            raise ValueError(f"class {c} has {len(idx)} examples, the context needs {k // 2}")
        parts.append(idx[: k // 2])
    order = np.random.default_rng(seed + 10_000).permutation(k)
    return np.concatenate(parts)[order]


def balanced_test(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced test sample of size n (or fewer if a class runs out)."""
    rng = np.random.default_rng(seed)
    per = min(n // 2, *(int((y == c).sum()) for c in (0, 1)))
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in (0, 1)]))


def logreg_projected(Xc, yc, Xq, n_components: int = 16, **projection) -> np.ndarray:
    """The paper's probe: logistic regression on the projected features TART reads (its defaults:
    class-mean basis, automatic standardisation; `projection` overrides, e.g. basis="pca")."""
    p = ContextProjection(16, n_components, **{"basis": "class-mean", **projection}).fit(Xc, yc)
    return LogisticRegression(max_iter=2000).fit(p.transform(Xc), yc).predict(p.transform(Xq))


def logreg_full(Xc, yc, Xq) -> np.ndarray:
    """Logistic regression on the full standardised embeddings, C by cross-validation."""
    s = StandardScaler().fit(Xc)
    folds = int(min(5, np.bincount(yc).min()))
    clf = LogisticRegression(max_iter=2000)
    if folds >= 2:
        clf = GridSearchCV(clf, {"C": np.logspace(-4, 4, 9)}, cv=folds, scoring="neg_log_loss")
    return clf.fit(s.transform(Xc), yc).predict(s.transform(Xq))


def lda(Xc, yc, Xq) -> np.ndarray:
    """Shrinkage LDA (lsqr solver, Ledoit-Wolf shrinkage) on features standardised with the
    context's mean and std (a constant feature gets std 1, so no NaN); any number of classes."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    s = StandardScaler().fit(Xc)
    clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    return clf.fit(s.transform(Xc), yc).predict(s.transform(Xq))


def ncm(Xc, yc, Xq) -> np.ndarray:
    """Nearest class mean by cosine similarity: the class whose context mean is most similar to
    the query (a zero vector scores 0 against every class, never NaN); any number of classes."""
    Xc, Xq, yc = np.asarray(Xc, np.float64), np.asarray(Xq, np.float64), np.asarray(yc)
    classes = np.unique(yc)
    means = np.stack([Xc[yc == c].mean(axis=0) for c in classes])

    def unit(a: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(a, axis=1, keepdims=True)
        return a / np.where(norm > 0, norm, 1.0)

    return classes[np.argmax(unit(Xq) @ unit(means).T, axis=1)]


def fewshot_grid(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
    ks=(16, 32, 64, 128, 256), seeds=(0, 1, 2), methods: dict | None = None,
) -> list[dict]:
    """Accuracy rows {method, k, seed, acc} for each method on the same contexts and test set."""
    methods = methods or {
        "tart": lambda Xc, yc, Xq: TartClassifier().fit(Xc, yc).predict(Xq),
        "logreg_projected": logreg_projected,
        "logreg_full": logreg_full,
    }
    rows = []
    for seed in seeds:
        for k in ks:
            idx = balanced_context(y_train, k, seed)
            for name, fn in methods.items():
                pred = fn(X_train[idx], y_train[idx], X_test)
                rows.append({"method": name, "k": k, "seed": seed, "acc": float((pred == y_test).mean())})
    return rows


def summarize(rows: list[dict]) -> str:
    """Markdown table: mean (std) accuracy over seeds, one row per method, one column per k."""
    ks = sorted({r["k"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out = ["| method | " + " | ".join(f"k={k}" for k in ks) + " |", "|---" * (len(ks) + 1) + "|"]
    for m in methods:
        cells = []
        for k in ks:
            a = np.array([r["acc"] for r in rows if r["method"] == m and r["k"] == k])
            cells.append(f"{a.mean():.3f} ({a.std():.3f})")
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(out)
