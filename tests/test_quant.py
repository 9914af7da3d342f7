"""Weight-only packed inference (memgpt.quant): the packed layers compute what the float32 ones do
on the weights they hold, a LoRA stays exact beside them, and loading packs only where it should."""
from __future__ import annotations

import pytest
import torch

from memgpt import quant
from memgpt.lora import add_lora, merge_lora
from memgpt.model import GPT, GPTConfig, KVCache

pytestmark = pytest.mark.skipif(not quant.available(), reason="this torch lacks the CPU weight-only kernels")


def q4_grid(n: int, k: int, seed: int = 0) -> torch.Tensor:
    """Weights as Q4_1 stores them: per block of 32, `d*q + m` with q in 0..15 (both ends used)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(0, 16, (n, k // 32, 32), generator=g).float()
    q[..., 0], q[..., 1] = 0, 15
    d = torch.rand(n, k // 32, 1, generator=g) * 0.02 + 0.005
    m = -torch.rand(n, k // 32, 1, generator=g) * 0.1
    return (d * q + m).view(n, k)


def bf16_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The reference: the input rounded to bfloat16 as the kernels take it, the weights exact."""
    return x.to(torch.bfloat16).double() @ w.double().t()


@pytest.mark.parametrize("rows", [1, 3, quant.DENSE_FROM, 40])
def test_int4_layer_holds_q4_1_weights_exactly(rows):
    w = q4_grid(96, 64)
    layer = quant.Int4Linear(w)
    x = torch.randn(rows, 64)
    err = (layer(x).double() - bf16_matmul(x, w)).abs().max().item()
    # the packed path rounds only scales/offsets to bfloat16; the dense path the weights
    assert err < 2e-2 * bf16_matmul(x, w).abs().max().item()
    assert layer(x).shape == (rows, 96) and layer(x).dtype == torch.float32


def test_int4_refuses_an_input_width_that_does_not_split_into_groups():
    with pytest.raises(ValueError, match="divisible by 32"):
        quant.Int4Linear(torch.randn(8, 48))


def test_int8_layer_rounds_each_row_to_its_own_scale():
    w = torch.randn(50, 48)
    layer = quant.Int8Linear(w)
    x = torch.randn(2, 3, 48)  # any leading shape
    y = layer(x)
    assert y.shape == (2, 3, 50)
    ref = x.reshape(-1, 48) @ w.t()
    assert (y.reshape(-1, 50) - ref).abs().max() < 0.05 * ref.abs().max()


def llama(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    cfg = GPTConfig(block_size=64, vocab_size=128, n_layer=2, n_head=4, n_kv_head=2, n_embd=64, norm="rmsnorm",
                    pos="rope", mlp="swiglu", mlp_hidden=96)
    return GPT(cfg).eval()


@torch.no_grad()
def test_packed_model_agrees_with_float32_and_its_cache_paths_agree():
    model = llama()
    ids = torch.randint(0, 128, (1, 20))
    ref, _ = model(ids)
    packed = quant.quantize(llama())
    assert isinstance(packed.transformer.h[0].attn.c_attn, quant.Int4Linear)
    assert isinstance(packed.transformer.h[0].mlp.c_proj, quant.Int4Linear)  # 96 inputs: 3 groups
    assert isinstance(packed.lm_head, quant.Int8Linear)
    assert not any(p.requires_grad for p in packed.parameters())
    out, _ = packed(ids)
    assert (out - ref).abs().max() < 0.05 * ref.abs().max()
    assert (out.argmax(-1) == ref.argmax(-1)).float().mean() >= 0.9
    # a prefill (dense bfloat16 path) then one-token steps (packed path) give the same logits
    cache = KVCache(packed.config)
    first, _ = packed(ids[:, :12], cache=cache)
    assert cache.k.dtype == torch.bfloat16  # packed inference keeps keys and values in bfloat16
    steps = [packed(ids[:, i:i + 1], cache=cache)[0] for i in range(12, 20)]
    stepped = torch.cat([first] + steps, dim=1)
    assert (stepped - out).abs().max() < 0.05 * out.abs().max()


@torch.no_grad()
def test_lora_stays_unmerged_beside_the_packed_weights():
    def with_adapter() -> GPT:
        model = llama(1)
        add_lora(model, rank=4, alpha=8)
        torch.manual_seed(2)
        for name, p in model.named_parameters():
            if "lora_b" in name:
                p.normal_(0, 0.05)  # a trained adapter (B starts at zero)
        return model
    ids = torch.randint(0, 128, (1, 16))
    effect = with_adapter()(ids)[0] - llama(1)(ids)[0]  # what the adapter does, in float32
    packed = quant.quantize(with_adapter())
    assert packed.transformer.h[1].attn.c_proj.lora_a is not None
    packed_effect = packed(ids)[0] - quant.quantize(llama(1))(ids)[0]
    assert (packed_effect - effect).abs().max() < 0.1 * effect.abs().max()
    merged = with_adapter()
    merge_lora(merged)
    assert quant.quantize(merged).transformer.h[1].attn.c_proj.lora_a is None  # nothing left to add


def test_quantize_needs_the_kernels(monkeypatch):
    monkeypatch.setattr(quant, "available", lambda: False)
    with pytest.raises(RuntimeError, match="kernels"):
        quant.quantize(llama())


def test_loading_packs_the_llama_family_for_inference_only(tmp_path, ckpt, monkeypatch):
    pytest.importorskip("gguf")
    from test_gguf import write_gguf

    import memgpt
    from memgpt.models import load_model
    path = str(tmp_path / "m.gguf")
    write_gguf(path)
    monkeypatch.setattr(quant, "cpu_has_bf16", lambda: False)  # bf16 emulated (AVX2): auto stays exact
    assert isinstance(load_model(path, "cpu")[0].lm_head, torch.nn.Linear)
    monkeypatch.setattr(quant, "cpu_has_bf16", lambda: True)
    model, _, meta = load_model(path, "cpu")  # weights="auto" on a CPU with native bf16
    assert isinstance(model.lm_head, quant.Int8Linear) and meta["weights"].startswith("int4")
    exact, _, meta = load_model(path, "cpu", weights="float32")
    assert isinstance(exact.lm_head, torch.nn.Linear) and "weights" not in meta
    trainable, _, _ = load_model(path, "cpu", shared=False)  # what finetune loads
    assert isinstance(trainable.lm_head, torch.nn.Linear)
    tiny, _, _ = load_model(ckpt, "cpu", weights="int4")  # the tiny GPT keeps its float32 weights
    assert isinstance(tiny.lm_head, torch.nn.Linear)
    with pytest.raises(ValueError, match="weights must be one of"):
        load_model(path, "cpu", weights="int3")
    bot = memgpt.load(path, weights="float32")
    assert isinstance(bot.model.lm_head, torch.nn.Linear)
