"""tart.datasets: the registry, the packaged offline sets, and the hub loaders on tiny local files."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the hub loaders here read local files only
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest

from conftest import needs_asset
from tart import assets
from tart.datasets import (SPECS, Dataset, available_datasets, load_dataset,
                           stratified_split)
from tart.datasets.hub import AG_NEWS_CLASSES, DBPEDIA_CLASSES


_needs = needs_asset  # fails, not skips, when the asset is missing


# --- registry --------------------------------------------------------------------------------

def test_registry_names():
    names = available_datasets()
    for n in ("amazon_food", "tweets", "sst2", "rotten_tomatoes", "imdb", "sms_spam",
              "yelp_polarity", "civil_comments", "hate_speech18", "ag_news:0", "ag_news:3",
              "dbpedia_14:13", "raft:ade_corpus_v2", "raft:twitter_complaints"):
        assert n in names
    assert len(names) == len(set(names))
    assert not any(n.startswith("raft:") and n.endswith(("banking_77", "one_stop_english",
                                                          "semiconductor_org_types"))
                   for n in names)  # the multi-class RAFT tasks are not binary


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="unknown data set 'nope'.*amazon_food.*sst2"):
        load_dataset("nope")


def test_one_vs_rest_needs_a_class():
    with pytest.raises(ValueError, match="positive_class"):
        load_dataset("ag_news")
    with pytest.raises(ValueError, match="positive_class applies only"):
        load_dataset("sst2", positive_class=1, source="x.parquet")


def test_packaged_not_installed_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path))  # an empty home: amazon_food is missing
    with pytest.raises(assets.AssetError, match="tart assets install amazon_food"):
        load_dataset("amazon_food")


def test_text_dataset_validates():
    with pytest.raises(ValueError, match="0/1"):
        Dataset("x", ["a"], np.array([2]), [], np.array([]), ("n", "p"), "s")
    with pytest.raises(ValueError, match="2 train items but 1 labels"):
        Dataset("x", ["a", "b"], np.array([1]), [], np.array([]), ("n", "p"), "s")
    d = Dataset("x", ["a"], [True], ["b"], [0], ("n", "p"), "s")
    assert d.train_labels.dtype == np.int64 and d.test_labels.dtype == np.int64
    assert d.modality == "text" and d.train_items == ["a"]


def test_stratified_split_is_seeded_and_stratified():
    y = np.array([0] * 70 + [1] * 30)
    tr, te = stratified_split(y, 0.2, seed=3)
    tr2, te2 = stratified_split(y, 0.2, seed=3)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(100))
    assert (y[te] == 1).sum() == 6 and (y[te] == 0).sum() == 14
    assert not np.array_equal(te, stratified_split(y, 0.2, seed=4)[1])


# --- packaged, real data ---------------------------------------------------------------------

@_needs("amazon_food")
def test_amazon_food_real():
    d = load_dataset("amazon_food")
    assert (len(d.train_items), len(d.test_items)) == (4000, 1000)
    assert int(d.train_labels.sum()) == 2600 and int((d.train_labels == 0).sum()) == 1400
    assert int(d.test_labels.sum()) == 658
    assert d.label_names == ("negative", "positive")
    assert all(isinstance(t, str) and t for t in d.train_items[:50])
    raw = pd.read_csv(assets.data_path("amazon_food") / "train.csv")
    assert d.train_items[0] == raw.review[0]
    assert d.train_labels[0] == int(raw.score[0] == "great")


@_needs("tweets")
def test_tweets_real_split_is_deterministic():
    a = load_dataset("tweets")
    b = load_dataset("tweets")
    assert a.train_items == b.train_items and np.array_equal(a.test_labels, b.test_labels)
    n = len(a.train_items) + len(a.test_items)
    assert 20000 < n <= 6954 + 16186  # neutral (15,018) dropped, repeated texts dropped
    assert abs(len(a.test_items) / n - 0.2) < 0.001
    # stratified: the same positive rate in both splits
    assert abs(a.train_labels.mean() - a.test_labels.mean()) < 0.002
    assert not set(a.train_items) & set(a.test_items)
    c = load_dataset("tweets", seed=1)
    assert c.test_items != a.test_items and len(c.test_items) == len(a.test_items)


def test_tweets_label_mapping_local(tmp_path):
    path = tmp_path / "tweets.csv"
    pd.DataFrame({"sentiment": ["positive", "negative", "neutral", "positive", "negative",
                                "negative", "positive"],
                  "confidence": [1.0] * 7,
                  "text": ["good", "bad", "meh", "great", "awful", "bad", "nice"]}).to_csv(
        path, index=False, encoding="latin-1")
    d = load_dataset("tweets", source=path, test_size=0.5, seed=0)
    got = dict(zip(d.train_items + d.test_items, (d.train_labels.tolist() + d.test_labels.tolist())))
    assert got == {"good": 1, "bad": 0, "great": 1, "awful": 0, "nice": 1}  # neutral, repeat dropped


# --- hub loaders on local files in the hub's formats -------------------------------------------

def _write(df: pd.DataFrame, path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    {".parquet": df.to_parquet, ".csv": lambda p: df.to_csv(p, index=False),
     ".jsonl": lambda p: df.to_json(p, orient="records", lines=True)}[path.suffix](path)
    return str(path)


def _load(name, tmp_path, **kw):
    return load_dataset(name, cache_dir=str(tmp_path / "hf-cache"), **kw)


def _pairs(d: Dataset, split: str = "train") -> dict[str, int]:
    texts, labels = (d.train_items, d.train_labels) if split == "train" else (d.test_items, d.test_labels)
    return dict(zip(texts, labels.tolist()))


CASES = {  # name: (train columns, test columns or None, expected {text: label} over both splits)
    "sst2": ({"idx": [0, 1], "sentence": ["a fine film", "dull"], "label": [1, 0]},
             {"idx": [0, 1], "sentence": ["moving", "bad"], "label": [1, 0]},
             {"a fine film": 1, "dull": 0, "moving": 1, "bad": 0}),
    "rotten_tomatoes": ({"text": ["fun", "boring"], "label": [1, 0]},
                        {"text": ["wow", "meh"], "label": [1, 0]},
                        {"fun": 1, "boring": 0, "wow": 1, "meh": 0}),
    "imdb": ({"text": ["loved it", "hated it"], "label": [1, 0]},
             {"text": ["superb", "awful"], "label": [1, 0]},
             {"loved it": 1, "hated it": 0, "superb": 1, "awful": 0}),
    "yelp_polarity": ({"label": [0, 1], "text": ["cold food", "tasty"]},
                      {"label": [1, 0], "text": ["friendly", "rude"]},
                      {"cold food": 0, "tasty": 1, "friendly": 1, "rude": 0}),
    "civil_comments": ({"text": ["you idiot", "thanks", "hmm"], "toxicity": [0.9, 0.0, 0.5],
                        "severe_toxicity": [0.1, 0.0, 0.0], "obscene": [0.0] * 3},
                       {"text": ["nice point", "shut up"], "toxicity": [0.2, 0.7],
                        "severe_toxicity": [0.0, 0.0], "obscene": [0.0, 0.0]},
                       {"you idiot": 1, "thanks": 0, "hmm": 1, "nice point": 0, "shut up": 1}),
    "ag_news:1": ({"text": ["war news", "football", "stocks", "chips"], "label": [0, 1, 2, 3]},
                  {"text": ["tennis", "election"], "label": [1, 0]},
                  {"war news": 0, "football": 1, "stocks": 0, "chips": 0, "tennis": 1, "election": 0}),
    "dbpedia_14:9": ({"label": [9, 3], "title": ["Cat", "Pele"], "content": ["a cat", "a player"]},
                     {"label": [0, 9], "title": ["Acme", "Dog"], "content": ["a firm", "a dog"]},
                     {"a cat": 1, "a player": 0, "a firm": 0, "a dog": 1}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hub_loader_on_local_parquet(name, tmp_path):
    train, test, expected = CASES[name]
    spec = SPECS[name]
    src = tmp_path / "data"
    _write(pd.DataFrame(train), src / f"{spec.train_split}-00000-of-00001.parquet")
    _write(pd.DataFrame(test), src / f"{spec.test_split}-00000-of-00001.parquet")
    d = _load(name, tmp_path, source=src)
    assert {**_pairs(d, "train"), **_pairs(d, "test")} == expected
    assert len(d.train_items) == len(train[spec.text[0]])  # test rows stay in the test split
    assert d.train_labels.dtype == np.int64 and d.label_names == spec.label_names


def test_sst2_hidden_test_labels_and_validation(tmp_path):
    src = tmp_path / "sst2"
    _write(pd.DataFrame({"idx": [0], "sentence": ["ok"], "label": [1]}), src / "train.parquet")
    _write(pd.DataFrame({"idx": [0], "sentence": ["no"], "label": [0]}), src / "validation.parquet")
    _write(pd.DataFrame({"idx": [0], "sentence": ["?"], "label": [-1]}), src / "test.parquet")
    d = _load("sst2", tmp_path, source=src)
    assert d.test_items == ["no"] and d.test_labels.tolist() == [0]


def test_ag_news_positive_class_kwarg(tmp_path):
    f = _write(pd.DataFrame({"text": [c.lower() for c in AG_NEWS_CLASSES] * 2,
                             "label": list(range(4)) * 2}), tmp_path / "train.parquet")
    for k, cls in enumerate(AG_NEWS_CLASSES):
        d = _load("ag_news", tmp_path, positive_class=k, source=f, test_size=0.5)
        assert d.name == f"ag_news:{k}"
        assert {t for t, y in {**_pairs(d), **_pairs(d, "test")}.items() if y} == {cls.lower()}
    assert _load("ag_news", tmp_path, positive_class=3, source=f, test_size=0.5).label_names == (
        "not science and technology", "science and technology")
    assert len(DBPEDIA_CLASSES) == 14


def test_sms_spam_csv_names_and_seeded_split(tmp_path):
    # a CSV export with class names instead of indices, and no test split on the hub
    f = _write(pd.DataFrame({"sms": [f"spam {i}" for i in range(5)] + [f"ham {i}" for i in range(15)],
                             "label": ["spam"] * 5 + ["ham"] * 15}), tmp_path / "train.csv")
    d = _load("sms_spam", tmp_path, source=f)
    e = _load("sms_spam", tmp_path, source=f)
    assert (len(d.train_items), len(d.test_items)) == (16, 4)
    assert d.test_labels.sum() == 1 and d.train_labels.sum() == 4  # stratified 80/20
    assert d.test_items == e.test_items
    assert all(y == t.startswith("spam") for t, y in {**_pairs(d), **_pairs(d, "test")}.items())
    assert d.label_names == ("not spam", "spam")


def test_hate_speech18_drops_non_binary(tmp_path):
    f = _write(pd.DataFrame({"text": ["hateful", "fine", "unsure", "context", "ok", "nasty"],
                             "user_id": list(range(6)), "subforum_id": [1] * 6,
                             "num_contexts": [0] * 6, "label": [1, 0, 2, 3, 0, 1]}),
               tmp_path / "hs" / "train-00000-of-00001.parquet")
    d = _load("hate_speech18", tmp_path, source=tmp_path / "hs", test_size=0.5)
    assert {**_pairs(d), **_pairs(d, "test")} == {"hateful": 1, "fine": 0, "ok": 0, "nasty": 1}


RAFT_CASES = {  # config: (text columns, {raw Label: expected binary})
    "ade_corpus_v2": (["Sentence"], {1: 1, 2: 0}),
    "neurips_impact_statement_risks": (["Paper title", "Paper link", "Impact statement"], {1: 0, 2: 1}),
    "overruling": (["Sentence"], {1: 0, 2: 1}),
    "systematic_review_inclusion": (["Title", "Abstract", "Authors", "Journal"], {1: 1, 2: 0}),
    "tai_safety_research": (["Title", "Abstract Note", "Url", "Publication Year", "Item Type",
                             "Author", "Publication Title"], {1: 1, 2: 0}),
    "terms_of_service": (["Sentence"], {1: 0, 2: 1}),
    "tweet_eval_hate": (["Tweet"], {1: 1, 2: 0}),
    "twitter_complaints": (["Tweet text"], {1: 1, 2: 0}),
}


def test_raft_binary_tasks_are_all_covered():
    assert sorted(n.split(":")[1] for n in SPECS if n.startswith("raft:")) == sorted(RAFT_CASES)


@pytest.mark.parametrize("config", sorted(RAFT_CASES))
def test_raft_loader(config, tmp_path):
    cols, mapping = RAFT_CASES[config]
    labels = [1, 2] * 4
    train = {c: [f"{c} {i}" for i in range(8)] for c in cols}
    train.update(ID=list(range(8)), Label=labels)
    src = tmp_path / config
    _write(pd.DataFrame(train), src / "train-00000-of-00001.parquet")
    _write(pd.DataFrame({**{c: ["x", "y"] for c in cols}, "ID": [8, 9], "Label": [0, 0]}),
           src / "test-00000-of-00001.parquet")  # the hub's test split: unlabelled
    d = _load(f"raft:{config}", tmp_path, source=src)
    assert (len(d.train_items), len(d.test_items)) == (4, 4)  # 50/50 split of the labelled rows
    spec = SPECS[f"raft:{config}"]
    for text, y in {**_pairs(d), **_pairs(d, "test")}.items():
        i = int(text.split("\n")[0].rsplit(" ", 1)[1])
        assert y == mapping[labels[i]]
        assert text == "\n".join(f"{c} {i}" for c in spec.text)
    positive = spec.classes[[k for k, v in mapping.items() if v == 1][0]]
    assert d.label_names[1] == positive


def test_raft_csv_with_label_names(tmp_path):
    # RAFT's own train.csv files name the class instead of numbering it
    f = _write(pd.DataFrame({"Tweet text": ["late again!", "thanks", "broken", "great"],
                             "ID": [0, 1, 2, 3],
                             "Label": ["complaint", "no complaint", "complaint", "no complaint"]}),
               tmp_path / "train.csv")
    d = _load("raft:twitter_complaints", tmp_path, source=f)
    assert {**_pairs(d), **_pairs(d, "test")} == {"late again!": 1, "thanks": 0, "broken": 1,
                                                   "great": 0}


def test_local_jsonl_and_missing_columns(tmp_path):
    f = _write(pd.DataFrame({"text": ["a", "b", "c", "d"], "label": [1, 0, 1, 0]}),
               tmp_path / "train.jsonl")
    d = _load("imdb", tmp_path, source=f, test_size=0.5)
    assert sorted(d.train_labels.tolist() + d.test_labels.tolist()) == [0, 0, 1, 1]
    g = _write(pd.DataFrame({"review": ["a"], "label": [1]}), tmp_path / "bad" / "train.parquet")
    with pytest.raises(ValueError, match=r"columns \['text'\] not found"):
        _load("imdb", tmp_path, source=g)
    with pytest.raises(FileNotFoundError):
        _load("imdb", tmp_path, source=tmp_path / "nowhere")
