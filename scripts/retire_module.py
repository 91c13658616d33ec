"""Keep a shipped reasoning module that is about to be replaced, so the classifiers saved with it
still load it (`tart.weights.retired_module_dir`, used by `TartClassifier.from_pretrained`).

    python scripts/retire_module.py tart2 HEAD   # the tart2 module as committed at HEAD

Writes src/tart/weights/retired/<name>-<first 8 hex of its weights' sha256>/: its config.json and
weights as they were shipped, and RETIRED.json listing every fingerprint a saved classifier may
hold for it: the module's own (config and weights, saved-classifier format 2) and, for format 1,
which fingerprinted the whole shipped folder, that folder's digest at every commit that shipped
these weights (its card and evaluation changed between them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

from tart.fingerprint import model_fingerprint
from tart.weights import SHIPPED, module_fingerprint

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def export_folder(rev: str, folder: str, out: Path) -> None:
    """The files of `folder` at commit `rev`, written under `out`."""
    for path in git("ls-tree", "-r", "--name-only", rev, folder).split():
        target = out / Path(path).relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True,
                                          capture_output=True).stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", choices=sorted(SHIPPED))
    ap.add_argument("rev", help="the commit whose shipped module is retired (e.g. HEAD)")
    args = ap.parse_args()
    folder = f"src/tart/weights/{SHIPPED[args.name]}"
    weights = git("rev-parse", f"{args.rev}:{folder}/model.safetensors").strip()
    with tempfile.TemporaryDirectory() as tmp:
        export_folder(args.rev, folder, Path(tmp) / "now")
        blob = (Path(tmp) / "now" / "model.safetensors").read_bytes()
        out = ROOT / "src" / "tart" / "weights" / "retired" / f"{args.name}-{hashlib.sha256(blob).hexdigest()[:8]}"
        out.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            (out / name).write_bytes((Path(tmp) / "now" / name).read_bytes())
        prints = [module_fingerprint(out)]  # what format 2 saves; format 1 saved the whole folder's:
        for commit in git("log", "--format=%H", args.rev, "--", folder).split():  # each state of the folder
            listed = git("ls-tree", commit, f"{folder}/model.safetensors").split()  # mode type blob path
            if len(listed) == 4 and listed[2] == weights:
                export_folder(commit, folder, Path(tmp) / commit)
                prints.append(model_fingerprint(Path(tmp) / commit))
    record = {"name": args.name, "retired_at": git("rev-parse", args.rev).strip(),
              "fingerprints": list(dict.fromkeys(prints))}
    (out / "RETIRED.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}: {len(record['fingerprints'])} fingerprints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
