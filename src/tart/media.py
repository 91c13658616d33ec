"""Audio and image file I/O shared by the embedders (`tart.embed`) and the data sets
(`tart.datasets`): the 16 kHz sample rate, WAV reading, mono float conversion, resampling, and
decoding the audio and image values that data sets hold (arrays, dicts, bytes, paths).

Audio is mono float32 in [-1, 1]; images are numpy arrays (uint8 [H, W] or [H, W, 3] from
`decode_image`; as stored for `read_image`). numpy only at import; scipy, Pillow and the optional
`soundfile` are imported when needed.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SAMPLE_RATE", "to_mono_float", "read_wav", "load_audio", "resample", "decode_audio",
           "decode_image", "read_image", "pil_to_array"]

SAMPLE_RATE = 16000  # Whisper's rate, and the rate audio data sets are stored at


def to_mono_float(audio: np.ndarray) -> np.ndarray:
    """PCM ints -> floats in [-1, 1]; [n, channels] (or [channels, n]) -> mono by averaging."""
    a = _pcm_float(np.asarray(audio))
    if a.ndim == 2:
        a = a.mean(axis=1 if a.shape[0] > a.shape[1] else 0)
    if a.ndim != 1:
        raise ValueError(f"audio must be 1-d or 2-d (channels), got shape {a.shape}")
    return a


def _pcm_float(a: np.ndarray) -> np.ndarray:
    """uint8 (offset 128) and signed PCM ints -> float32 in [-1, 1]; floats -> float32."""
    if a.dtype == np.uint8:
        return (a.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    return a.astype(np.float32)


def read_wav(data: bytes | str | Path) -> tuple[np.ndarray, int]:
    """A WAV file (bytes or path) -> (mono float32 in [-1, 1], sample rate), read with
    scipy.io.wavfile (8/16/24/32-bit PCM and float); channels are averaged."""
    from scipy.io import wavfile

    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else str(data)
    sr, a_TC = wavfile.read(src)
    x = _pcm_float(a_TC)
    return (x.mean(axis=1) if x.ndim == 2 else x), int(sr)


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples float32 in [-1, 1], sample rate) of an audio file; several channels are averaged
    to mono. WAV is read with scipy; other formats need the optional `soundfile` package."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no audio file at {path}")
    try:
        return read_wav(path)
    except (ValueError, EOFError) as e:  # not a RIFF file, or a WAV encoding scipy lacks
        try:
            import soundfile
        except ImportError:
            raise ValueError(f"cannot read {path} ({e}): only WAV is read without the "
                             "optional `soundfile` package (pip install soundfile)") from None
        x_TC, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        return x_TC.mean(axis=1).astype(np.float32), int(sr)


def resample(audio: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, Kaiser-windowed low-pass) of a 1-d
    signal; float32 out."""
    audio = np.asarray(audio, dtype=np.float32)
    if int(sr_in) == int(sr_out):
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(int(sr_in), int(sr_out))
    return resample_poly(audio, int(sr_out) // g, int(sr_in) // g).astype(np.float32)


def decode_audio(value: Any, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """One audio value of a data set -> mono float32 at sr_out.

    Accepts {"array", "sampling_rate"} (a decoded `datasets.Audio`), {"bytes", "path"} (WAV bytes,
    an undecoded `Audio` or the hub's parquet files), a path, raw WAV bytes, or a torchcodec
    AudioDecoder (`datasets` >= 4, decoded).
    """
    if isinstance(value, dict):
        if value.get("array") is not None:
            if value.get("sampling_rate") is None:
                raise ValueError("an audio {'array': ...} value needs its 'sampling_rate'")
            return resample(to_mono_float(value["array"]), int(value["sampling_rate"]), sr_out)
        if value.get("bytes"):
            a, sr = read_wav(value["bytes"])
        elif value.get("path"):
            a, sr = read_wav(value["path"])
        else:
            raise ValueError(f"an audio value has neither array, bytes nor path: keys {list(value)}")
    elif isinstance(value, (bytes, bytearray, str, Path)):
        a, sr = read_wav(value)
    elif hasattr(value, "get_all_samples"):
        samples = value.get_all_samples()
        return resample(to_mono_float(np.asarray(samples.data).T), int(samples.sample_rate), sr_out)
    else:
        raise ValueError(f"cannot decode audio from a {type(value).__name__}")
    return resample(a, sr, sr_out)


def pil_to_array(img: Any) -> np.ndarray:
    """A PIL image as an array: grey ("L") and RGB as stored, other modes converted to RGB."""
    return np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)


def decode_image(value: Any) -> np.ndarray:
    """One image value of a data set -> uint8 [H, W] (grey) or [H, W, 3] (colour).

    Accepts {"bytes", "path"} (png/jpeg; an undecoded `datasets.Image` or the hub's parquet
    files), a PIL image, a path, raw bytes, or an array / nested list.
    """
    if isinstance(value, dict):
        if value.get("bytes"):
            value = value["bytes"]
        elif value.get("path"):
            value = value["path"]
        else:
            raise ValueError(f"an image value has neither bytes nor path: keys {list(value)}")
    if isinstance(value, (bytes, bytearray, str, Path)):
        from PIL import Image

        with Image.open(io.BytesIO(value) if isinstance(value, (bytes, bytearray)) else value) as im:
            im.load()
            value = im.copy()
    if hasattr(value, "mode") and hasattr(value, "convert"):  # a PIL image
        value = np.asarray(value.convert("L" if value.mode in ("1", "L", "I", "I;16", "F")
                                         else "RGB"))
    a = np.asarray(value)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and a.max() <= 1.0:
            a = a * 255.0
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"an image must be [H, W] or [H, W, 3], got shape {a.shape}")
    return a


def read_image(path: str | Path) -> np.ndarray:
    """An image file as an array: `.npy` with numpy, else with Pillow (`pil_to_array`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    if path.suffix == ".npy":
        return np.load(path)
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"reading {path.name} needs Pillow (pip install pillow); or pass arrays") \
            from None
    with Image.open(path) as img:
        return pil_to_array(img).copy()
