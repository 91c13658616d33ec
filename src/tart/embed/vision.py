"""Image embedders: torchvision's MobileNetV2 in plain torch, and transformers image models.

`MobileNetV2Embedder` rebuilds torchvision's MobileNetV2 with its exact parameter names
(features.0.0.weight ... features.18.1.*, classifier.1.*), so torchvision's ImageNet file
`mobilenet_v2-b0353104.pth` (the offline asset "mobilenet-v2") loads strictly without
torchvision, and returns the 1280-d globally average-pooled features. `HFImageEmbedder` wraps a
transformers image model (ViT, CLIP, ...) by hub id or folder, for online users.

Images: numpy arrays [H, W] (grayscale), [H, W, 1|3|4] (channels last; alpha is dropped), uint8
in 0..255 or float in [0, 1]; PIL images; or paths to image files (`tart.media.read_image`: needs
Pillow; `.npy` files are read with numpy). A 3-D array [n, H, W] or 4-D array [n, H, W, C] is a
batch. Grayscale becomes 3 equal channels; each image is resized to image_size x image_size
(bilinear with antialiasing, the aspect ratio is not kept, nothing is cropped) and normalised
with the ImageNet mean/std.

Legend: B batch, C channels, H height, W width, D feature width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from tart.embed.names import locate
from tart.embed.runtime import (dtype_name, model_ident, resolve_device, resolve_dtype,
                                weights_fingerprint)
from tart.media import pil_to_array, read_image

__all__ = ["MobileNetV2", "MobileNetV2Embedder", "HFImageEmbedder", "image_embedder",
           "to_rgb_tensor", "preprocess", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PROGRESS_IMAGES = 256  # auto progress bar from this many images

# --------------------------------------------------------------------------- the network

# (expansion t, output channels c, repeats n, first stride s), torchvision's width_mult=1.0
_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1)]


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU6; children 0, 1, 2 as in torchvision."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups,
                                   bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """1x1 expand (if t > 1) -> 3x3 depthwise -> 1x1 linear projection, residual if shapes allow."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int):
        super().__init__()
        hidden = c_in * expand
        self.use_res = stride == 1 and c_in == c_out
        layers: list[nn.Module] = [ConvBNReLU(c_in, hidden, 1)] if expand != 1 else []
        layers += [ConvBNReLU(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision.models.mobilenet_v2 (width 1.0), same modules and parameter names."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU(3, 32, 3, 2)]
        c_in = 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(ConvBNReLU(c_in, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def embed(self, x_BCHW: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled features [B, 1280] (the classifier's input)."""
        return self.features(x_BCHW).mean(dim=(2, 3))

    def forward(self, x_BCHW: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x_BCHW))

    @classmethod
    def from_file(cls, path: str | Path) -> "MobileNetV2":
        """Load torchvision's state dict (a .pth file) strictly; eval mode, float32."""
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise ValueError(f"{path} does not hold a state dict")
        n_classes = state["classifier.1.weight"].shape[0] if "classifier.1.weight" in state else 1000
        model = cls(n_classes)
        model.load_state_dict(state, strict=True)
        return model.float().eval()


# --------------------------------------------------------------------------- images -> tensors

def to_rgb_tensor(item: Any, i: int = 0) -> torch.Tensor:
    """One image (array, tensor, PIL image or path) -> float32 [3, H, W] in [0, 1]."""
    if isinstance(item, (str, Path)):
        item = read_image(item)
    if type(item).__module__.startswith("PIL."):
        item = pil_to_array(item)
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if not isinstance(item, np.ndarray):
        raise TypeError(f"items[{i}] is a {type(item).__name__}: images are arrays [H, W] or "
                        "[H, W, 3], PIL images or file paths")
    if item.ndim == 3 and item.shape[-1] not in (1, 3, 4):
        hint = " (channels first? use x.transpose(1, 2, 0))" if item.shape[0] in (1, 3, 4) else ""
        raise ValueError(f"items[{i}] has shape {item.shape}: images are channels last "
                         f"[H, W, 3]{hint}")
    if item.ndim not in (2, 3) or min(item.shape[:2]) < 1:
        raise ValueError(f"items[{i}] has shape {item.shape}: images are [H, W] or [H, W, C]")
    if item.dtype == np.uint8:
        x = item.astype(np.float32) / 255
    elif item.dtype.kind == "f":
        x = item.astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"items[{i}] contains NaN or inf")
        if x.min() < -1e-3 or x.max() > 1 + 1e-3:
            raise ValueError(f"items[{i}] has float values in [{x.min():.3g}, {x.max():.3g}]: float "
                             "images must be in [0, 1] (or pass uint8 0..255)")
    else:
        raise TypeError(f"items[{i}] has dtype {item.dtype}: pass uint8 (0..255) or float in [0, 1]")
    x_HWC = x[..., None] if x.ndim == 2 else x[..., :3]  # drop alpha
    if x_HWC.shape[-1] == 1:
        x_HWC = np.repeat(x_HWC, 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(x_HWC)).permute(2, 0, 1)


def preprocess(images: Sequence[torch.Tensor], size: int, normalize: bool = True) -> torch.Tensor:
    """[3, H, W] images in [0, 1] -> [B, 3, size, size], resized (bilinear, antialiased) and
    normalised with the ImageNet mean/std."""
    out = []
    for x_CHW in images:
        if x_CHW.shape[1:] != (size, size):
            x_CHW = F.interpolate(x_CHW[None], size=(size, size), mode="bilinear",
                                  antialias=True, align_corners=False)[0]
        out.append(x_CHW)
    x_BCHW = torch.stack(out)
    if normalize:
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x_BCHW = (x_BCHW - mean) / std
    return x_BCHW


def _check_items(items: Any) -> list[Any]:
    if isinstance(items, (str, bytes, Path)) or type(items).__module__.startswith("PIL."):
        raise TypeError("items must be a list of images, not a single image")
    if isinstance(items, (np.ndarray, torch.Tensor)):
        if items.ndim == 2:
            raise TypeError(f"items is one [H, W] image (shape {tuple(items.shape)}): pass a list "
                            "of images, or a batch [n, H, W] / [n, H, W, C]")
        if items.ndim == 3 and items.shape[-1] in (3, 4) and items.shape[1] > 4:
            raise TypeError(f"items has shape {tuple(items.shape)}: one [H, W, C] image or a batch "
                            "of grayscale images? Pass a list, or a 4-D batch [n, H, W, C]")
    items = list(items)
    if not items:
        raise ValueError("no items to embed: items is empty")
    return items


def _batches(n: int, bs: int, show: bool, desc: str):
    return tqdm(range(0, n, bs), desc=desc, disable=not show, unit="batch")


# --------------------------------------------------------------------------- embedders

class MobileNetV2Embedder:
    """1280-d average-pooled MobileNetV2 features (torchvision's ImageNet weights).

    model: "mobilenet-v2" (the offline asset), a torchvision `.pth` state dict or a folder
        holding one, or a loaded `MobileNetV2`.
    image_size: the side images are resized to (224 as in ImageNet training; small images such as
        28x28 Fashion-MNIST do nearly as well at a smaller size, e.g. 112, which is faster).
    device: default cuda if available. Runs in float32 (batch norm in bf16 gains little here).
    """

    context_dependent = False

    def __init__(self, model: Any = "mobilenet-v2", image_size: int = 224,
                 device: str | torch.device | None = None, batch_size: int = 64,
                 show_progress_bar: bool | None = None):
        if not isinstance(image_size, int) or image_size < 32:
            raise ValueError(f"image_size must be an int >= 32, not {image_size!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")
        self.image_size, self.batch_size = image_size, batch_size
        self.show_progress_bar = show_progress_bar
        self.device = resolve_device(device)
        if isinstance(model, MobileNetV2):
            net, name, self.fingerprint = model, "module", weights_fingerprint(None, model)
        else:
            path = self._resolve(model)
            net, name, self.fingerprint = MobileNetV2.from_file(path), path.name, \
                weights_fingerprint(path)
        self.model = net.to(self.device).eval()
        self.dim = 1280
        self.cache_key = (f"image:mobilenet-v2:{name}@{self.fingerprint}|size={image_size}"
                          "|resize=bilinear-aa|norm=imagenet")

    @staticmethod
    def _resolve(model: Any) -> Path:
        if not isinstance(model, (str, Path)):
            raise TypeError(f"model must be a path or MobileNetV2, not {type(model).__name__}")
        path = Path(locate(model)).expanduser()
        if path.is_dir():
            found = sorted(path.rglob("mobilenet_v2*.pth")) or sorted(path.rglob("*.pth"))
            if not found:
                raise FileNotFoundError(f"no .pth file in {path}")
            path = found[0]
        if not path.is_file():
            raise FileNotFoundError(f"no MobileNetV2 weights at {path}")
        return path

    def __repr__(self) -> str:
        return f"MobileNetV2Embedder(image_size={self.image_size})"

    @torch.inference_mode()
    def encode(self, items: Sequence[Any], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        """Images -> [n, 1280] float32, in order."""
        def batch(start: int, chunk: list) -> torch.Tensor:
            imgs = [to_rgb_tensor(x, start + j) for j, x in enumerate(chunk)]
            return self.model.embed(preprocess(imgs, self.image_size).to(self.device))

        return _encode_batches(self, items, batch_size, show_progress_bar, batch)


class HFImageEmbedder:
    """A transformers image model by hub id or folder (ViT, CLIP, DINOv2, ...), its processor's
    own resizing and normalisation.

    pool: "auto" = CLIP-style image embeddings (`get_image_features`) where the model has them,
        else the first (CLS) token of the last hidden layer for transformers, else the model's
        pooled output (CNNs); or "cls", "mean" (over tokens), "pooler".
    """

    context_dependent = False

    def __init__(self, model: str | Path, device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, batch_size: int = 32, pool: str = "auto",
                 show_progress_bar: bool | None = None):
        from transformers import AutoImageProcessor, AutoModel

        if pool not in ("auto", "cls", "mean", "pooler"):
            raise ValueError(f"pool must be 'auto', 'cls', 'mean' or 'pooler', not {pool!r}")
        self.batch_size, self.pool, self.show_progress_bar = batch_size, pool, show_progress_bar
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.processor = AutoImageProcessor.from_pretrained(str(model))
        loaded = AutoModel.from_pretrained(str(model))
        self.name_or_path, self.fingerprint = str(model), weights_fingerprint(model, loaded)
        self.model = loaded.to(self.device, self.dtype).eval()
        self._clip_like = hasattr(self.model, "get_image_features")
        ident = model_ident(str(model), self.model.config, self.fingerprint)
        self.cache_key = f"image:hf:{ident}|pool={pool}|dtype={dtype_name(self.dtype)}"

    def __repr__(self) -> str:
        return f"HFImageEmbedder({self.name_or_path!r})"

    def _pooled(self, pixels_BCHW: torch.Tensor) -> torch.Tensor:
        if self.pool in ("auto",) and self._clip_like:
            feats = self.model.get_image_features(pixel_values=pixels_BCHW)
            return feats if isinstance(feats, torch.Tensor) else feats.pooler_output
        out = self.model(pixel_values=pixels_BCHW)
        hidden = out.last_hidden_state
        pool = self.pool
        if pool == "auto":
            pool = "cls" if hidden.dim() == 3 else "pooler"
        if pool == "pooler":
            if getattr(out, "pooler_output", None) is None:
                raise ValueError("this model has no pooled output: use pool='cls' or 'mean'")
            return out.pooler_output.flatten(1)
        if hidden.dim() != 3:
            raise ValueError(f"pool={pool!r} needs token outputs [B, T, D], got {tuple(hidden.shape)}")
        return hidden[:, 0] if pool == "cls" else hidden.mean(1)

    @torch.inference_mode()
    def encode(self, items: Sequence[Any], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        """Images -> [n, D] float32, in order."""
        def batch(start: int, chunk: list) -> torch.Tensor:
            imgs = [to_rgb_tensor(x, start + j).permute(1, 2, 0).numpy() for j, x in enumerate(chunk)]
            pixels = self.processor(images=imgs, return_tensors="pt", do_rescale=False)["pixel_values"]
            return self._pooled(pixels.to(self.device, self.dtype))

        return _encode_batches(self, items, batch_size, show_progress_bar, batch)


def _encode_batches(emb: Any, items: Sequence[Any], batch_size: int | None,
                    show_progress_bar: bool | None, batch: Any) -> np.ndarray:
    """Shared loop of the image embedders: check the items, batch them (progress bar on long
    runs), `batch(start, chunk) -> features [b, D]`, concatenate as float32."""
    items = _check_items(items)
    bs = batch_size or emb.batch_size
    flag = emb.show_progress_bar if show_progress_bar is None else show_progress_bar
    show = len(items) >= _PROGRESS_IMAGES if flag is None else flag
    out = [batch(start, items[start:start + bs]).float().cpu().numpy()
           for start in _batches(len(items), bs, show, "images")]
    return np.concatenate(out).astype(np.float32)


def image_embedder(model: Any, **kwargs) -> MobileNetV2Embedder | HFImageEmbedder:
    """"mobilenet-v2", a .pth file or a folder with one -> MobileNetV2Embedder; anything else
    (a transformers folder or hub id) -> HFImageEmbedder."""
    model = locate(model)
    if isinstance(model, MobileNetV2) or str(model).endswith(".pth"):
        return MobileNetV2Embedder(model, **kwargs)
    path = Path(str(model)).expanduser()
    if path.is_dir() and not (path / "config.json").is_file() and any(path.rglob("*.pth")):
        return MobileNetV2Embedder(path, **kwargs)
    return HFImageEmbedder(model, **kwargs)
