"""Audio embedder: the Whisper encoder, mean-pooled over the frames that cover real audio.

Each clip (16 kHz mono) becomes Whisper's 80-bin log-mel spectrogram, padded to the model's
30 s window as Whisper always is; the encoder's last layer (1500 frames, 50 a second) is then
averaged over only the ceil(seconds * 50) frames that hold the clip. The original TART code
averaged all 1500 frames, so a 1 s word was ~3% of its vector and 97% padding; `pool="all"`
reproduces that.

Weights come from a transformers Whisper model (hub id or local folder, for online users) or
from a CTranslate2 `model.bin` (faster-whisper's format, as in the offline asset
"whisper-tiny-en"), whose encoder tensors are copied into a transformers `WhisperEncoder`.

Legend: B batch, F mel bins, T mel frames (3000 = 30 s), S encoder frames (T/2), D width.
"""

from __future__ import annotations

import math
import re
import struct
import wave
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from tart.embed.base import file_ident

__all__ = ["WhisperEmbedder", "read_ctranslate2", "whisper_encoder_from_ctranslate2",
           "load_audio", "resample", "SAMPLE_RATE"]

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame; the encoder's second conv halves the frames again
_PROGRESS_CLIPS = 64  # auto progress bar from this many clips

# --------------------------------------------------------------------------- CTranslate2 files

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


def _dequantize(variables: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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
    v = {k.removeprefix("encoder/"): t for k, t in _dequantize(raw).items()}
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


# --------------------------------------------------------------------------- reading audio

def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples float32 in [-1, 1], sample rate) of an audio file; several channels are averaged
    to mono. WAV (8/16/24/32-bit PCM) is read with the standard library; other formats (and float
    WAV) need the optional `soundfile` package."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no audio file at {path}")
    try:
        with wave.open(str(path), "rb") as w:
            n_ch, width, sr = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        try:
            import soundfile
        except ImportError:
            raise ValueError(f"cannot read {path} ({e}): only PCM WAV is read without the "
                             "optional `soundfile` package (pip install soundfile)") from None
        x, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        return x.mean(axis=1).astype(np.float32), int(sr)
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16) << 8 >> 8).astype(np.float32) / 2 ** 23
    else:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / 2 ** 31
    return x.reshape(-1, n_ch).mean(axis=1).astype(np.float32), sr


