"""Audio embedder: the Whisper encoder, mean-pooled over the frames that cover real audio.

Each clip (16 kHz mono) becomes Whisper's 80-bin log-mel spectrogram, padded to the model's
30 s window as Whisper always is; the encoder's last layer (1500 frames, 50 a second) is then
averaged over only the ceil(seconds * 50) frames that hold the clip. The original TART code
averaged all 1500 frames, so a 1 s word was ~3% of its vector and 97% padding; `pool="all"`
reproduces that.

Weights come from a transformers Whisper model (hub id or local folder, for online users) or
from a CTranslate2 `model.bin` (faster-whisper's format, as in the offline asset
"whisper-tiny-en"), whose encoder tensors `tart.embed.ctranslate2` copies into a transformers
`WhisperEncoder`. Files are read and resampled by `tart.media`.

Legend: B batch, F mel bins, T mel frames (3000 = 30 s), S encoder frames (T/2), D width.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from tart.embed.ctranslate2 import whisper_encoder_from_ctranslate2
from tart.embed.names import locate
from tart.embed.runtime import (dtype_name, model_ident, resolve_device, resolve_dtype,
                                weights_fingerprint)
from tart.media import SAMPLE_RATE, load_audio, resample

__all__ = ["WhisperEmbedder"]

HOP = 160  # samples per mel frame; the encoder's second conv halves the frames again
_PROGRESS_CLIPS = 64  # auto progress bar from this many clips


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


class WhisperEmbedder:
    """Whisper encoder features of audio clips, mean-pooled over the real-audio frames.

    model: a CTranslate2 Whisper folder or `model.bin` (offline asset "whisper-tiny-en"), a
        transformers Whisper folder or hub id ("openai/whisper-base", needs internet once), or a
        loaded `WhisperEncoder` / `WhisperModel` (fingerprinted by a digest of its tensors).
    sample_rate: the rate of array inputs. Files carry their own. A rate other than 16 kHz is
        an error unless `resample=True` (polyphase resampling with scipy).
    pool: "real" (mean over the ceil(seconds * 50) frames that cover the clip) or "all" (mean
        over the whole 30 s window including padding, as the original TART did).
    truncate: clips longer than the 30 s window are an error, or with `truncate=True` cut to
        their first 30 s.
    device / dtype: default cuda if available; bf16 on cuda (and AMX CPUs), else fp32.

    Items: 1-D float arrays (mono, in [-1, 1]), (array, sample_rate) pairs, Hugging Face
    `datasets` audio dicts {"array", "sampling_rate"}, or paths to audio files (WAV; other formats
    with `soundfile`: `tart.media.load_audio`); multi-channel files are averaged to mono.
    """

    context_dependent = False

    def __init__(self, model: Any = "whisper-tiny-en", device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, batch_size: int = 8,
                 sample_rate: int = SAMPLE_RATE, resample: bool = False, pool: str = "real",
                 truncate: bool = False, show_progress_bar: bool | None = None):
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
        model = locate(model)
        encoder, ident, self.fingerprint = self._load(model)
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
                          f"|dtype={dtype_name(self.dtype)}")

    def _load(self, model: Any):
        """(encoder, identity for the cache key, fingerprint of the weights loaded)."""
        if isinstance(model, torch.nn.Module):
            enc = model.get_encoder() if hasattr(model, "get_encoder") else model
            fp = weights_fingerprint(None, enc)
            return enc, model_ident(type(enc).__name__, enc.config, fp), fp
        if not isinstance(model, (str, Path)):
            raise TypeError("model must be a path, hub id or Whisper module, not "
                            f"{type(model).__name__}")
        path = Path(model).expanduser()
        ct2 = path if path.is_file() else path / "model.bin"  # transformers never writes this
        if ct2.is_file():
            fp = weights_fingerprint(ct2)
            return whisper_encoder_from_ctranslate2(ct2), f"ct2:{ct2.name}@{fp}", fp
        from transformers import WhisperModel

        m = WhisperModel.from_pretrained(str(model))
        fp = weights_fingerprint(model, m)
        return m.get_encoder(), model_ident(str(model), m.config, fp), fp

    @staticmethod
    def _feature_extractor(model: Any, config: Any):
        """The model's own feature extractor (transformers folder or hub id), else Whisper's
        standard one (16 kHz, hop 160, n_fft 400) sized to the encoder's mel bins and window."""
        from transformers import WhisperFeatureExtractor

        if isinstance(model, (str, Path)):
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
        return f"WhisperEmbedder({self.cache_key.split('@')[0]!r}, pool={self.pool!r})"

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
