import pytest
import torch

from memgpt.training.gpt2 import convert_hf_gpt2

transformers = pytest.importorskip("transformers")  # in the dev extra; installed by `make test`


def test_conversion_matches_hf_logits():
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64, vocab_size=300)
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    ours = convert_hf_gpt2(hf.state_dict(), cfg, n_vocab=307).eval()  # + memgpt's 7 new control tokens
    assert ours.config.vocab_size >= 307 and ours.config.bias and ours.config.block_size == 64
    x = torch.randint(0, 300, (2, 20))
    with torch.no_grad():
        ref = hf(x).logits
        got, _ = ours(x)
    torch.testing.assert_close(got[..., :300], ref, atol=1e-4, rtol=1e-4)
