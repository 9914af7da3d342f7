import json
import os

import pytest
import torch

from memgpt.checkpoint import (CHECKSUM_KEY, CheckpointError, default_checkpoint_dir, export_checkpoint, file_sha256,
                               load_checkpoint, save_checkpoint)
from memgpt.model import GPT, GPTConfig


def forget_checksum(directory) -> None:
    """Make a checkpoint as saved before model.pt's checksum was recorded."""
    p = os.path.join(directory, "meta.json")
    with open(p) as f:
        meta = json.load(f)
    meta.pop(CHECKSUM_KEY)
    with open(p, "w") as f:
        json.dump(meta, f)


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
    forget_checksum(tmp_path)
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
    forget_checksum(tmp_path)
    with pytest.raises(CheckpointError, match=r"model\.pt: unsupported weight dtype torch.float64"):
        load_checkpoint(str(tmp_path))


def test_bundled_checkpoint_fits_the_size_limit_and_loads_float32():
    d = default_checkpoint_dir()
    total = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert total <= 25_000_000, f"bundled checkpoint is {total:,} bytes (limit 25 MB)"
    model, _, meta = load_checkpoint(d)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert meta[CHECKSUM_KEY] == file_sha256(os.path.join(d, "model.pt"))  # checked at every load


# ---- damaged weights (issue 27 item 5) -------------------------------------------------------------
def damage_weights(directory, model) -> None:
    """Overwrite 8 bytes of a weight tensor's data in model.pt with 0xFF (NaN as float32)."""
    p = os.path.join(directory, "model.pt")
    data = bytearray(open(p, "rb").read())
    w = model.transformer.h[0].attn.c_attn.weight.detach().numpy().tobytes()[:64]
    at = data.find(w)
    assert at > 0 and data.find(w, at + 1) < 0  # torch.save stores tensor bytes as they are
    data[at + 16:at + 24] = b"\xff" * 8
    open(p, "wb").write(bytes(data))


def test_save_records_the_weights_checksum(tmp_path, tiny_model, tok):
    meta = save_checkpoint(str(tmp_path), tiny_model, tok, {"step": 3, CHECKSUM_KEY: "stale"})
    assert meta[CHECKSUM_KEY] == file_sha256(str(tmp_path / "model.pt")) != "stale"
    assert load_checkpoint(str(tmp_path))[2] == meta


def test_damaged_weights_are_refused_by_their_checksum(tmp_path, tiny_model, tok):
    save_checkpoint(str(tmp_path), tiny_model, tok)
    damage_weights(tmp_path, tiny_model)
    with pytest.raises(CheckpointError, match=r"model\.pt: damaged or replaced.*weights_sha256.*meta\.json"):
        load_checkpoint(str(tmp_path))


def test_nan_weights_are_refused_without_a_checksum(tmp_path, tiny_model, tok):
    save_checkpoint(str(tmp_path), tiny_model, tok)
    forget_checksum(tmp_path)
    load_checkpoint(str(tmp_path))  # an older checkpoint (no checksum) still loads
    damage_weights(tmp_path, tiny_model)
    with pytest.raises(CheckpointError, match=r"model\.pt: damaged weights: transformer\.h\.0\.attn\.c_attn\.weight "
                                              r"hold NaN or infinite values"):
        load_checkpoint(str(tmp_path))
    sd = torch.load(tmp_path / "model.pt", weights_only=True)
    sd["transformer.wte.weight"][3, 3] = float("inf")
    torch.save(sd, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="transformer.wte.weight.*NaN or infinite"):
        load_checkpoint(str(tmp_path))


def test_cli_refuses_a_damaged_checkpoint_in_one_line(tmp_path, tiny_model, tok, capsys):
    from memgpt import cli

    save_checkpoint(str(tmp_path), tiny_model, tok)
    damage_weights(tmp_path, tiny_model)
    assert cli.main(["ask", "What is the pass key?", "--model", str(tmp_path), "--memory", ":memory:"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("memgpt ask: error: ") and "model.pt" in err and len(err.splitlines()) == 1
