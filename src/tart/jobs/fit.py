"""`tart fit`: a saved classifier from a labelled table or a folder of class sub-folders.

The context is embedded once; the leave-one-out estimate predicts each context example from the
others with those same embeddings (each left-out example costs one fit of the input map and one
pass of the reasoning module, no embedding).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tart.jobs import files
from tart.jobs.files import JobError

__all__ = ["FitReport", "read_labelled", "fit_job", "loo_accuracy"]


@dataclass
class FitReport:
    out: Path
    classes: list
    counts: dict
    loo_accuracy: float | None
    loo_skipped: int = 0  # examples whose class had no other example: counted as errors
    modality: str = "text"
    extra: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"classes ({len(self.classes)}): " + ", ".join(f"{c!r}: {self.counts[str(c)]}" for c in self.classes)]
        n = sum(self.counts.values())
        if self.loo_accuracy is not None:
            note = f" ({self.loo_skipped} examples are alone in their class and count as errors)" if self.loo_skipped else ""
            out.append(f"leave-one-out accuracy on the {n} context examples: {self.loo_accuracy:.3f}{note}")
        out.append(f"saved to {self.out}")
        return out


def read_labelled(data: str | Path, label_column: str | None, text_column: str | None,
                  path_column: str | None) -> tuple[list, list, dict]:
    """(raw values, labels, notes for the saved config) from a table or a class-folder tree."""
    data = Path(data)
    if data.is_dir():
        if text_column or path_column or label_column:
            raise JobError(f"{data} is a folder: its sub-folders are the classes, so --label-column, "
                           "--text-column and --path-column do not apply")
        paths, labels = files.class_folder(data)
        return [str(p) for p in paths], labels, {"column": None, "column_kind": "path", "layout": "class-folders"}
    if not data.is_file():
        raise JobError(f"no such file or folder: {data}")
    if label_column is None:
        raise JobError("name the label column: --label-column")
    if bool(text_column) == bool(path_column):
        raise JobError("name exactly one of --text-column (texts) or --path-column (image/audio files)")
    column = text_column or path_column
    df = files.read_table(data, [column, label_column])
    missing = df[label_column].isna()
    if missing.any():
        rows = np.flatnonzero(missing.to_numpy())[:5].tolist()
        raise JobError(f"{data}: the label column {label_column!r} is empty in {int(missing.sum())} "
                       f"rows (first: {rows})")
    values = df[column].tolist()
    if path_column:
        values = [v if not isinstance(v, str) or Path(v).is_absolute() or Path(v).exists()
                  else str(data.parent / v) for v in values]
    labels = [v.item() if isinstance(v, np.generic) else v for v in df[label_column].tolist()]
    return values, labels, {"column": column, "column_kind": "text" if text_column else "path"}


def loo_accuracy(clf) -> tuple[float, int]:
    """Leave-one-out accuracy on the fitted context, from the context's embeddings (no
    re-embedding): (accuracy, examples alone in their class, which count as errors)."""
    from sklearn.base import clone

    from tart import persist

    view = persist.features_classifier(clf)
    Z, y = np.asarray(clf.context_), clf.y_
    counts = np.bincount(y, minlength=len(clf.classes_))
    right = alone = 0
    for i in range(len(y)):
        if counts[y[i]] < 2 or (counts > 0).sum() - (counts[y[i]] == 1) < 2:
            alone += 1
            continue
        mask = np.arange(len(y)) != i
        m = clone(view).fit(Z[mask], y[mask])
        right += int(m.predict(Z[i:i + 1])[0] == y[i])
    return right / len(y), alone


def _modality(spec: str, kind: str | None) -> str:
    """The modality an embedder name will read, without loading it (tart.embed.registry's rules)."""
    from tart.embed import registry

    kinds = {"causal-lm": "text", "sentence": "text", "audio": "audio", "image": "image"}
    if kind:
        return kinds.get(kind, "text")
    if spec == "features":
        return "features"
    if spec in registry.ASSET_KINDS:
        return kinds[registry.ASSET_KINDS[spec]]
    path = Path(spec).expanduser()
    if spec.endswith(".pth"):
        return "image"
    if path.is_dir():
        return kinds.get(registry.guess_kind(path), "text")
    return "audio" if "whisper" in spec.lower() else "text"


def fit_job(data: str | Path, out: str | Path, *, label_column: str | None = None,
            text_column: str | None = None, path_column: str | None = None, embedder: str = "minilm",
            embedder_kwargs: dict | None = None, reasoner: str | None = None, n_estimators: int = 8,
            stack="auto", loo: bool = True, overwrite: bool = False, device: str | None = None) -> FitReport:
    """Fit and save a classifier from labelled files; see `tart fit --help`."""
    from tart import persist
    from tart.classifier import TartClassifier
    from tart.jobs.predictor import decode_item

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise JobError(f"{out} exists and is not empty: pass --overwrite to replace it")
    values, labels, notes = read_labelled(data, label_column, text_column, path_column)
    counts = Counter(labels)
    if len(counts) < 2:
        raise JobError(f"{data}: the labels have only one class ({next(iter(counts))!r}, {len(labels)} "
                       "rows): a classifier needs examples of at least two classes")
    kwargs = dict(embedder_kwargs or {})
    if device is not None and embedder != "features":
        kwargs.setdefault("device", device)
    clf = TartClassifier(embedder=embedder, embedder_kwargs=kwargs or None, reasoner=reasoner,
                         n_estimators=n_estimators, stack=stack, device=device or "auto")
    # decode with the rules of `tart predict`; an unreadable example is an error here (it is data)
    modality = _modality(embedder, kwargs.get("kind"))
    if notes["column_kind"] == "text" and modality != "text":
        raise JobError(f"the embedder {embedder!r} reads {modality}: name the file column with "
                       "--path-column, not --text-column")
    if notes["column_kind"] == "path" and modality == "text":
        raise JobError(f"the embedder {embedder!r} reads texts: use --text-column (or an image / "
                       "audio embedder such as mobilenet-v2 or whisper-tiny-en)")
    items = []
    for i, v in enumerate(values):
        try:
            items.append(decode_item(v, modality))
        except ValueError as e:
            raise JobError(f"{data}: example {i} ({labels[i]!r}): {e}") from None
    clf.fit(items, labels)
    if persist.modality_of(clf.embedder_) != modality:
        raise JobError(f"the embedder {embedder!r} reads {persist.modality_of(clf.embedder_)}, not {modality}")
    acc, alone = loo_accuracy(clf) if loo and not isinstance(clf.context_, list) else (None, 0)
    classes = clf.classes_.tolist()
    extra = {"fit": {**notes, "data": str(data), "counts": {str(k): v for k, v in counts.items()},
                     "loo_accuracy": acc}}
    persist.save(clf, out, extra=extra)
    return FitReport(out, classes, {str(k): v for k, v in counts.items()}, acc, alone, modality)
