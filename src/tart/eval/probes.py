"""Probes on fixed embeddings: `fn(Xc, yc, Xq) -> predictions` fitted on the k context examples:
labels, or probabilities [m, L] (classes 0..L-1) where the probe has them (logreg_full, lda, knn)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from tart.projection import ContextProjection


def logreg_projected(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray, n_components: int = 16,
                     **projection) -> np.ndarray:
    """The paper's probe: logistic regression on the projected features TART reads (its defaults:
    class-mean basis, automatic standardisation; `projection` overrides, e.g. basis="pca")."""
    p = ContextProjection(16, n_components, **{"basis": "class-mean", **projection}).fit(Xc, yc)
    return LogisticRegression(max_iter=2000).fit(p.transform(Xc), yc).predict(p.transform(Xq))


def logreg_full(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Logistic regression on the full standardised embeddings, C by cross-validation."""
    s = StandardScaler().fit(Xc)
    folds = int(min(5, np.bincount(yc).min()))
    clf = LogisticRegression(max_iter=2000)
    if folds >= 2:
        clf = GridSearchCV(clf, {"C": np.logspace(-4, 4, 9)}, cv=folds, scoring="neg_log_loss")
    return clf.fit(s.transform(Xc), yc).predict_proba(s.transform(Xq))


def lda(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Shrinkage LDA (`lda_proba`) on features standardised with the context's mean and std (a
    constant feature gets std 1, so no NaN); any number of classes."""
    s = StandardScaler().fit(Xc)
    return lda_proba(s.transform(Xc), yc, s.transform(Xq))


def lda_proba(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Probabilities [m, classes present] of shrinkage LDA (lsqr solver, Ledoit-Wolf shrinkage).
    A context with one example per class has no spread within a class to estimate: there the
    covariance is the identity (all shrinkage), so the rule is the nearest class mean, with
    probabilities softmax(-|x - mean|^2 / 2)."""
    from scipy.special import softmax
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    classes = np.unique(yc)
    if len(yc) > len(classes):
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(Xc, yc).predict_proba(Xq)
    means_CD = np.stack([Xc[yc == c][0] for c in classes])
    return softmax(-0.5 * ((Xq[:, None, :] - means_CD[None]) ** 2).sum(-1), axis=1)


def ncm(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Nearest class mean by cosine similarity: the class whose context mean is most similar to
    the query (a zero vector scores 0 against every class, never NaN); any number of classes."""
    Xc, Xq, yc = np.asarray(Xc, np.float64), np.asarray(Xq, np.float64), np.asarray(yc)
    classes = np.unique(yc)
    means = np.stack([Xc[yc == c].mean(axis=0) for c in classes])

    def unit(a: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(a, axis=1, keepdims=True)
        return a / np.where(norm > 0, norm, 1.0)

    return classes[np.argmax(unit(Xq) @ unit(means).T, axis=1)]


def knn(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Cosine k-nearest neighbours; n_neighbors (odd, 1-25) by stratified CV on the context."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    folds = int(min(5, np.bincount(yc).min()))
    model = KNeighborsClassifier(metric="cosine", algorithm="brute")
    if folds < 2:
        return model.set_params(n_neighbors=1).fit(Xc, yc).predict_proba(Xq)
    k = len(yc)
    largest = k - -(-k // folds)  # the smallest training fold
    grid = [n for n in (1, 3, 5, 7, 9, 15, 25) if n <= largest]
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    return GridSearchCV(model, {"n_neighbors": grid}, cv=cv).fit(Xc, yc).predict_proba(Xq)
