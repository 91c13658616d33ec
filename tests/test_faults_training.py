"""Faults while training, saving and exporting a module: a run folder reused by mistake, a dangling
`latest`, a process killed (SIGKILL) at each step of a save, a full disk, a truncated weights file
and an incomplete config.json. Each gives the old or the new complete result, or a clear error;
never a silent restart, a mixed model or lost committed work."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from tart import checkpoint
from tart.checkpoint import CheckpointError, load_model, save_model
from tart.cli import main as cli_main
from tart.reasoner import Reasoner, ReasonerConfig
from tart.set_reasoner import SetReasoner, SetReasonerConfig
from tart.priors_tart import Curriculum
from tart.runs import latest_checkpoint, save_checkpoint
from tart.train import TrainConfig, train

SMALL = dict(n_embd=16, n_layer=1, n_head=2, n_positions=40)
SRC = str(Path(__file__).resolve().parents[1] / "src")


def cfg(**kw) -> TrainConfig:
    base = dict(preset="tiny", steps=6, batch_size=4, lr=1e-3, warmup=2, model=SMALL,
                curriculum=asdict(Curriculum.fixed(4, 12)), log_every=1, ckpt_every=3,
                device="cpu")
    return TrainConfig(**{**base, **kw})


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def losses(run: Path) -> list[tuple[int, float]]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x]
    return [(r["step"], r["loss"]) for r in rows]


# --- a run folder reused, pruning, a dangling `latest` --------------------------------------------

def test_training_into_a_run_folder_needs_resume_or_overwrite(tmp_path, capsys):
    run = tmp_path / "run"
    train(cfg(), run, progress=False)
    before = (run / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match=f"{run} already holds a training run.*--resume.*--overwrite"):
        train(cfg(), run, progress=False)
    assert (run / "metrics.jsonl").read_text() == before  # nothing touched
    assert latest_checkpoint(run).name == "step-0000006"
    args = ["train", "--out", str(run), "--preset", "tiny", "--steps", "3", "--batch-size", "4",
            "--device", "cpu", "--no-progress", "--points-start", "10", "--points-end", "10"]
    assert cli_main(args) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert cli_main([*args, "--overwrite"]) == 0  # cleared, then trained afresh
    assert [s for s, _ in losses(run)][-1] == 3
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-0000003"]
    assert cli_main([*args, "--overwrite", "--resume"]) == 2


def test_pruning_orders_by_step_and_keeps_the_newest(tmp_path):
    """Checkpoints of step 10,000,000 and more sort before step-9999999 by name; pruning must go by
    step number and never delete the checkpoint just written (the one `latest` names)."""
    run = tmp_path / "run"
    c = cfg(keep_checkpoints=2)
    model = c.build_model()
    opt = torch.optim.AdamW(model.parameters())
    for step in (9_999_998, 9_999_999, 10_000_000):
        save_checkpoint(run, model, opt, c, step)
    names = sorted(p.name for p in (run / "checkpoints").glob("step-*"))
    assert names == ["step-10000000", "step-9999999"]
    assert latest_checkpoint(run).name == "step-10000000"
    # a checkpoint written at a lower step than stale ones (resumed from an older one) survives
    save_checkpoint(run, model, opt, c, 5)
    assert latest_checkpoint(run).name == "step-0000005"
    assert (run / "checkpoints" / "step-0000005").is_dir()


def test_resume_with_a_dangling_latest_uses_the_newest_complete_checkpoint(tmp_path, capsys):
    full = weights(train(cfg(), tmp_path / "full", progress=False))
    run = tmp_path / "run"
    train(cfg(), run, progress=False)
    import shutil

    shutil.rmtree(run / "checkpoints" / "step-0000006")  # `latest` now names a missing folder
    resumed = weights(train(cfg(), run, resume=True, progress=False))
    assert "resuming from the newest complete checkpoint, step-0000003" in capsys.readouterr().err
    history = [json.loads(x) for x in (run / "train_config_history.jsonl").read_text().splitlines()]
    assert history[-1]["start_step"] == 3  # not a fresh start
    assert same(full, resumed) and losses(run) == losses(tmp_path / "full")
    # no complete checkpoint at all behind the pointer: a clear error, never a silent restart
    for p in (run / "checkpoints").glob("step-*"):
        shutil.rmtree(p)
    with pytest.raises(CheckpointError, match="names step-0000006, which is missing.*nothing to resume"):
        train(cfg(), run, resume=True, progress=False)


# --- SIGKILL during training: resume reaches the uninterrupted result ------------------------------

_KILL_TRAIN = """
import os, signal, sys
from tart import runs as T
calls = {"n": 0}
orig = T.save_training_state
def killing(path, step, cfg, opt, *rest):  # die half-way through writing the second checkpoint
    if step == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(path, step, cfg, opt, *rest)