def resample(x: np.ndarray, sr_from: int, sr_to: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, Kaiser-windowed low-pass)."""
    from scipy.signal import resample_poly

    if sr_from == sr_to:
        return x
    g = math.gcd(int(sr_from), int(sr_to))
    return resample_poly(x, sr_to // g, sr_from // g).astype(np.float32)


def _clip(item: Any, i: int, sample_rate: int) -> tuple[np.ndarray, int]:
    """One item -> (1-D float samples, its sample rate)."""
    if isinstance(item, (str, Path)):
        return load_audio(item)
    if isinstance(item, dict):  # a Hugging Face `datasets` Audio value
        if "array" not in item or "sampling_rate" not in item:
            raise TypeError(f"items[{i}] is a dict without 'array' and 'sampling_rate'")
        item, sample_rate = item["array"], int(item["sampling_rate"])
    elif isinstance(item, tuple) and len(item) == 2 and np.isscalar(item[1]):
        item, sample_rate = item[0], int(item[1])
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if not isinstance(item, np.ndarray):
        raise TypeError(f"items[{i}] is a {type(item).__name__}: audio items are 1-D float arrays, "
                        "(array, sample_rate) pairs, or paths to audio files")
    if item.dtype.kind != "f":
        raise TypeError(f"items[{i}] has dtype {item.dtype}: pass float samples in [-1, 1] "
                        "(e.g. int16 audio / 32768)")
    if item.ndim != 1:
        raise ValueError(f"items[{i}] has shape {item.shape}: pass mono 1-D clips "
                         "(average the channels of a stereo clip first)")
    if item.size == 0:
        raise ValueError(f"items[{i}] is an empty clip")
    if not np.isfinite(item).all():
        raise ValueError(f"items[{i}] contains NaN or inf")
    return item.astype(np.float32), sample_rate


# --------------------------------------------------------------------------- the embedder

class WhisperEmbedder:
    """Whisper encoder features of audio clips, mean-pooled over the real-audio frames.

    model: a CTranslate2 Whisper folder or `model.bin` (offline asset "whisper-tiny-en"), a
        transformers Whisper folder or hub id ("openai/whisper-base", needs internet once), or a
        loaded `WhisperEncoder` / `WhisperModel` (its cache_key names the class and config only).
    sample_rate: the rate of array inputs. Files carry their own. A rate other than 16 kHz is
        an error unless `resample=True` (polyphase resampling with scipy).
    pool: "real" (mean over the ceil(seconds * 50) frames that cover the clip) or "all" (mean
        over the whole 30 s window including padding, as the original TART did).
    truncate: clips longer than the 30 s window are an error, or with `truncate=True` cut to
        their first 30 s.
    device / dtype: default cuda if available; bf16 on cuda (and AMX CPUs), else fp32.

    Items: 1-D float arrays (mono, in [-1, 1]), (array, sample_rate) pairs, Hugging Face
    `datasets` audio dicts {"array", "sampling_rate"}, or paths to audio files (PCM WAV via the
    standard library; other formats with `soundfile`); multi-channel files are averaged to mono.
    """

    context_dependent = False

    def __init__(self, model: Any = "whisper-tiny-en", device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, batch_size: int = 8,
                 sample_rate: int = SAMPLE_RATE, resample: bool = False, pool: str = "real",
                 truncate: bool = False, show_progress_bar: bool | None = None):
        from tart.embed.text import resolve_device, resolve_dtype

        if pool not in ("real", "all"):
            raise ValueError(f"pool must be 'real' or 'all', not {pool!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")
        if not isinstance(sample_rate, int) or sample_rate < 1:
            raise ValueError(f"sample_rate must be a positive int, not {sample_rate!r}")
        self.batch_size, self.sample_rate, self.resample = batch_size, sample_rate, resample
        self.pool, self.truncate, self.show_progress_bar = pool, truncate, show_progress_bar
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        encoder, ident = self._load(model)
        self.encoder = encoder.to(self.device, self.dtype).eval()
        cfg = encoder.config
        self.dim = cfg.d_model
        self.n_frames = cfg.max_source_positions  # encoder frames in the window (1500)
        self.max_samples = self.n_frames * 2 * HOP  # 30 s at 16 kHz
        self.features = self._feature_extractor(model, cfg)
        if self.features.n_samples != self.max_samples or self.features.hop_length != HOP:
            raise ValueError(f"feature extractor window {self.features.n_samples} samples does not "
                             f"match the encoder's {self.max_samples}")
        self.cache_key = (f"audio:whisper:{ident}|pool={pool}|truncate={truncate}"
                          f"|resample={'poly' if resample else '-'}"
                          f"|dtype={str(self.dtype).removeprefix('torch.')}")

    def _load(self, model: Any):
        from tart.embed.text import _model_ident

        if isinstance(model, torch.nn.Module):
            enc = model.get_encoder() if hasattr(model, "get_encoder") else model
            return enc, _model_ident(type(enc).__name__, enc.config)
        if not isinstance(model, (str, Path)):
            raise TypeError("model must be a path, hub id or Whisper module, not "
                            f"{type(model).__name__}")
        if str(model) == "whisper-tiny-en":
            from tart import assets

            model = assets.model_path("whisper-tiny-en")
        path = Path(model).expanduser()
        ct2 = path if path.is_file() else path / "model.bin"  # transformers never writes this
        if ct2.is_file():
            return whisper_encoder_from_ctranslate2(ct2), f"ct2:{file_ident(ct2)}"
        from transformers import WhisperModel

        m = WhisperModel.from_pretrained(str(model))
        return m.get_encoder(), _model_ident(str(model), m.config)

    @staticmethod
    def _feature_extractor(model: Any, config: Any):
        """The model's own feature extractor (transformers folder or hub id), else Whisper's
        standard one (16 kHz, hop 160, n_fft 400) sized to the encoder's mel bins and window."""
        from transformers import WhisperFeatureExtractor

        if isinstance(model, (str, Path)) and str(model) != "whisper-tiny-en":
            path = Path(model).expanduser()
            if not (path / "model.bin").is_file() and not path.is_file():
                try:
                    return WhisperFeatureExtractor.from_pretrained(str(model))
                except OSError:  # a folder without preprocessor_config.json
                    pass
        seconds, rest = divmod(config.max_source_positions * 2 * HOP, SAMPLE_RATE)
        if rest:
            raise ValueError(f"max_source_positions={config.max_source_positions} is not a whole "
                             "number of seconds (50 frames each)")
        return WhisperFeatureExtractor(feature_size=config.num_mel_bins, chunk_length=seconds)

    def __repr__(self) -> str:
        return f"WhisperEmbedder({self.cache_key.split('|')[0]!r}, pool={self.pool!r})"

    def _clips(self, items: Sequence[Any]) -> list[np.ndarray]:
        if isinstance(items, (str, bytes, Path, dict)) or (
                isinstance(items, (np.ndarray, torch.Tensor)) and items.ndim == 1):
            raise TypeError("items must be a list of clips, not a single clip")
        items = list(items)
        if not items:
            raise ValueError("no items to embed: items is empty")
        clips = []
        for i, item in enumerate(items):
            x, sr = _clip(item, i, self.sample_rate)
            if sr != SAMPLE_RATE:
                if not self.resample:
                    raise ValueError(f"items[{i}] is sampled at {sr} Hz; Whisper needs "
                                     f"{SAMPLE_RATE} Hz: resample it, or pass resample=True")
                x = resample(x, sr)
            if len(x) > self.max_samples:
                if not self.truncate:
                    raise ValueError(f"items[{i}] lasts {len(x) / SAMPLE_RATE:.1f} s, longer than "
                                     f"Whisper's {self.max_samples / SAMPLE_RATE:g} s window: cut it "
                                     "or pass truncate=True (keeps the first part)")
                x = x[: self.max_samples]
            clips.append(x)
        return clips

    def real_frames(self, n_samples: int) -> int:
        """Encoder frames that cover a clip of n_samples (50 a second), at least 1."""
        return min(self.n_frames, max(1, math.ceil(n_samples / (2 * HOP))))

    @torch.inference_mode()
    def encode(self, items: Sequence[Any], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        """Clips -> [n, D] float32, in order."""
        clips = self._clips(items)
        bs = batch_size or self.batch_size
        flag = self.show_progress_bar if show_progress_bar is None else show_progress_bar
        show = len(clips) >= _PROGRESS_CLIPS if flag is None else flag
        out = []
        for start in tqdm(range(0, len(clips), bs), desc="audio", disable=not show, unit="batch"):
            batch = clips[start:start + bs]
            mel_BFT = self.features(batch, sampling_rate=SAMPLE_RATE, return_tensors="pt",
                                    padding="max_length", truncation=True)["input_features"]
            hidden_BSD = self.encoder(mel_BFT.to(self.device, self.dtype)).last_hidden_state.float()
            n_B = torch.tensor([self.real_frames(len(x)) for x in batch], device=self.device)
            if self.pool == "all":
                n_B = torch.full_like(n_B, hidden_BSD.shape[1])
            mask_BS = torch.arange(hidden_BSD.shape[1], device=self.device)[None] < n_B[:, None]
            pooled_BD = (hidden_BSD * mask_BS[..., None]).sum(1) / n_B[:, None]
            out.append(pooled_BD.cpu().numpy())
        return np.concatenate(out).astype(np.float32)
