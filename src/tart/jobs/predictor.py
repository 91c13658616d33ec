"""One loaded classifier that labels batches of raw items, shared by the local and the Ray engines.

`Predictor(model_dir)` loads the saved classifier and its embedder once. `predict(ids, values)`
decodes each value (a text; an image or audio file path), embeds the readable ones in one call
(falling back to one item at a time when the batch fails, to find the culprit), and classifies
their embeddings with the shared context. Items that cannot be read or embedded come back as
error records (id, reason), never dropped. It keeps the seconds spent inside the embedder, so a
benchmark can report the share of time spent elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tart.jobs.files import JobError

__all__ = ["Predictor", "decode_item", "chunk_output", "output_frame", "prob_column", "LABEL_COLUMN"]

LABEL_COLUMN = "label"


def prob_column(cls: Any) -> str:
    return f"proba_{cls}"


class Predictor:
    """A saved classifier ready to label raw items (see the module docstring)."""

    def __init__(self, model_dir: str | Path, device: str | None = None, batch_size: int | None = None):
        from tart import persist
        from tart.classifier import TartClassifier

        config = persist.read_config(model_dir)
        if config["embedder"] is None or config["embedder"].get("modality") == "features":
            raise JobError(f"{model_dir} was fitted on numeric features (no embedder): `tart predict` "
                           "labels texts, images and audio; use TartClassifier.from_pretrained in Python")
        if config["embedder"].get("context_dependent"):
            raise JobError(f"{model_dir}: its embedder's vectors depend on the context (a text mode "
                           "like vanilla or loo), which `tart predict` does not batch; fit with "
                           "mode='stream'")
        clf = TartClassifier.from_pretrained(model_dir, device=device)
        self.embedder = clf.embedder_
        self.classifier = persist.features_classifier(clf)
        self.classes = clf.classes_
        self.modality = config["embedder"]["modality"]
        self.batch_size = batch_size
        self.embed_seconds = 0.0
        self.total_seconds = 0.0
        self.progress_every = 256  # items embedded per call (the embedder batches inside it)
        self.on_progress = None  # called with the number of items after each piece

    # ---- per item -----------------------------------------------------------------------------
    def decode(self, value: Any) -> Any:
        return decode_item(value, self.modality)

    def _encode(self, items: list) -> np.ndarray:
        t = time.perf_counter()
        try:
            kw = {"batch_size": self.batch_size} if self.batch_size else {}
            return np.asarray(self.embedder.encode(items, **kw), dtype=np.float64)
        finally:
            self.embed_seconds += time.perf_counter() - t

    def embed(self, items: list) -> tuple[np.ndarray, list[int], list[str]]:
        """(features of the items that embedded, their positions, reasons for the others)."""
        if not items:
            return np.zeros((0, 0)), [], []
        try:
            Z = self._encode(items)
            ok = np.isfinite(Z).all(1)
            if ok.all():
                return Z, list(range(len(items))), []
        except Exception:  # noqa: BLE001 - find the item(s) that fail, one at a time
            pass
        rows, keep, reasons = [], [], {}
        for i, item in enumerate(items):
            try:
                z = self._encode([item])
                if not np.isfinite(z).all():
                    raise ValueError("the embedder returned NaN or inf")
                rows.append(z[0])
                keep.append(i)
            except Exception as e:  # noqa: BLE001
                reasons[i] = f"cannot embed: {type(e).__name__}: {e}"
        Z = np.stack(rows) if rows else np.zeros((0, 0))
        return Z, keep, [reasons[i] for i in sorted(reasons)]

    # ---- a batch ------------------------------------------------------------------------------
    def label(self, values: Sequence[Any]) -> tuple[list[int], np.ndarray, np.ndarray, dict[int, str]]:
        """(positions labelled, their probabilities [n_ok, n_classes], their class indices,
        {position: reason} of the values that could not be read or embedded)."""
        decoded, where, errors = [], [], {}
        for i, v in enumerate(values):
            try:
                decoded.append(self.decode(v))
                where.append(i)
            except ValueError as e:
                if isinstance(e, JobError):
                    raise
                errors[i] = str(e)
        step = max(1, self.progress_every)
        parts, keep, reasons = [], [], []
        for s in range(0, len(decoded), step):  # pieces, so a progress bar moves within a chunk
            Z_s, keep_s, reasons_s = self.embed(decoded[s:s + step])
            if len(keep_s):
                parts.append(Z_s)
            keep += [s + k for k in keep_s]
            reasons += reasons_s
            if self.on_progress is not None:
                self.on_progress(len(decoded[s:s + step]))
        Z = np.concatenate(parts) if parts else np.zeros((0, 0))
        bad = sorted(set(range(len(decoded))) - set(keep))
        for j, reason in zip(bad, reasons):
            errors[where[j]] = reason
        ok = [where[j] for j in keep]
        if not ok:
            return ok, np.zeros((0, len(self.classes))), np.zeros(0, dtype=np.int64), errors
        proba = self.classifier.predict_proba(Z)
        if len(self.classes) == 2:  # TartClassifier.predict's rule: ties go to classes_[0]
            index = (proba[:, 1] > 0.5).astype(np.int64)
        else:
            index = proba.argmax(1).astype(np.int64)
        return ok, proba, index, errors

    def predict(self, ids: Sequence[Any], values: Sequence[Any]):
        """(predictions DataFrame: id, label, one probability column per class, in input order;
        list of error records {"id", "error"})."""
        t0 = time.perf_counter()
        ids = list(ids)
        df, err = chunk_output(self.classes, ids, *self.label(values))
        self.total_seconds += time.perf_counter() - t0
        return df, err


def chunk_output(classes: np.ndarray, ids: list, ok: list[int], proba: np.ndarray, index: np.ndarray,
                 errors: dict[int, str]):
    """What `Predictor.predict` returns for a batch, from `Predictor.label`'s answer and the
    batch's ids: (the output rows of the labelled positions, error records {"id", "error"} in
    position order). The Ray engine builds its part files with it from the actors' answers."""
    df = output_frame(classes, [ids[i] for i in ok], proba, index)
    return df, [{"id": _plain(ids[i]), "error": errors[i]} for i in sorted(errors)]


