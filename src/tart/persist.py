"""Saved classifiers: `TartClassifier.save_pretrained(dir)` / `TartClassifier.from_pretrained(dir)`.

A fitted classifier is a folder, written without pickle:

- `config.json`: the format name and version, every constructor parameter, the embedder's
  identity (its name or path, options, class, modality and a fingerprint of its weights), the
  reasoning module (a shipped name by reference with its weights' fingerprint, or a folder
  `reasoner/` holding a copy written by the module's own `save_pretrained`), the classes (their
  values and dtype: str, int and bool labels come back as they went in) and the fitted state that
  is not an array (the projection's settings, the ensemble's context size, ...);
- `model.safetensors`: the arrays: the context's embeddings (`context`), its labels as class
  indices (`y`) and the fitted projection (`projection.*`), bit for bit, so a round trip gives
  identical `predict_proba`.

Loading checks the format version (a newer one is refused, naming the versions) and the embedder's
weights: an embedder whose fingerprint differs from the saved one is refused, since its vectors
live in another space than the saved context's. A shipped reasoning module that was replaced since
saving is loaded from the copy the package keeps of it (`tart/weights/retired/`, matched by the
saved fingerprint), so the classifier predicts as it did; one it no longer has gives a warning (the
predictions may differ, they are not meaningless).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from sklearn.utils.validation import check_is_fitted

from tart.embed.names import locate
from tart.embed.runtime import resolve_device
from tart.fingerprint import model_fingerprint
from tart.inputs import condition
from tart.plan import Job, fit_maps
from tart.projection import SetMap, SetMapParams
from tart.strategy import default_reasoner
from tart.weights import default_model_dir, load_reasoner, module_fingerprint, retired_module_dir

__all__ = ["FORMAT", "FORMAT_VERSION", "SavedClassifierError", "save", "load", "read_config",
           "embedder_identity", "embedder_fingerprint", "modality_of", "features_classifier",
           "saved_classes"]

FORMAT = "tart-classifier"
FORMAT_VERSION = 3  # 3: tart-2's linear member (linear_); 2: the plan (plan_) and its fitted maps (maps_); 1: one projection_ (migrate_v1)
CONFIG_FILE = "config.json"
ARRAYS_FILE = "model.safetensors"
REASONER_DIR = "reasoner"
_SHIPPED_REASONERS = ("tart", "tart2")
# the fitted attributes that are objects, saved by reference or by their own state
_OBJECTS = ("embedder_", "reasoner_")
_MODALITY = {"WhisperEmbedder": "audio", "MobileNetV2Embedder": "image", "HFImageEmbedder": "image",
             "FeatureEmbedder": "features", "SentenceEmbedder": "text", "CausalLMEmbedder": "text"}


class SavedClassifierError(ValueError):
    """A saved classifier that cannot be written or loaded as asked (the message says why)."""


# ---- embedder identity --------------------------------------------------------------------------
def modality_of(embedder: Any) -> str:
    """"text", "image", "audio" or "features" for an embedder object (by its class)."""
    name = type(embedder).__name__
    if name not in _MODALITY and getattr(embedder, "embedder", None) is not None:  # CachedEmbedder
        name = type(embedder.embedder).__name__
    return "features" if embedder is None else _MODALITY.get(name, str(getattr(embedder, "modality", "text")))


def embedder_fingerprint(spec: Any, embedder: Any = None) -> str:
    """The fingerprint of an embedder's weights: its own `fingerprint` when it has one, else the
    sha256 of the model file or folder it loads (`tart.fingerprint.model_fingerprint`)."""
    own = getattr(embedder, "fingerprint", None)
    if isinstance(own, str) and own:
        return own
    if spec is None or str(spec) == "features":
        return "identity"
    return model_fingerprint(spec if isinstance(spec, Path) else locate(str(spec)))


def embedder_identity(clf) -> dict | None:
    """The embedder's identity for config.json (None for a features classifier)."""
    if clf.embedder is None:
        return None
    emb = getattr(clf, "embedder_", None)
    spec = clf.embedder if isinstance(clf.embedder, (str, Path)) else None
    return {
        "spec": None if spec is None else str(spec),
        "kwargs": _jsonable(dict(clf.embedder_kwargs or {}), "embedder_kwargs"),
        "class": type(emb).__name__ if emb is not None else None,
        "cache_key": getattr(emb, "cache_key", None),
        "modality": modality_of(emb),
        "context_dependent": bool(getattr(emb, "context_dependent", False)),
        "fingerprint": embedder_fingerprint(spec, emb) if spec is not None else getattr(emb, "fingerprint", None),
    }