T.save_training_state = killing
from tart.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def one_thread():
    """The killed subprocess trains on one thread: so must the in-process runs it is compared with
    (float reductions differ between thread counts, and earlier tests may have changed it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.subprocess
def test_sigkill_while_writing_a_checkpoint_then_resume(tmp_path, one_thread):
    args = ["train", "--preset", "tiny", "--steps", "9", "--batch-size", "4", "--lr", "0.001",
            "--warmup", "2", "--ckpt-every", "3", "--log-every", "1", "--device", "cpu",
            "--no-progress", "--dims-start", "4", "--points-start", "12", "--points-end", "12"]
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC}
    proc = subprocess.run([sys.executable, "-c", _KILL_TRAIN, *args, "--out", str(run)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    committed = latest_checkpoint(run)
    assert committed.name == "step-0000003"  # the committed checkpoint survived the kill
    assert cli_main([*args, "--out", str(run), "--resume"]) == 0
    assert not list((run / "checkpoints").glob(".step-*"))  # swept by the next save
    assert cli_main([*args, "--out", str(tmp_path / "full")]) == 0
    assert same(load_model(run)[1], load_model(tmp_path / "full")[1])
    assert losses(run) == losses(tmp_path / "full")
    a, b = (load_model(p / "checkpoints" / "step-0000009")[1] for p in (run, tmp_path / "full"))
    assert same(a, b)


# --- SIGKILL at every step of save_model: the old or the new model, never a mix ---------------------

def _kill_at(n: int, fn) -> int:
    """Run fn in a forked child that SIGKILLs itself at its n-th file operation of save_model
    (a write, fsync, rename or delete); the child's exit status."""
    pid = os.fork()
    if pid == 0:  # child
        count = {"n": 0}

        def point():
            count["n"] += 1
            if count["n"] == n:
                os.kill(os.getpid(), signal.SIGKILL)

        def wrap(f):
            def inner(*a, **k):
                point()
                out = f(*a, **k)
                point()
                return out
            return inner

        checkpoint.os.replace = wrap(os.replace)
        checkpoint.save_file = wrap(checkpoint.save_file)
        for name in ("_fsync_file", "fsync_dir"):
            if hasattr(checkpoint, name):
                setattr(checkpoint, name, wrap(getattr(checkpoint, name)))
        Path.unlink = wrap(Path.unlink)
        try:
            fn()
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


@pytest.mark.subprocess
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sigkill_at_every_point_of_save_model_leaves_old_or_new(tmp_path):
    folder = tmp_path / "m"
    old_cfg, old = {"v": 1}, {"a": torch.zeros(3), "b": torch.ones(2)}
    new_cfg, new = {"v": 2}, {"a": torch.full((3,), 7.0), "b": torch.full((2,), 8.0),
                              "c": torch.arange(300.0)}
    seen = set()
    for n in range(1, 200):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        save_model(folder, old_cfg, old)
        status = _kill_at(n, lambda: save_model(folder, new_cfg, new, max_shard_mb=0.001))
        config, state = load_model(folder)  # rolls an interrupted commit forward
        if config == old_cfg:
            assert same(state, old), n
            seen.add("old")
        else:
            assert config == new_cfg and same(state, new), n
            seen.add("new")
        if os.WIFEXITED(status):  # the save ran to the end: every point was tried
            break
    assert seen == {"old", "new"} and os.WIFEXITED(status)
    save_model(folder, old_cfg, old)  # back to one file: no shard or temp file is left over
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


# --- a full disk ------------------------------------------------------------------------------

def _full_disk_after(monkeypatch, n_ok: int):
    """save_file writes half a file, then fails with ENOSPC, after `n_ok` successful calls."""
    real, calls = checkpoint.save_file, {"n": 0}

    def save_file(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] > n_ok:
            Path(filename).write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", save_file)


