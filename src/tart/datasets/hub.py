"""Hugging Face hub loaders for the original TART's text tasks (need internet, or a local copy).

Every task is one `HubSpec` row: hub id, config, text column(s), label column, the hub's class
names (the ClassLabel order, so an integer label is an index into them), which classes are 1 and
which 0, the prompt words, and the splits. A raw label may be the integer (parquet/arrow) or the
class name (some CSV exports); labels outside both sets are dropped (e.g. SST-2's hidden test
labels -1, hate_speech18's "idk/skip"/"relation", RAFT's "Unlabeled").

Without a test split (sms_spam, hate_speech18, RAFT) the labelled train split is split with a
seeded stratified split (`test_size`, `seed`). RAFT's hub test split is unlabelled (Label 0), so
its 50 labelled train rows are split 50/50 by default.

`source=` loads local files in the hub's formats (parquet, csv, json/jsonl, tsv) through the same
code path: a file (one split), a folder (files named `<split>*.<ext>`, e.g.
`train-00000-of-00001.parquet`) or a dict {split: path or [paths]}. `data_files=` is passed to
`datasets.load_dataset` as is (with the hub id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tart.datasets.base import Dataset, stratified_split

NEG_POS = ("negative", "positive")
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
DBPEDIA_CLASSES = ("Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder",
                   "MeanOfTransportation", "Building", "NaturalPlace", "Village", "Animal", "Plant",
                   "Album", "Film", "WrittenWork")


@dataclass(frozen=True)
class HubSpec:
    """One hub data set made binary. `negative=None` means every class not in `positive`."""

    path: str                          # hub id
    config: str | None                 # hub config (subset) name
    text: tuple[str, ...]              # text column(s); several are joined with newlines
    label: str                         # label column
    classes: tuple[str, ...] | None    # hub ClassLabel names in index order (None: numeric)
    positive: tuple[str, ...]          # class names that become 1
    negative: tuple[str, ...] | None   # class names that become 0 (None: all others)
    label_names: tuple[str, str]       # prompt words for 0 and 1
    train_split: str = "train"
    test_split: str | None = "test"    # None: seeded split of the train split
    test_size: float = 0.2             # used when test_split is None
    threshold: float | None = None     # numeric label: 1 when >= threshold (civil_comments)
    note: str = ""

    def binarize(self, raw: Any) -> int | None:
        """Map one raw label to 1, 0, or None (dropped)."""
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            return None
        if self.threshold is not None:
            return int(float(raw) >= self.threshold)
        if isinstance(raw, str):
            name = raw.strip()
        else:
            i = int(raw)
            if self.classes is None or not 0 <= i < len(self.classes):
                return None
            name = self.classes[i]
        if name in self.positive:
            return 1
        if self.negative is None:
            return 0 if self.classes is not None and name in self.classes else None
        return 0 if name in self.negative else None


def _one_vs_rest(path: str, text: str, classes: tuple[str, ...], k: int, note: str) -> HubSpec:
    name = classes[k]
    word = {"Sci/Tech": "science and technology", "EducationalInstitution": "educational institution",
            "OfficeHolder": "office holder", "MeanOfTransportation": "means of transportation",
            "NaturalPlace": "natural place", "WrittenWork": "written work"}.get(name, name.lower())
    return HubSpec(path, None, (text,), "label", classes, (name,), None, (f"not {word}", word),
                   note=f"{note}; one-vs-rest: class {k} ({name}) -> 1, the others -> 0")


def _raft(config: str, text: tuple[str, ...], names: tuple[str, str], positive: str) -> HubSpec:
    negative = names[1] if positive == names[0] else names[0]
    words = (negative, positive)
    return HubSpec("ought/raft", config, text, "Label", ("Unlabeled", *names), (positive,),
                   (negative,), words, test_split=None, test_size=0.5,
                   note="RAFT: only the 50 train rows are labelled (the hub test split is "
                        "unlabelled), so they are split 25/25, stratified and seeded")


SPECS: dict[str, HubSpec] = {
    "sst2": HubSpec("stanfordnlp/sst2", None, ("sentence",), "label", NEG_POS, ("positive",),
                    ("negative",), NEG_POS, test_split="validation",
                    note="the hub test split has hidden labels (-1): validation is the test set"),
    "rotten_tomatoes": HubSpec("cornell-movie-review-data/rotten_tomatoes", None, ("text",),
                               "label", ("neg", "pos"), ("pos",), ("neg",), NEG_POS),
    "imdb": HubSpec("stanfordnlp/imdb", None, ("text",), "label", ("neg", "pos"), ("pos",),
                    ("neg",), NEG_POS),
    "sms_spam": HubSpec("ucirvine/sms_spam", None, ("sms",), "label", ("ham", "spam"), ("spam",),
                        ("ham",), ("not spam", "spam"), test_split=None,
                        note="train split only: seeded stratified 80/20 split"),
    "yelp_polarity": HubSpec("fancyzhx/yelp_polarity", None, ("text",), "label", ("1", "2"),
                             ("2",), ("1",), NEG_POS,
                             note='class "1" (1-2 stars) -> 0, class "2" (4-5 stars) -> 1'),
    "civil_comments": HubSpec("google/civil_comments", None, ("text",), "toxicity", None, (), (),
                              ("not toxic", "toxic"), threshold=0.5,
                              note="toxicity (fraction of raters) >= 0.5 -> 1"),
    "hate_speech18": HubSpec("odegiber/hate_speech18", None, ("text",), "label",
                             ("noHate", "hate", "idk/skip", "relation"), ("hate",), ("noHate",),
                             ("not hate speech", "hate speech"), test_split=None,
                             note='train split only; "idk/skip" and "relation" dropped; '
                                  "seeded stratified 80/20 split"),
    **{f"ag_news:{k}": _one_vs_rest("fancyzhx/ag_news", "text", AG_NEWS_CLASSES, k, "AG News")
       for k in range(len(AG_NEWS_CLASSES))},
    **{f"dbpedia_14:{k}": _one_vs_rest("fancyzhx/dbpedia_14", "content", DBPEDIA_CLASSES, k,
                                       "DBpedia-14")
       for k in range(len(DBPEDIA_CLASSES))},
    # the binary RAFT tasks (hub ClassLabel: 0 "Unlabeled", then the two names below as 1, 2)
    "raft:ade_corpus_v2": _raft("ade_corpus_v2", ("Sentence",),
                                ("ADE-related", "not ADE-related"), "ADE-related"),
    "raft:neurips_impact_statement_risks": _raft(
        "neurips_impact_statement_risks", ("Impact statement",),
        ("doesn't mention a harmful application", "mentions a harmful application"),
        "mentions a harmful application"),
    "raft:overruling": _raft("overruling", ("Sentence",), ("not overruling", "overruling"),
                             "overruling"),
    "raft:systematic_review_inclusion": _raft("systematic_review_inclusion", ("Title", "Abstract"),
                                              ("included", "not included"), "included"),
    "raft:tai_safety_research": _raft("tai_safety_research", ("Title", "Abstract Note"),
                                      ("TAI safety research", "not TAI safety research"),
                                      "TAI safety research"),
    "raft:terms_of_service": _raft("terms_of_service", ("Sentence",),
                                   ("not potentially unfair", "potentially unfair"),
                                   "potentially unfair"),
    "raft:tweet_eval_hate": _raft("tweet_eval_hate", ("Tweet",), ("hate speech", "not hate speech"),
                                  "hate speech"),
    "raft:twitter_complaints": _raft("twitter_complaints", ("Tweet text",),
                                     ("complaint", "no complaint"), "complaint"),
}

# names that take a `positive_class` argument instead of a ":k" suffix
ONE_VS_REST = {"ag_news": len(AG_NEWS_CLASSES), "dbpedia_14": len(DBPEDIA_CLASSES)}

_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json"}


def resolve(name: str, positive_class: int | None = None) -> tuple[str, HubSpec]:
    """The canonical name and spec of a hub task ("ag_news" + positive_class=k is "ag_news:k")."""
    if name in ONE_VS_REST:
        if positive_class is None:
            raise ValueError(f"{name} is one-vs-rest: pass positive_class=0..{ONE_VS_REST[name] - 1} "
                             f"or use the name '{name}:k'")
        name = f"{name}:{int(positive_class)}"
    elif positive_class is not None:
        raise ValueError(f"positive_class applies only to {', '.join(ONE_VS_REST)}")
    if name not in SPECS:
        raise KeyError(name)
    return name, SPECS[name]


def local_data_files(source: str | Path | dict, spec: HubSpec) -> tuple[str, dict[str, list[str]]]:
    """(builder, {split: [files]}) for a local file, folder or {split: path(s)} dict."""
    if isinstance(source, dict):
        files = {split: [str(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
                 for split, paths in source.items()}
    else:
        src = Path(source)
        if src.is_file():
            files = {spec.train_split: [str(src)]}
        elif src.is_dir():
            files = {}
            for split in filter(None, (spec.train_split, spec.test_split)):
                found = sorted(p for p in src.rglob(f"{split}*") if p.suffix in _BUILDERS)
                if found:
                    files[split] = [str(p) for p in found]
            if spec.train_split not in files:
                raise FileNotFoundError(f"no {spec.train_split}*.(parquet|csv|tsv|json|jsonl) "
                                        f"file under {src}")
        else:
            raise FileNotFoundError(f"no file or folder at {src}")
    suffixes = {Path(p).suffix for paths in files.values() for p in paths}
    if len(suffixes) != 1 or next(iter(suffixes)) not in _BUILDERS:
        raise ValueError(f"local files must share one of {sorted(_BUILDERS)}, got {sorted(suffixes)}")
    return _BUILDERS[suffixes.pop()], files


def _texts_labels(rows, spec: HubSpec) -> tuple[list[str], np.ndarray]:
    missing = [c for c in (*spec.text, spec.label) if c not in rows.column_names]
    if missing:
        raise ValueError(f"columns {missing} not found (have {rows.column_names}); "
                         f"expected text {list(spec.text)} and label {spec.label!r}")
    cols = {c: rows[c] for c in (*spec.text, spec.label)}
    texts, labels = [], []
    for i, raw in enumerate(cols[spec.label]):
        y = spec.binarize(raw)
        if y is None:
            continue
        parts = [str(cols[c][i]).strip() for c in spec.text if cols[c][i] is not None]
        texts.append("\n".join(p for p in parts if p))
        labels.append(y)
    return texts, np.asarray(labels, dtype=np.int64)


def load_hub(name: str, *, positive_class: int | None = None, source: str | Path | dict | None = None,
             data_files: Any = None, seed: int = 0, test_size: float | None = None,
             cache_dir: str | None = None, **load_kwargs) -> Dataset:
    """Load a hub task as a binary text Dataset (see the module docstring for `source`)."""
    import datasets as hf

    name, spec = resolve(name, positive_class)
    if source is not None:
        builder, files = local_data_files(source, spec)
        if all(p.endswith(".tsv") for paths in files.values() for p in paths):
            load_kwargs.setdefault("delimiter", "\t")
        ds = hf.load_dataset(builder, data_files=files, cache_dir=cache_dir, **load_kwargs)
        where = f"local {builder} files ({', '.join(f'{k}: {len(v)}' for k, v in files.items())})"
    else:
        ds = hf.load_dataset(spec.path, spec.config, data_files=data_files, cache_dir=cache_dir,
                             **load_kwargs)
        where = f"hub {spec.path}" + (f" ({spec.config})" if spec.config else "")
    if spec.train_split not in ds:
        raise ValueError(f"{name}: no {spec.train_split!r} split (have {list(ds)})")
    train_texts, train_labels = _texts_labels(ds[spec.train_split], spec)
    if spec.test_split is not None and spec.test_split in ds:
        test_texts, test_labels = _texts_labels(ds[spec.test_split], spec)
        how = f"{spec.train_split}/{spec.test_split} splits"
    else:  # no (labelled) test split, or a local source without one: split the train rows
        frac = spec.test_size if test_size is None else test_size
        tr, te = stratified_split(train_labels, frac, seed)
        test_texts, test_labels = [train_texts[i] for i in te], train_labels[te]
        train_texts, train_labels = [train_texts[i] for i in tr], train_labels[tr]
        how = f"seeded split of {spec.train_split} (test_size={frac}, seed={seed})"
    return Dataset(name=name, train_items=train_texts, train_labels=train_labels,
                   test_items=test_texts, test_labels=test_labels,
                   label_names=spec.label_names, source=f"{where}, {how}")