# ---- JSON and array state -----------------------------------------------------------------------
def _jsonable(value: Any, what: str) -> Any:
    """`value` as JSON (tuples and numpy arrays tagged so they come back as such), or a clear error."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_jsonable(v, what) for v in value]}
    if isinstance(value, (list, Path)):
        return str(value) if isinstance(value, Path) else [_jsonable(v, what) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SavedClassifierError(f"{what} has non-string keys: it cannot be saved as JSON")
        return {k: _jsonable(v, f"{what}[{k!r}]") for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUSb":
        return {"__ndarray__": [_jsonable(v, what) for v in value.tolist()], "dtype": value.dtype.str
                if value.dtype.kind != "O" else "object"}
    raise SavedClassifierError(f"{what} is a {type(value).__name__}, which save_pretrained cannot "
                               "store (no pickle): use a name, number, string or list")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if set(value) == {"__ndarray__", "dtype"}:
            dtype = object if value["dtype"] == "object" else np.dtype(value["dtype"])
            out = np.empty(len(value["__ndarray__"]), dtype=object) if dtype is object else None
            if out is not None:
                out[:] = value["__ndarray__"]
                return out
            return np.array(value["__ndarray__"], dtype=dtype)
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _split_state(obj: Any, prefix: str, arrays: dict, what: str) -> dict:
    """The attributes of a fitted object, each encoded by `_encode` (arrays under `prefix`)."""
    return {name: _encode(value, f"{prefix}{name}", arrays, f"{what}.{name}") for name, value in vars(obj).items()}


def _encode(value: Any, key: str, arrays: dict, what: str) -> Any:
    """Numeric arrays and tensors into `arrays` (under `key`), dataclasses, lists holding them and
    the package's fitted objects (a map) by their fields, everything else as tagged JSON."""
    if isinstance(value, torch.Tensor):
        arrays[key] = value.detach().cpu().contiguous().numpy()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufc":
        arrays[key] = np.ascontiguousarray(value)
        return {"__array__": key}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": _qualified(value), "fields": _split_state(value, f"{key}.", arrays, what)}
    if isinstance(value, list) and any(isinstance(v, (np.ndarray, torch.Tensor)) or hasattr(v, "__dict__")
                                       for v in value):
        return {"__list__": [_encode(v, f"{key}.{i}", arrays, f"{what}[{i}]") for i, v in enumerate(value)]}
    if type(value).__module__.startswith("tart.") and hasattr(value, "__dict__"):
        return {"__object__": _qualified(value), "state": _split_state(value, f"{key}.", arrays, what)}
    return _jsonable(value, what)


def _qualified(value: Any) -> str:
    return f"{type(value).__module__}:{type(value).__qualname__}"


def _join_state(state: dict, arrays: dict) -> dict:
    return {name: _decode(value, arrays) for name, value in state.items()}


def _decode(value: Any, arrays: dict) -> Any:
    tags = set(value) if isinstance(value, dict) else set()
    if tags == {"__tensor__"}:
        return torch.from_numpy(arrays[value["__tensor__"]].copy())
    if tags == {"__array__"}:
        return arrays[value["__array__"]].copy()
    if tags == {"__dataclass__", "fields"}:
        return _import(value["__dataclass__"])(**_join_state(value["fields"], arrays))
    if tags == {"__list__"}:
        return [_decode(v, arrays) for v in value["__list__"]]
    if tags == {"__object__", "state"}:
        cls = _import(value["__object__"])
        obj = cls.__new__(cls)
        obj.__dict__.update(_join_state(value["state"], arrays))
        return obj
    return _from_json(value)


