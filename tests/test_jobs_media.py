"""`tart fit` / `tart predict` on images (MobileNetV2, a class-folder tree of Fashion-MNIST PNGs)
and audio (Whisper tiny.en on synthesised keyword WAVs), unreadable files in the errors file."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import needs_asset
from tart.cli import main


@needs_asset("mobilenet-v2")
@needs_asset("fashion_mnist")
def test_images_from_class_folders(tmp_path, capsys):
    from tart.datasets import load_dataset

    ds = load_dataset("fashion_mnist:sneaker-sandal")
    X, y = ds.train_items, np.asarray(ds.train_labels)
    for name, cls in zip(ds.label_names, (0, 1)):
        (tmp_path / "train" / name).mkdir(parents=True)
        for j, i in enumerate(np.flatnonzero(y == cls)[:8]):
            Image.fromarray(X[i]).save(tmp_path / "train" / name / f"{j}.png")
    assert main(["fit", "--data", str(tmp_path / "train"), "--embedder", "mobilenet-v2", "--n-estimators", "2",
                 "--out", str(tmp_path / "model")]) == 0
    out = capsys.readouterr().out
    assert f"'{ds.label_names[0]}': 8" in out and "leave-one-out accuracy on the 16" in out
    q = tmp_path / "bucket"
    (q / "sub").mkdir(parents=True)
    Xt, yt = ds.test_items[:6], np.asarray(ds.test_labels[:6])
    for i, x in enumerate(Xt):
        Image.fromarray(x).save((q / "sub" if i % 2 else q) / f"img{i}.png")
    (q / "broken.png").write_bytes(b"\x89PNG not really")
    code = main(["predict", "--model", str(tmp_path / "model"), "--input", str(q), "--output",
                 str(tmp_path / "pred.csv"), "--no-progress"])
    assert code == 3
    df = pd.read_csv(tmp_path / "pred.csv")
    assert df["path"].tolist() == ["img0.png", "img2.png", "img4.png", "sub/img1.png", "sub/img3.png", "sub/img5.png"]
    truth = {f"img{i}.png": ds.label_names[int(c)] for i, c in enumerate(yt)}
    acc = np.mean([lab == truth[p.split("/")[-1]] for p, lab in zip(df["path"], df["label"])])
    assert acc >= 4 / 6
    err = [json.loads(x) for x in (tmp_path / "pred.csv.errors.jsonl").read_text().splitlines()]
    assert err[0]["id"] == "broken.png" and "cannot read image" in err[0]["error"]


@needs_asset("whisper-tiny-en")
@needs_asset("speech_tools")
def test_audio_from_a_table_of_paths(tmp_path, capsys):
    from scipy.io import wavfile

    from tart.datasets import load_dataset

    ds = load_dataset("spoken_keywords:on-off")
    y = np.asarray(ds.train_labels)
    (tmp_path / "clips").mkdir()
    rows = []
    for cls in (0, 1):
        for i in np.flatnonzero(y == cls)[:6]:
            name = f"clips/{i}.wav"
            wavfile.write(tmp_path / name, ds.sample_rate, (ds.train_items[i] * 32767).astype(np.int16))
            rows.append({"file": name, "word": ds.label_names[cls]})
    pd.DataFrame(rows).to_csv(tmp_path / "train.csv", index=False)
    assert main(["fit", "--data", str(tmp_path / "train.csv"), "--path-column", "file", "--label-column", "word",
                 "--embedder", "whisper-tiny-en", "--n-estimators", "2", "--out", str(tmp_path / "model")]) == 0
    assert "'on': 6" in capsys.readouterr().out
    test_rows = []
    for i in range(4):
        wavfile.write(tmp_path / f"clips/t{i}.wav", ds.sample_rate, (ds.test_items[i] * 32767).astype(np.int16))
        test_rows.append({"clip": f"c{i}", "file": f"clips/t{i}.wav"})
    (tmp_path / "clips" / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    test_rows.insert(2, {"clip": "bad", "file": "clips/bad.wav"})
    test_rows.append({"clip": "gone", "file": "clips/missing.wav"})
    pd.DataFrame(test_rows).to_parquet(tmp_path / "q.parquet")
    code = main(["predict", "--model", str(tmp_path / "model"), "--input", str(tmp_path / "q.parquet"),
                 "--id-column", "clip", "--output", str(tmp_path / "pred.jsonl"), "--no-progress"])
    assert code == 3
    df = pd.read_json(tmp_path / "pred.jsonl", lines=True)
    assert df["clip"].tolist() == ["c0", "c1", "c2", "c3"] and set(df["label"]) <= {"on", "off"}
    np.testing.assert_allclose(df[["proba_on", "proba_off"]].sum(axis=1), 1.0, atol=1e-9)
    err = [json.loads(x) for x in (tmp_path / "pred.jsonl.errors.jsonl").read_text().splitlines()]
    assert [e["id"] for e in err] == ["bad", "gone"] and all("cannot read audio" in e["error"] for e in err)
