import pytest
import torch

from memgpt.model import GPT, GPTConfig, KVCache, amp_context


def greedy_naive(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    return ids


def greedy_cached(model, cache, ids, n):
    """Prefill `ids` from cache.pos (multi-token), then decode one token at a time."""
    out = list(ids)
    logits, _ = model(torch.tensor([ids[cache.pos:]]), cache=cache)
    for _ in range(n):
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        logits, _ = model(torch.tensor([[nxt]]), cache=cache)
    return out


@torch.no_grad()
def test_kv_cache_greedy_equals_naive_recompute_across_rewind(tiny_model):
    torch.manual_seed(1)
    prompt = torch.randint(0, 4000, (20,)).tolist()
    naive = greedy_naive(tiny_model, prompt, 30)
    cache = KVCache(tiny_model.config)
    cached = greedy_cached(tiny_model, cache, prompt, 30)
    assert cached == naive
    # rewind to the middle of the prompt and continue along a different branch
    cache.rewind(12)
    branch = prompt[:12] + [7, 8, 9]
    assert greedy_cached(tiny_model, cache, branch, 25) == greedy_naive(tiny_model, branch, 25)
    # rewind to zero (fresh prefill path, is_causal)
    cache.rewind(0)
    assert greedy_cached(tiny_model, cache, prompt[:5], 10) == greedy_naive(tiny_model, prompt[:5], 10)


@torch.no_grad()
def test_prefill_in_pieces_matches_full_forward(tiny_model):
    ids = torch.randint(0, 4000, (2, 40))
    full, _ = tiny_model(ids)
    cache = KVCache(tiny_model.config, batch_size=2)
    a, _ = tiny_model(ids[:, :17], cache=cache)
    b, _ = tiny_model(ids[:, 17:], cache=cache)
    assert cache.pos == 40
    torch.testing.assert_close(torch.cat([a, b], 1), full, atol=1e-5, rtol=1e-4)


def test_block_size_and_rewind_errors(tiny_model):
    cache = KVCache(tiny_model.config)
    with pytest.raises(ValueError, match="block size"):
        tiny_model(torch.zeros(1, 65, dtype=torch.long))
    tiny_model(torch.zeros(1, 60, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="block size"):
        tiny_model(torch.zeros(1, 5, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="rewind"):
        cache.rewind(61)


def test_weighted_loss_ignores_zero_weights(tiny_model):
    x = torch.randint(0, 4000, (1, 16))
    y = torch.randint(0, 4000, (1, 16))
    w = torch.zeros(1, 16)
    w[0, :4] = 1
    _, l_w = tiny_model(x, y, w)
    logits, _ = tiny_model(x)
    ref = torch.nn.functional.cross_entropy(logits[0, :4], y[0, :4])
    torch.testing.assert_close(l_w, ref, atol=1e-5, rtol=1e-4)


def test_tied_weights_and_bf16_autocast(tiny_model):
    assert tiny_model.lm_head.weight is tiny_model.transformer.wte.weight
    x = torch.randint(0, 4000, (1, 8))
    with amp_context("cpu", "bfloat16"):
        logits, _ = tiny_model(x)
    assert logits.dtype == torch.bfloat16
    with amp_context("cpu", "float32"):
        assert tiny_model(x)[0].dtype == torch.float32


@torch.no_grad()
def test_kv_cache_under_bf16_autocast_matches_naive(tiny_model):
    prompt = torch.randint(0, 4000, (10,)).tolist()
    with amp_context("cpu", "bfloat16"):
        cache = KVCache(tiny_model.config)
        out = greedy_cached(tiny_model, cache, prompt, 5)
    assert cache.k.dtype == torch.bfloat16 and len(out) == 15
