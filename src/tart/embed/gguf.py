"""GGUF causal LMs: de-quantised once into a safetensors model folder that transformers loads fast.

The folder lives under `tart.paths.home()/models/`, named by the GGUF file's name, size and the
sha256 of its whole content (`tart.fingerprint`, memoised by size and times), so a GGUF file
replaced by another of the same name and size is de-quantised again; `dequantized(gguf_file)`
finds it once built. `tart.assets` builds the SmolLM2 asset with it;
`tart.embed.get_embedder("path/to/model.gguf")` uses it for any other GGUF file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from tart.fingerprint import file_digest
from tart.paths import home

__all__ = ["dequantize_gguf", "dequantized"]


def _out_dir(gguf_file: Path) -> Path:
    """The folder `dequantize_gguf` writes for this GGUF file."""
    stem, size = gguf_file.name.removesuffix(".gguf"), gguf_file.stat().st_size
    return home() / "models" / f"{stem}-{size}-{file_digest(gguf_file)}"


def dequantized(gguf_file: str | Path) -> Path | None:
    """The de-quantised folder of this GGUF file when it is built, else None."""
    out = _out_dir(Path(gguf_file))
    return out if (out / "config.json").is_file() else None


def dequantize_gguf(gguf_file: str | Path, *, progress: bool = False) -> Path:
    """De-quantise a GGUF causal LM once into a safetensors model folder under home()/models/.

    The folder (model + tokenizer, pad token = eos when the tokenizer has none) is keyed by the
    GGUF file's name, size and the sha256 of its whole content; later calls return it at once. It
    is written to a temporary folder and renamed, so an interrupted run never leaves a half-written
    folder.
    """
    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_file}")
    out = _out_dir(gguf_file)
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    if progress:  # on stderr: model_path() may build it from inside a program that prints results
        print(f"[tart assets] de-quantising {gguf_file.name} (once; 10-60 s) -> {out}",
              file=sys.stderr, flush=True)
    src, name = str(gguf_file.parent), gguf_file.name
    tok = AutoTokenizer.from_pretrained(src, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
    _drop_gguf_quantizer(model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like any model folder
        for f in tmp.iterdir():
            f.chmod(0o644)
        try:
            tmp.rename(out)
        except OSError:  # another process finished first
            if not (out / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        print(f"[tart assets] de-quantised in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
              flush=True)
    return out


def _drop_gguf_quantizer(model) -> None:
    """transformers 5 keeps a (non-serializable) GGUF "quantizer" on the loaded model although its
    weights are already plain de-quantised tensors; detach it so save_pretrained writes them."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    for cfg in (model.config, getattr(model, "generation_config", None)):
        if cfg is not None and hasattr(cfg, "quantization_config"):
            delattr(cfg, "quantization_config")
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:  # a read-only property on some versions
            pass