def _import(qualified: str) -> type:
    module, _, name = qualified.partition(":")
    if not module.startswith("tart."):  # only the package's own classes are rebuilt
        raise SavedClassifierError(f"the saved state names a class outside tart: {qualified}")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


# ---- save -----------------------------------------------------------------------------------------
def save(clf, path: str | Path, extra: dict | None = None) -> Path:
    """Write a fitted `TartClassifier` to folder `path` (created; its files replaced). `extra`:
    JSON-able notes stored beside the state (`tart fit` records its data, columns and estimate)."""
    check_is_fitted(clf, "classes_")
    path = Path(path)
    params = clf.get_params(deep=False)
    embedder = embedder_identity(clf)
    if embedder is not None and embedder["spec"] is None:
        raise SavedClassifierError(
            f"this classifier's embedder is a {type(clf.embedder).__name__} object: save_pretrained "
            "stores embedders by name or path (give TartClassifier(embedder='minilm' or a model "
            "folder)); pass the same object again as from_pretrained(dir, embedder=...) if you must")
    reasoner = params["reasoner"]
    path.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path, prefix=".saving-"))
    try:
        if reasoner is None or (isinstance(reasoner, str) and reasoner in _SHIPPED_REASONERS):
            name = default_reasoner(reasoner, len(clf.classes_), clf.multiclass)
            reasoner_info = {"shipped": name, "param": reasoner,
                             "fingerprint": module_fingerprint(default_model_dir(name))}
        else:  # a model folder or a module object: its weights are copied in
            clf.reasoner_.save_pretrained(tmp / REASONER_DIR)
            reasoner_info = {"folder": REASONER_DIR, "type": type(clf.reasoner_).__name__}
        params = {k: v for k, v in params.items() if k not in ("embedder", "reasoner")}
        arrays: dict[str, np.ndarray] = {}
        fitted = {k: v for k, v in vars(clf).items()
                  if k.endswith("_") and not k.startswith("_") and k not in _OBJECTS}
        classes = fitted.pop("classes_")
        context, context_json = fitted.pop("context_", None), None
        if isinstance(context, np.ndarray):
            arrays["context"] = np.ascontiguousarray(context)
        else:  # a context-dependent embedder keeps the raw items
            context_json = _jsonable(list(context), "the context items")
        state = _split_state(_Attrs(fitted), "state.", arrays, "fitted state")
        config = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "tart_version": _tart_version(),
            "estimator": type(clf).__name__,
            "params": _jsonable(params, "a constructor parameter"),
            "embedder": embedder,
            "reasoner": reasoner_info,
            "classes": {"values": _jsonable(classes.tolist(), "a class label"),
                        "dtype": classes.dtype.str if classes.dtype.kind != "O" else "object"},
            "context_items": context_json,
            "state": state,
        }
        if extra:
            config.update(_jsonable(dict(extra), "extra"))
        save_file(arrays, str(tmp / ARRAYS_FILE), metadata={"format": FORMAT})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        for name in (ARRAYS_FILE, REASONER_DIR):  # replace what an earlier save left
            old = path / name
            if old.is_dir():
                shutil.rmtree(old)
        for name in (ARRAYS_FILE, REASONER_DIR, CONFIG_FILE):  # config.json last: it marks a save
            if (tmp / name).exists():
                os.replace(tmp / name, path / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


class _Attrs:  # a bag of attributes, for _split_state
    def __init__(self, attrs: dict):
        self.__dict__.update(attrs)


def _tart_version() -> str:
    try:
        return importlib.metadata.version("tart")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---- load -----------------------------------------------------------------------------------------
def read_config(path: str | Path) -> dict:
    """config.json of a saved classifier, with its format and version checked."""
    path = Path(path)
    file = path / CONFIG_FILE
    if not file.is_file():
        raise SavedClassifierError(f"{path} is not a saved classifier: it has no {CONFIG_FILE} "
                                   "(write one with TartClassifier.save_pretrained or `tart fit`)")
    try:
        config = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise SavedClassifierError(f"{file} is not valid JSON: {e}") from None
    if config.get("format") != FORMAT:
        raise SavedClassifierError(f"{path} is not a saved TartClassifier (its config.json format is "
                                   f"{config.get('format')!r}, not {FORMAT!r})")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SavedClassifierError(
            f"{path} was saved in format version {version}, newer than this tart reads "
            f"(format version {FORMAT_VERSION}, tart {_tart_version()}): upgrade tart to load it")
    return config


def load(cls, path: str | Path, *, device: str | None = None, embedder: Any = None,
         load_embedder: bool = True):
    """A fitted classifier of class `cls` from folder `path` (see the module docstring).

    device: overrides the saved `device` (and is passed to the embedder). embedder: an embedder
    object to use instead of loading the saved one (it must have the saved fingerprint, or the
    saved cache_key when it has no fingerprint). load_embedder=False skips loading the embedder
    (`embedder_` is then absent; `features_classifier` needs no embedder).
    """
    path = Path(path)
    config = read_config(path)
    arrays = load_file(str(path / ARRAYS_FILE)) if (path / ARRAYS_FILE).is_file() else {}
    params = _from_json(config["params"])
    info, retired = config["reasoner"], None
    if "shipped" in info:
        reasoner = info["shipped"]
        # format 1 fingerprinted the whole folder (its model card too); 2, the module's own files
        folder = default_model_dir(reasoner)
        now = module_fingerprint(folder) if config["format_version"] >= 2 else model_fingerprint(folder)
        if now != info.get("fingerprint"):
            retired = retired_module_dir(reasoner, info.get("fingerprint"))
            if retired is not None:  # replaced since saving: the copy the package keeps of it
                reasoner = str(retired)
            else:
                warnings.warn(f"{path}: the shipped reasoning module {reasoner!r} changed since this "
                              f"classifier was saved (weights {now} instead of {info.get('fingerprint')}): "
                              "its predictions may differ from the saved classifier's", stacklevel=3)
    else:
        reasoner = str((path / info["folder"]).resolve())
    ident = config["embedder"]
    params["embedder"] = None if ident is None else ident["spec"]
    params["reasoner"] = info.get("param", reasoner) if "shipped" in info and retired is None else reasoner
    if device is not None:
        params["device"] = device
    params.setdefault("symmetries", "labels")  # saved before the parameter: the members it had then
    params.setdefault("stack", None)  # saved before tart-2's linear member (format < 3): none
    state = _join_state(config["state"], arrays)
    if config["format_version"] == 1:
        params, state = migrate_v1(params, state, config, arrays)
    clf = cls(**params)
    clf.reasoner_ = load_reasoner(reasoner, device=str(resolve_device(params.get("device", "auto")))).eval()
    clf.classes_ = saved_classes(config)
    clf.context_ = arrays["context"].copy() if "context" in arrays else list(_from_json(config["context_items"]))
    for name, value in state.items():
        setattr(clf, name, value)
    if config["format_version"] == 1:
        _plan_v1(clf, state)
    if ident is not None and (load_embedder or embedder is not None):
        clf.embedder_ = _load_embedder(ident, embedder, device, path)
    return clf


# ---- format version 1 -------------------------------------------------------------------------
_V1_SET_DEFAULTS = {"projection": "class-mean", "center": "balanced"}  # tart-2 read neither


def migrate_v1(params: dict, state: dict, config: dict, arrays: dict) -> tuple[dict, dict]:
    """A version-1 folder's constructor parameters and fitted state, as version 2 has them (the
    plan itself is rebuilt once the module is loaded: `_plan_v1`). Version 1 stored one
    `projection_` (every view of tart-2's map in one object, unfitted where sub-tasks fitted their
    own), the view weights, the class prior's form per path, and no temperature before it existed."""
    params = dict(params)
    params.setdefault("temperature", 1.0)  # saved before the parameter existed: temperature 1
    state = dict(state)
    proj_cls = _import(config["projection"]["class"])
    projection = proj_cls.__new__(proj_cls)
    projection.__dict__.update(_join_state(config["projection"]["state"], arrays))
    state["projection_v1"] = projection
    if "temperature_" not in state:  # saved before fit always stored it: the number given
        state["temperature_"] = float(params["temperature"])
    if proj_cls is SetMap:  # tart-2 read neither setting: the old defaults become "not given"
        for name, old in _V1_SET_DEFAULTS.items():
            if params.get(name) == old:
                params[name] = None
    return params, state


def _plan_v1(clf, state: dict) -> None:
    """Version 1's plan: the one its classifier ran (same members from the same seed), its views
    weighted by the saved `view_weights_`, and the saved projection split into one map per view."""
    projection = state["projection_v1"]
    weights_V = state.get("view_weights_")
    clf.view_weights_ = weights_V
    plan = clf._plan(clf.y_)
    clf.plan_ = plan.weighted(weights_V)
    for name in ("projection_v1", "prior_logit_", "class_weight_"):
        clf.__dict__.pop(name, None)
    if isinstance(clf.context_, list):  # a context-dependent embedder: maps fitted at predict
        return
    if not (hasattr(projection, "params_") or hasattr(projection, "mean_D")):  # sub-tasks fitted their own
        clf.maps_ = fit_maps(clf._strategy().template(), [Job(clf.plan_, condition(clf.context_)[0], clf.context_[:0])])[0]
        return
    if isinstance(projection, SetMap):
        maps = []
        for v, view in enumerate(projection.views):
            one = SetMap(projection.out_dims, view[1], view[0], views=[view])
            one.params_ = SetMapParams(*(getattr(projection.params_, f.name)[v : v + 1]
                                         for f in dataclasses.fields(SetMapParams)))
            one.n_features_, one.n_kept_ = projection.n_features_, int(projection.params_.n_kept_B[v])
            maps.append(one)
        clf.maps_ = [maps[i] for i in plan.kept_maps(weights_V)]
    else:
        clf.maps_ = [projection]


def _load_embedder(ident: dict, given: Any, device: str | None, path: Path):
    from tart.embed import get_embedder

    if given is not None:
        emb = get_embedder(given)
    elif ident["spec"] is None:
        raise SavedClassifierError(f"{path} was fitted with an embedder object: pass it again "
                                   "as from_pretrained(dir, embedder=...)")
    else:
        kwargs = dict(_from_json(ident["kwargs"]) or {})
        if device is not None and ident["spec"] != "features":
            kwargs["device"] = device
        emb = get_embedder(ident["spec"], **kwargs)
    saved = ident.get("fingerprint")
    now = embedder_fingerprint(ident["spec"] if given is None else None, emb)
    if given is not None and getattr(emb, "fingerprint", None) is None:  # compare what we can
        if ident.get("cache_key") and getattr(emb, "cache_key", None) != ident["cache_key"]:
            raise SavedClassifierError(
                f"{path}: the embedder given ({getattr(emb, 'cache_key', '?')}) is not the one this "
                f"classifier was fitted with ({ident['cache_key']})")
        return emb
    if saved is not None and now != saved:
        raise SavedClassifierError(
            f"{path}: the embedder {ident['spec'] or ident['class']!r} now has different weights "
            f"(fingerprint {now}) than when this classifier was saved ({saved}): its vectors would "
            "not match the saved context. Restore the original model, or fit and save again")
    return emb


def saved_classes(config: dict) -> np.ndarray:
    """The classes of a saved classifier's config.json, with their dtype (str, int, bool, ...)."""
    values, dtype = _from_json(config["classes"]["values"]), config["classes"]["dtype"]
    if dtype != "object":
        return np.array(values, dtype=np.dtype(dtype))
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def features_classifier(clf):
    """A view of a fitted (non context-dependent) classifier that takes embeddings: the same
    context, projection, module and members, `embedder=None`. `view.predict_proba(Z)` on
    Z = embedder.encode(items) equals `clf.predict_proba(items)`."""
    if isinstance(getattr(clf, "context_", None), list):
        raise SavedClassifierError("this classifier's embedder depends on the context (a text mode "
                                   "like vanilla or loo): it cannot predict from precomputed "
                                   "embeddings; use mode='stream'")
    view = clf.__class__(**{**clf.get_params(deep=False), "embedder": None, "embedder_kwargs": None})
    for k, v in vars(clf).items():
        if k.endswith("_") and not k.startswith("_") and k != "embedder_":
            setattr(view, k, v)
    view.n_features_in_ = int(clf.context_.shape[1])
    return view