def output_frame(classes: np.ndarray, ids: list, proba: np.ndarray, index: np.ndarray, id_name: str = "id"):
    """The output rows: id, label (the class, its type kept), proba_<class> per class."""
    import pandas as pd

    labels = pd.Series(classes[index].tolist() if len(index) else [],
                       dtype=classes.dtype if classes.dtype.kind in "iub" else object)
    df = pd.DataFrame({id_name: pd.Series(ids, dtype=object if not ids else None), LABEL_COLUMN: labels})
    for c, cls in enumerate(classes.tolist()):
        df[prob_column(cls)] = np.asarray(proba[:, c], dtype=np.float64)
    return df


def decode_item(value: Any, modality: str) -> Any:
    """A raw value (a text; an image or audio file path) -> what the embedder of `modality`
    takes; a ValueError with the reason when it cannot be read."""
    if modality == "text":
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise ValueError("empty text (missing value)")
        if not isinstance(value, str):
            value = str(value)
        if not value.strip():
            raise ValueError("empty text")
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        raise ValueError("no file path (missing value)")
    path = Path(str(value))
    if modality == "image":
        from tart.media import decode_image, read_image

        try:
            return decode_image(read_image(path))
        except Exception as e:  # noqa: BLE001 - any failure to read is this row's error
            raise ValueError(f"cannot read image {path}: {type(e).__name__}: {e}") from None
    if modality == "audio":
        from tart.media import load_audio

        try:
            samples, sr = load_audio(path)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"cannot read audio {path}: {type(e).__name__}: {e}") from None
        if samples.size == 0:
            raise ValueError(f"audio {path} holds no samples")
        return (np.ascontiguousarray(samples, dtype=np.float32), int(sr))
    raise JobError(f"unknown modality {modality!r}")


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
