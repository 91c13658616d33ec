"""CTranslate2 model files (faster-whisper's format): the `model.bin` reader, its de-quantiser,
and a transformers `WhisperEncoder` built from a Whisper `model.bin` (the offline asset
"whisper-tiny-en" is one).

Legend: D model width.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np
import torch

__all__ = ["read_ctranslate2", "dequantize", "whisper_encoder_from_ctranslate2"]

# DataType ids of CTranslate2 (include/ctranslate2/types.h); bfloat16 is read as raw 16 bits.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}


def read_ctranslate2(path: str | Path, prefix: str = "") -> tuple[str, dict[str, torch.Tensor]]:
    """Read a CTranslate2 `model.bin`: (spec name, {variable name: tensor}), aliases resolved.

    Binary layout (little-endian; ctranslate2/specs/model_spec.py writes it, models.cc reads it):
    u32 binary version; string spec name; u32 spec revision; u32 n; n times [string name,
    u8 rank, rank x u32 dims, u8 dtype id, u32 n_bytes, the raw data]; u32 n_aliases; n_aliases
    times [string alias, string target]. A string is a u16 length (with its NUL), the bytes and
    NUL. Binary versions < 4 store the item size and the item count instead of dtype and bytes.
    Only names starting with `prefix` are kept (others are skipped without copying).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    data = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def string() -> str:
        nonlocal pos
        n = take("H")
        s = bytes(data[pos:pos + n]).rstrip(b"\0").decode("utf-8")
        pos += n
        return s

    try:
        version = take("I")
        if not 2 <= version <= 6:
            raise ValueError(f"{path}: CTranslate2 binary version {version} is not supported (2-6)")
        spec, _revision = string(), take("I")
        out: dict[str, torch.Tensor] = {}
        for _ in range(take("I")):
            name = string()
            rank = take("B")
            shape = [take("I") for _ in range(rank)] if rank else []
            if version >= 4:
                type_id, n_bytes = take("B"), take("I")
                if type_id not in _CT2_DTYPES:
                    raise ValueError(f"{path}: variable {name!r} has unknown dtype id {type_id}")
                np_dtype = _CT2_DTYPES[type_id]
            else:
                item_size, count = take("B"), take("I")
                np_dtype = {1: np.int8, 2: np.float16, 4: np.float32}[item_size]
                n_bytes = count * item_size
            if pos + n_bytes > len(data):
                raise ValueError(f"{path}: truncated file (variable {name!r})")
            if name.startswith(prefix):
                arr = np.frombuffer(data[pos:pos + n_bytes], dtype=np_dtype).copy()
                if arr.size != math.prod(shape):
                    raise ValueError(f"{path}: variable {name!r} has {arr.size} values, shape {shape}")
                t = torch.from_numpy(arr.reshape(tuple(shape)))
                out[name] = t.view(torch.bfloat16) if version >= 4 and type_id == 5 else t
            pos += n_bytes
        if version >= 3 and pos < len(data):
            for _ in range(take("I")):
                alias, target = string(), string()
                if alias.startswith(prefix) and target in out:
                    out[alias] = out[target]
    except struct.error:
        raise ValueError(f"{path}: not a CTranslate2 model.bin (or truncated)") from None
    return spec, out


