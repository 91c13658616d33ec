"""TART vs logistic-regression probes on any data set of the registry, same balanced contexts.

    python scripts/fewshot.py --model smollm2 --dataset amazon_food
    python scripts/fewshot.py --model whisper-tiny-en --dataset spoken_keywords:on-up --fill zeros tile
    python scripts/fewshot.py --model mobilenet-v2 --dataset fashion_mnist:pullover-coat

Embeds a fixed pool of training items and a balanced test sample once (cached on disk under
TART_HOME/embeddings), then prints mean (std) accuracy over seeds at each k for TartClassifier
(several n_components / n_estimators settings), logistic regression on the same projected
features (the first --projection / --standardize choice), and logistic regression on the full
embeddings (C by cross-validation).
"""

import argparse
import warnings

import numpy as np

from tart import TartClassifier
from tart.eval.fewshot import balanced_test, fewshot_grid, logreg_full, logreg_projected, summarize
from tart.datasets import load_dataset
from tart.embed import CachedEmbedder, get_embedder


def tart_method(n_components: int, n_estimators: int, fill: str, projection: str = "class-mean",
                standardize: bool | str = "auto"):
    def fn(Xc, yc, Xq):
        clf = TartClassifier(n_components=n_components, n_estimators=n_estimators, fill=fill,
                             projection=projection, standardize=standardize)
        return clf.fit(Xc, yc).predict(Xq)
    return fn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--dataset", default="amazon_food")
    p.add_argument("--pool", type=int, default=1200, help="training items embedded (contexts drawn from them)")
    p.add_argument("--n-test", type=int, default=400, help="balanced test sample (at most)")
    p.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--components", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--estimators", type=int, nargs="+", default=[1, 8])
    p.add_argument("--fill", nargs="+", default=["zeros"], choices=["zeros", "tile"],
                   help="dims beyond n_components: zeros, or tile the components (the original's 8 x 2)")
    p.add_argument("--projection", nargs="+", default=["class-mean"], choices=["class-mean", "pca"],
                   help="basis of the context projection (TartClassifier(projection=...))")
    p.add_argument("--standardize", nargs="+", default=["auto"], choices=["auto", "on", "off"],
                   help="TartClassifier(standardize=...): per-feature scaling before the PCA (off: the original's)")
    args = p.parse_args()
    standardize = [{"on": True, "off": False}.get(s, s) for s in args.standardize]
    warnings.filterwarnings("ignore", category=FutureWarning)

    ds = load_dataset(args.dataset)
    train_items = getattr(ds, "train_texts", None) or ds.train_items
    test_items = getattr(ds, "test_texts", None) or ds.test_items
    pool = np.random.default_rng(0).permutation(len(train_items))[: args.pool]
    test = balanced_test(ds.test_labels, args.n_test)
    emb = CachedEmbedder(get_embedder(args.model))
    X_train = emb.encode([train_items[i] for i in pool])
    X_test = emb.encode([test_items[i] for i in test])
    ks = [k for k in args.ks if k // 2 <= min(np.bincount(ds.train_labels[pool], minlength=2))]
    methods = {f"tart (n_components={c}, n_estimators={e}, fill={f}, projection={b}, standardize={s})":
               tart_method(c, e, f, b, s)
               for c in args.components for e in args.estimators for f in args.fill
               for b in args.projection for s in standardize if not (f == "tile" and c == 16)}
    proj = {"basis": args.projection[0], "standardize": standardize[0]}
    methods["logreg, projected features"] = lambda Xc, yc, Xq: logreg_projected(Xc, yc, Xq, **proj)
    methods["logreg, full embeddings"] = logreg_full
    rows = fewshot_grid(X_train, ds.train_labels[pool], X_test, ds.test_labels[test],
                        ks=tuple(ks), seeds=tuple(args.seeds), methods=methods)
    print(f"{args.dataset}, {args.model}: {len(test)} balanced test items, "
          f"{len(args.seeds)} seeds, mean (std) accuracy")
    print(summarize(rows))


if __name__ == "__main__":
    main()
