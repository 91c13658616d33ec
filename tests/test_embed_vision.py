"""Image embedders: MobileNetV2 in plain torch (torchvision's names), preprocessing, bad input,
transformers image models by folder. The last test uses the packaged ImageNet MobileNetV2
(asset "mobilenet-v2")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import needs_asset
from probe import balanced_slice, probe_accuracy
from tart.embed import get_embedder
from tart.embed.vision import (IMAGENET_MEAN, IMAGENET_STD, HFImageEmbedder, MobileNetV2,
                               MobileNetV2Embedder, preprocess, to_rgb_tensor)


@pytest.fixture(scope="module")
def net() -> MobileNetV2:
    torch.manual_seed(0)
    model = MobileNetV2().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so eval mode matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module")
def emb(net) -> MobileNetV2Embedder:
    return MobileNetV2Embedder(net, image_size=64, device="cpu", batch_size=3)


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(20 + 3 * i, 30, 3), dtype=np.uint8) for i in range(n)]


def test_architecture_matches_torchvision(net):
    sd = net.state_dict()
    assert sum(p.numel() for p in net.parameters()) == 3_504_872  # torchvision's mobilenet_v2
    assert len(sd) == 314
    assert sd["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert sd["features.1.conv.1.weight"].shape == (16, 32, 1, 1)  # t=1 block: no expansion conv
    assert sd["features.2.conv.0.0.weight"].shape == (96, 16, 1, 1)
    assert sd["features.18.0.weight"].shape == (1280, 320, 1, 1)
    assert sd["classifier.1.weight"].shape == (1000, 1280)
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


@pytest.mark.slow
def test_pth_file_loads_strictly(net, tmp_path):
    torch.save(net.state_dict(), tmp_path / "w.pth")
    e = get_embedder(str(tmp_path / "w.pth"), image_size=64, device="cpu")
    assert isinstance(e, MobileNetV2Embedder) and e.cache_key.startswith("image:mobilenet-v2:w.pth@sha256:")
    imgs = _images(2)
    np.testing.assert_allclose(e.encode(imgs), MobileNetV2Embedder(net, image_size=64).encode(imgs),
                               atol=1e-5)
    bad = dict(net.state_dict())
    bad.pop("features.18.1.running_var")
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match="running_var"):
        MobileNetV2Embedder(tmp_path / "bad.pth")


def test_grayscale_to_three_channels_and_scaling():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    x = to_rgb_tensor(gray)
    assert x.shape == (3, 3, 4) and x.dtype == torch.float32
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    torch.testing.assert_close(x[0], torch.from_numpy(gray / 255).float())
    assert torch.equal(to_rgb_tensor(gray[..., None]), x)
    rgba = np.dstack([np.full((3, 4, 3), 0.5, np.float32), np.zeros((3, 4), np.float32)])
    assert to_rgb_tensor(rgba).shape == (3, 3, 4) and to_rgb_tensor(rgba).max() == 0.5


def test_resize_and_imagenet_normalisation():
    mean_img = np.broadcast_to(np.array(IMAGENET_MEAN, np.float32), (10, 7, 3)).copy()
    x = preprocess([to_rgb_tensor(mean_img)], 32)
    assert x.shape == (1, 3, 32, 32)
    torch.testing.assert_close(x, torch.zeros_like(x), atol=1e-6, rtol=0)
    white = preprocess([to_rgb_tensor(np.full((5, 5), 255, np.uint8))], 16)
    expect = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(white[0, :, 8, 8], expect)


@pytest.mark.slow
def test_encode_shapes_batches_and_formats(emb, tmp_path):
    imgs = _images(5)
    vecs = emb.encode(imgs)
    assert vecs.shape == (5, 1280) and vecs.dtype == np.float32 and np.isfinite(vecs).all()
    alone = np.concatenate([emb.encode([im]) for im in imgs])
    np.testing.assert_allclose(vecs, alone, rtol=1e-4, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])
    same = np.stack([imgs[0]] * 2)  # a 4-D batch [n, H, W, 3]; floats in [0, 1]; .npy files
    np.save(tmp_path / "a.npy", imgs[0])
    more = emb.encode([*same, imgs[0] / 255.0, torch.from_numpy(imgs[0]), tmp_path / "a.npy"])
    np.testing.assert_allclose(more, np.repeat(vecs[:1], 5, 0), rtol=1e-4, atol=1e-5)
    gray = np.random.default_rng(1).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(emb.encode(gray), emb.encode([np.dstack([g] * 3) for g in gray]),
                               atol=1e-5)


@pytest.mark.parametrize("items, err, match", [
    ([], ValueError, "empty"),
    (np.zeros((8, 8), np.uint8), TypeError, "one \\[H, W\\] image"),
    (np.zeros((32, 32, 3), np.uint8), TypeError, "4-D batch"),
    ("cat.png", TypeError, "single image"),
    ([np.zeros((3, 8, 8), np.uint8)], ValueError, "channels first"),
    ([np.zeros((8,), np.uint8)], ValueError, "shape"),
    ([np.zeros((0, 8), np.uint8)], ValueError, "shape"),
    ([np.full((8, 8), 2.0)], ValueError, "\\[0, 1\\]"),
    ([np.full((8, 8), np.nan)], ValueError, "NaN"),
    ([np.zeros((8, 8), np.int64)], TypeError, "uint8"),
    ([[1, 2, 3]], TypeError, "list"),
    (["/nowhere/cat.png"], FileNotFoundError, "cat.png"),
])
def test_bad_input(emb, items, err, match):
    with pytest.raises(err, match=match):
        emb.encode(items)


def test_bad_options(net):
    with pytest.raises(ValueError, match="image_size"):
        MobileNetV2Embedder(net, image_size=8)
    with pytest.raises(FileNotFoundError):
        MobileNetV2Embedder("/nowhere/w.pth")


def test_transformers_vit_folder(tmp_path):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, image_size=32, patch_size=8)
    ViTModel(cfg).save_pretrained(tmp_path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    e = get_embedder(str(tmp_path), device="cpu", dtype="float32")  # model_type vit -> image
    assert isinstance(e, HFImageEmbedder)
    imgs = _images(3)
    cls = e.encode(imgs)
    assert cls.shape == (3, 16) and cls.dtype == np.float32
    mean = get_embedder(str(tmp_path), kind="image", pool="mean", device="cpu", dtype="float32")
    assert not np.allclose(cls, mean.encode(imgs)) and mean.cache_key != e.cache_key


def test_transformers_clip_image_features(tmp_path):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    cfg = CLIPConfig(text_config=dict(small, vocab_size=50, max_position_embeddings=8),
                     vision_config=dict(small, image_size=32, patch_size=8), projection_dim=12)
    CLIPModel(cfg).save_pretrained(tmp_path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                       ).save_pretrained(tmp_path)
    e = get_embedder(str(tmp_path), device="cpu", dtype="float32")
    assert e.encode(_images(2)).shape == (2, 12)  # the projected image embeddings


@needs_asset("mobilenet-v2")
def test_real_mobilenet_v2():
    e = get_embedder("mobilenet-v2", image_size=112)
    assert isinstance(e, MobileNetV2Embedder)
    assert e.cache_key.startswith("image:mobilenet-v2:mobilenet_v2-b0353104.pth@sha256:")
    rng = np.random.default_rng(0)
    stripes = np.tile((np.arange(64) // 8 % 2 * 255).astype(np.uint8), (64, 1))
    imgs = [stripes, stripes.T.copy(), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)]
    vecs = e.encode(imgs)
    assert vecs.shape == (3, 1280) and np.isfinite(vecs).all() and (vecs >= 0).all()  # after ReLU6
    with torch.no_grad():  # the pooled features feed the ImageNet classifier
        logits = e.model.classifier(torch.from_numpy(vecs))
    assert logits.shape == (3, 1000) and logits.std() > 1


@needs_asset("mobilenet-v2")
@needs_asset("fashion_mnist")
def test_real_mobilenet_v2_accuracy_floor():
    """Sneaker vs sandal, 96 fresh Fashion-MNIST images at 64 px (chance 0.5): measured 0.969;
    the same network with random weights scored 0.875."""
    from tart.datasets import load_dataset

    d = load_dataset("fashion_mnist:sneaker-sandal")
    imgs, y = balanced_slice(d.train_items, d.train_labels, 48)
    acc = probe_accuracy(get_embedder("mobilenet-v2", image_size=64).encode(imgs), y)
    assert acc >= 0.92, f"MobileNetV2 probe accuracy {acc:.3f} on 96 images (chance 0.5)"