@pytest.mark.parametrize("shard_mb", [None, 0.001])
def test_full_disk_while_saving_a_model_keeps_the_previous_one(tmp_path, monkeypatch, shard_mb):
    torch.manual_seed(0)
    old, new = Reasoner(ReasonerConfig(**SMALL)), Reasoner(ReasonerConfig(**SMALL))
    old.save_pretrained(tmp_path, max_shard_mb=shard_mb)
    _full_disk_after(monkeypatch, 1)  # a sharded save fails on its second shard
    with pytest.raises(CheckpointError, match=f"could not write the model to {tmp_path}.*No space "
                                              "left on device.*unchanged"):
        new.save_pretrained(tmp_path, max_shard_mb=0.001)
    assert same(weights(Reasoner.from_pretrained(tmp_path)), weights(old))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    full = weights(train(cfg(), tmp_path / "full", progress=False))
    run = tmp_path / "run"
    # each checkpoint is 3 save_file calls (its weights, its training state, the run's top level)
    _full_disk_after(monkeypatch, 3)
    with pytest.raises(CheckpointError, match="writing checkpoint step-0000006 .*No space left on "
                                              "device.*previous checkpoints and `latest` are unchanged"):
        train(cfg(), run, progress=False)
    assert latest_checkpoint(run).name == "step-0000003"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-0000003"]
    monkeypatch.undo()  # space freed: the run resumes and matches the uninterrupted one
    assert same(full, weights(train(cfg(), run, resume=True, progress=False)))


# --- a truncated weights file, an incomplete or unknown config -----------------------------------

@pytest.mark.parametrize("cut", [1, 4096])
def test_truncated_weights_are_a_clear_error(tmp_path, cut):
    torch.manual_seed(0)
    Reasoner(ReasonerConfig(**SMALL)).save_pretrained(tmp_path, max_shard_mb=0.01)
    shard = sorted(tmp_path.glob("model-*.safetensors"))[-1]
    shard.write_bytes(shard.read_bytes()[:-cut])
    with pytest.raises(CheckpointError, match=f"{shard.name} is corrupt or not a safetensors file"):
        Reasoner.from_pretrained(tmp_path)


@pytest.mark.parametrize("cls, config", [(Reasoner, ReasonerConfig(**SMALL)),
                                         (SetReasoner, SetReasonerConfig(n_dims=8, n_embd=16,
                                                                         n_layer=1, n_head=2))])
def test_config_json_with_missing_or_unknown_keys_is_a_clear_error(tmp_path, cls, config):
    cls(config).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    for key in ("layer_norm_eps", "n_dims"):  # eps changes no shape: a default would load silently
        (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in saved.items() if k != key}))
        with pytest.raises(CheckpointError, match=rf"config.json lacks the keys \['{key}'\]"):
            cls.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**saved, "n_kv_heads": 2}))
    with pytest.raises(CheckpointError, match=r"unknown .*config keys: \['n_kv_heads'\]"):
        cls.from_pretrained(tmp_path)


# --- SIGKILL during export-model: the destination is never half-written ---------------------------

_KILL_EXPORT = """
import os, signal, sys
from tart import export as P
where = sys.argv[1]
if where == "weights":  # die inside the weights' write
    from tart import checkpoint as C
    real = C.save_file
    def save_file(*a, **k):
        real(*a, **k)
        os.kill(os.getpid(), signal.SIGKILL)
    C.save_file = save_file
else:  # die when the model card is written: weights and evaluation are done
    def card(path, data):
        os.kill(os.getpid(), signal.SIGKILL)
    P.atomic_write_bytes = card
from tart.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.subprocess
def test_sigkill_during_export_then_rerun(tmp_path):
    run = tmp_path / "run"
    train(cfg(), run, progress=False)
    out = tmp_path / "shipped"
    args = ["export-model", "--run", str(run), "--out", str(out), "--hardware", "test CPU",
            "--n-tasks", "2", "--n-queries", "2"]
    assert cli_main([*args, "--notes", "the first export"]) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC}
    for where in ("weights", "card"):
        proc = subprocess.run([sys.executable, "-c", _KILL_EXPORT, where, *args], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # untouched
    assert cli_main(args) == 0
    again = {p.name: p.read_bytes() for p in out.iterdir()}
    assert cli_main([*args[:4], str(tmp_path / "clean"), *args[5:]]) == 0
    assert again == {p.name: p.read_bytes() for p in (tmp_path / "clean").iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "run", "shipped"]  # no temp left
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files an export does not write"):
        from tart.export import export_model

        export_model(run, out, "test CPU", n_tasks=2, n_queries=2)