def dequantize(variables: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float32 copies; int8/int16 weights with a `<name>_scale` are divided by their row scale."""
    out = {}
    for name, t in variables.items():
        if name.endswith("_scale"):
            continue
        scale = variables.get(name + "_scale")
        if scale is not None:
            t = t.float() / scale.float().reshape(-1, *([1] * (t.dim() - 1)))
        out[name] = t if not t.is_floating_point() else t.float()
    return out


def whisper_encoder_from_ctranslate2(path: str | Path):
    """A transformers `WhisperEncoder` (float32, eval) with the encoder weights of a CTranslate2
    Whisper `model.bin`. The config comes from the tensor shapes; every encoder tensor must map
    onto exactly one parameter (strict load, shapes checked); the fused q/k/v projection is split
    and its key bias, which Whisper does not have, must be zero."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    spec, raw = read_ctranslate2(path, prefix="encoder/")
    if spec != "WhisperSpec":
        raise ValueError(f"{path}: a CTranslate2 {spec!r} model, not a Whisper model")
    v = {k.removeprefix("encoder/"): t for k, t in dequantize(raw).items()}
    if "num_heads" not in v or "conv1/weight" not in v:
        raise ValueError(f"{path}: no Whisper encoder tensors found")
    n_heads = int(v.pop("num_heads"))
    d_model, n_mels, _ = v["conv1/weight"].shape
    n_layers = len({k.split("/")[0] for k in v if re.match(r"layer_\d+/", k)})
    cfg = WhisperConfig(
        num_mel_bins=n_mels, d_model=d_model, encoder_layers=n_layers,
        encoder_attention_heads=n_heads, encoder_ffn_dim=v["layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=v["position_encodings/encodings"].shape[0],
    )  # the decoder settings stay at their defaults: only the encoder is built
    names = {"conv1/weight": "conv1.weight", "conv1/bias": "conv1.bias",
             "conv2/weight": "conv2.weight", "conv2/bias": "conv2.bias",
             "position_encodings/encodings": "embed_positions.weight",
             "layer_norm/gamma": "layer_norm.weight", "layer_norm/beta": "layer_norm.bias"}
    sub = {"self_attention/layer_norm/gamma": "self_attn_layer_norm.weight",
           "self_attention/layer_norm/beta": "self_attn_layer_norm.bias",
           "self_attention/linear_1/weight": "self_attn.out_proj.weight",
           "self_attention/linear_1/bias": "self_attn.out_proj.bias",
           "ffn/layer_norm/gamma": "final_layer_norm.weight",
           "ffn/layer_norm/beta": "final_layer_norm.bias",
           "ffn/linear_0/weight": "fc1.weight", "ffn/linear_0/bias": "fc1.bias",
           "ffn/linear_1/weight": "fc2.weight", "ffn/linear_1/bias": "fc2.bias"}
    used: set[str] = set()

    def get(name: str) -> torch.Tensor:
        if name not in v:
            raise ValueError(f"{path}: the Whisper encoder tensor encoder/{name} is missing")
        used.add(name)
        return v[name]

    state = {dst: get(src) for src, dst in names.items()}
    for i in range(n_layers):
        for src, dst in sub.items():
            state[f"layers.{i}.{dst}"] = get(f"layer_{i}/{src}")
        w_3DD = get(f"layer_{i}/self_attention/linear_0/weight")
        b_3D = get(f"layer_{i}/self_attention/linear_0/bias")
        if w_3DD.shape != (3 * d_model, d_model) or b_3D.shape != (3 * d_model,):
            raise ValueError(f"{path}: layer {i} fused q/k/v has shape {tuple(w_3DD.shape)}")
        q, k, val = w_3DD.split(d_model)
        bq, bk, bv = b_3D.split(d_model)
        if bk.abs().max() > 0:
            raise ValueError(f"{path}: layer {i} has a non-zero key bias, which Whisper lacks")
        state.update({f"layers.{i}.self_attn.q_proj.weight": q, f"layers.{i}.self_attn.q_proj.bias": bq,
                      f"layers.{i}.self_attn.k_proj.weight": k,
                      f"layers.{i}.self_attn.v_proj.weight": val,
                      f"layers.{i}.self_attn.v_proj.bias": bv})
    if set(v) - used:
        raise ValueError(f"{path}: encoder tensors with no place in WhisperEncoder: "
                         f"{sorted(set(v) - used)}")
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        encoder = WhisperEncoder(cfg)
    encoder.load_state_dict(state, strict=True, assign=True)  # also checks every shape
    left = [n for n, t in [*encoder.named_parameters(), *encoder.named_buffers()] if t.is_meta]
    if left:
        raise ValueError(f"{path}: WhisperEncoder tensors not in the file: {left}")
    return encoder.float().eval()

