import pytest
import torch

from memgpt.checkpoint import load_checkpoint
from memgpt.model import GPT, GPTConfig
from memgpt.training.grow import grow, grown_blocks
from memgpt.training.train import ModelShape, train
from tests.test_train import metrics, shards, tiny  # noqa: F401 (shards is a fixture)


def test_grow_keeps_the_function_and_places_copies_after_their_blocks():
    torch.manual_seed(0)
    m = GPT(GPTConfig(block_size=16, vocab_size=64, n_layer=3, n_head=2, n_embd=16)).eval()
    x = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        before, _ = m(x)
        top = [b.attn.c_attn.weight.clone() for b in m.transformer.h[1:]]
        g = grow(m, 2)
        after, _ = g(x)
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert g.config.n_layer == 5 and len(g.transformer.h) == 5
    assert grown_blocks(5, 2) == [2, 4]
    for i, w in zip(grown_blocks(5, 2), top):  # each copy follows its original, outputs zeroed
        torch.testing.assert_close(g.transformer.h[i].attn.c_attn.weight, w)
        assert g.transformer.h[i].attn.c_attn.weight is not g.transformer.h[i - 1].attn.c_attn.weight
        assert not g.transformer.h[i].mlp.c_proj.weight.any() and g.transformer.h[i - 1].mlp.c_proj.weight.any()
    with pytest.raises(ValueError, match="1 to 5"):
        grow(g, 6)
    with pytest.raises(ValueError, match="at most half"):
        grown_blocks(5, 3)


def test_grown_blocks_get_their_own_learning_rate():
    torch.manual_seed(0)
    m = grow(GPT(GPTConfig(block_size=16, vocab_size=64, n_layer=2, n_head=2, n_embd=16)), 1)
    opt = m.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu", {"transformer.h.2.": 10.0})
    fast = {id(p) for p in m.transformer.h[2].parameters()}
    for g in opt.param_groups:
        assert g["lr_mult"] == (10.0 if id(g["params"][0]) in fast else 1.0)
        assert all((id(p) in fast) == (g["lr_mult"] == 10.0) for p in g["params"])
        assert g["weight_decay"] == (0.1 if g["params"][0].dim() >= 2 else 0.0)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(m.parameters()))


def test_training_grows_a_checkpoint_and_resumes(shards, tmp_path):  # noqa: F811
    train(tiny(shards, tmp_path / "a", max_tokens=2 * 4 * 32))
    kw = dict(init_from=str(tmp_path / "a" / "last"), shape=ModelShape(), grow_layers=1, grow_lr_mult=10.0)
    train(tiny(shards, tmp_path / "b", **kw))
    train(tiny(shards, tmp_path / "c", stop_after=3, **kw))
    train(tiny(shards, tmp_path / "c", **kw))  # resumes the grown model with its learning rates
    mb, _, meta = load_checkpoint(str(tmp_path / "b" / "last"))
    mc, _, _ = load_checkpoint(str(tmp_path / "c" / "last"))
    assert mb.config.n_layer == 2 and meta["step"] == 8
    assert mb.transformer.h[1].mlp.c_proj.weight.abs().sum() > 0  # the copy learned
    for (k, vb), vc in zip(mb.state_dict().items(), mc.state_dict().values()):
        torch.testing.assert_close(vb, vc, rtol=0, atol=0, msg=k)
    with pytest.raises(ValueError, match="--init-from"):
        train(tiny(shards, tmp_path / "d", grow_layers=1))
