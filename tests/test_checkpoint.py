import json
import os

import pytest
import torch

from memgpt.checkpoint import CheckpointError, export_checkpoint, load_checkpoint, save_checkpoint
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


def test_float16_export_halves_weights_and_loads_as_float32(tmp_path, tiny_model, tok):
    src, dst = tmp_path / "src", tmp_path / "dst"
    save_checkpoint(str(src), tiny_model, tok, {"step": 7})
    meta = export_checkpoint(str(src), str(dst), "float16")
    assert meta["step"] == 7 and meta["weights_dtype"] == "float16" and meta["exported_from"] == str(src)
    sd = torch.load(dst / "model.pt", weights_only=True)
    assert {v.dtype for v in sd.values() if v.is_floating_point()} == {torch.float16}
    assert (dst / "model.pt").stat().st_size < 0.6 * (src / "model.pt").stat().st_size
    model, _, meta2 = load_checkpoint(str(dst))
    assert meta2 == meta
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # the loaded parameters are exactly the rounded weights
    for k, v in tiny_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v.half().float(), rtol=0, atol=0)
    x = torch.randint(0, 4000, (1, 10))
    torch.testing.assert_close(model(x)[0], tiny_model(x)[0], rtol=0, atol=2e-2)


def test_export_refuses_overflow_and_bad_dtype(tmp_path, tiny_model, tok):
    save_checkpoint(str(tmp_path / "src"), tiny_model, tok)
    with pytest.raises(ValueError, match="float16, bfloat16"):
        export_checkpoint(str(tmp_path / "src"), str(tmp_path / "dst"), "int8")
    with pytest.raises(ValueError, match="different directory"):
        export_checkpoint(str(tmp_path / "src"), str(tmp_path / "src"))
    with torch.no_grad():
        tiny_model.transformer.wte.weight[0, 0] = 1e6
    with pytest.raises(ValueError, match="transformer.wte.weight: values overflow"):
        save_checkpoint(str(tmp_path / "big"), tiny_model, tok, weights_dtype=torch.float16)
    assert not (tmp_path / "big").exists()


def test_unsupported_weight_dtype_is_named(tmp_path, tiny_model, tok):
    save_checkpoint(str(tmp_path), tiny_model, tok)
    sd = torch.load(tmp_path / "model.pt", weights_only=True)
    torch.save({k: v.double() for k, v in sd.items()}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt: unsupported weight dtype torch.float64"):
        load_checkpoint(str(tmp_path))


def test_bundled_checkpoint_fits_the_size_limit_and_loads_float32():
    from memgpt.checkpoint import default_checkpoint_dir
    d = default_checkpoint_dir()
    total = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert total <= 25_000_000, f"bundled checkpoint is {total:,} bytes (limit 25 MB)"
    model, _, _ = load_checkpoint(d)
    assert all(p.dtype == torch.float32 for p in model.parameters())
