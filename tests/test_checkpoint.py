import json
import os

import pytest
import torch

from memgpt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from memgpt.model import GPT, GPTConfig


def test_round_trip(tmp_path, tiny_model, tok):
    save_checkpoint(str(tmp_path), tiny_model, tok, {"step": 5})
    model, t2, meta = load_checkpoint(str(tmp_path))
    assert meta["step"] == 5 and t2.specials == tok.specials
    x = torch.randint(0, 4000, (1, 10))
    torch.testing.assert_close(model(x)[0], tiny_model(x)[0])
    assert model.lm_head.weight is model.transformer.wte.weight


def test_compiled_prefix_is_stripped(tmp_path, tiny_model, tok):
    sd = {"_orig_mod." + k: v for k, v in tiny_model.state_dict().items()}
    save_checkpoint(str(tmp_path), tiny_model, tok)
    torch.save(sd, tmp_path / "model.pt")
    load_checkpoint(str(tmp_path))


@pytest.mark.parametrize("name", ["config.json", "model.pt", "meta.json", "tokenizer.json", "tokenizer.bpe"])
def test_missing_file_is_named(tmp_path, tiny_model, tok, name):
    save_checkpoint(str(tmp_path), tiny_model, tok)
    os.remove(tmp_path / name)
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        load_checkpoint(str(tmp_path))


@pytest.mark.parametrize("name", ["config.json", "model.pt", "meta.json", "tokenizer.bpe"])
def test_truncated_file_is_named(tmp_path, tiny_model, tok, name):
    save_checkpoint(str(tmp_path), tiny_model, tok)
    p = tmp_path / name
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        load_checkpoint(str(tmp_path))


def test_mismatched_weights_are_named(tmp_path, tiny_model, tok):
    save_checkpoint(str(tmp_path), tiny_model, tok)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["model"]["n_embd"] = 64
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="model.pt"):
        load_checkpoint(str(tmp_path))


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(str(tmp_path / "nope"))
