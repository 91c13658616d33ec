"""TART (several settings) against logistic-regression probes on any data set, same balanced contexts.

    python scripts/fewshot.py --model smollm2 --dataset amazon_food
    python scripts/fewshot.py --model whisper-tiny-en --dataset spoken_keywords:on-up --fill zeros tile
    python scripts/fewshot.py --model mobilenet-v2 --dataset fashion_mnist:pullover-coat

The `tart eval` runner (tart.eval.runner.run_grid) with a registry of TartClassifier settings
(n_components x n_estimators x fill x projection x standardize), logistic regression on the same
projected features (the first --projection / --standardize choice) and logistic regression on the
full embeddings (C by cross-validation, `logreg-full`). Embeddings are cached on disk; the run is
resumable in --out. Prints mean (std) accuracy over seeds at each k; --report writes it to Markdown.
"""

import argparse
import shlex
import sys
from functools import partial

from tart.eval.methods import METHODS, Method, on_features, tart_on_features
from tart.eval.probes import logreg_projected
from tart.eval.report import slug, table, write_report
from tart.eval.runner import run_grid


def registry(args: argparse.Namespace) -> dict[str, Method]:
    """The TART settings asked for, the projected probe and the full-embedding probe, by name."""
    standardize = [{"on": True, "off": False}.get(s, s) for s in args.standardize]
    out = {}
    for c in args.components:
        for e in args.estimators:
            for f in args.fill:
                for b in args.projection:
                    for s in standardize:
                        if f == "tile" and c == 16:
                            continue
                        name = (f"tart (n_components={c}, n_estimators={e}, fill={f}, projection={b}, "
                                f"standardize={s})")
                        out[name] = Method(name, tart_on_features(n_components=c, n_estimators=e, fill=f,
                                                                  projection=b, standardize=s))
    probe = partial(logreg_projected, basis=args.projection[0], standardize=standardize[0])
    out["logreg, projected features"] = Method("logreg, projected features", on_features(probe))
    out["logreg-full"] = METHODS["logreg-full"]
    return out


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
    p.add_argument("--out", default=None,
                   help="run folder (default results/fewshot/<dataset>_<model>_pool<P>_test<N>)")
    p.add_argument("--report", default=None, help="also write the table to this Markdown file (and a plot)")
    args = p.parse_args()
    methods = registry(args)
    out = args.out or f"results/fewshot/{slug(args.dataset)}_{slug(args.model)}_pool{args.pool}_test{args.n_test}"
    rows = run_grid(out, [args.dataset], [args.model], args.ks, args.seeds, list(methods),
                    n_test=args.n_test, pool=args.pool, registry=methods, reports=False, progress=False)
    rows = [r for r in rows if r["method"] in methods and r["k"] in args.ks and r["seed"] in args.seeds]
    print(f"{args.dataset}, {args.model}: {rows[0]['n_test']} balanced test items, "
          f"{len(args.seeds)} seeds, mean (std) accuracy")
    print(table(rows))
    if args.report:
        command = "python scripts/fewshot.py " + shlex.join(sys.argv[1:])
        print(f"wrote {write_report(rows, args.report, command=command, title='few-shot on fixed embeddings')}")


if __name__ == "__main__":
    main()
