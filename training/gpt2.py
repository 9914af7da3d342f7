"""Start from GPT-2's weights: convert a Hugging Face `GPT2LMHeadModel` state dict to memgpt's GPT.

GPT-2 stores its linear layers as `Conv1D` (weight shaped in x out), so those are transposed.
The vocabulary grows by memgpt's control tokens: their embedding rows are freshly initialised.
Loading `gpt2` by name needs `transformers` and a machine that can reach the model hub; the
conversion itself is tested offline against a randomly initialised HF model.
"""
from __future__ import annotations

import torch

from memgpt.model import GPT, GPTConfig

_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def convert_hf_gpt2(sd: dict[str, torch.Tensor], hf_config, n_vocab: int) -> GPT:
    """Build a GPT from an HF GPT-2 state dict; `n_vocab` >= GPT-2's (extra rows for new tokens)."""
    vocab = max(n_vocab, hf_config.vocab_size)
    config = GPTConfig(block_size=hf_config.n_positions, vocab_size=-(-vocab // 64) * 64, n_layer=hf_config.n_layer,
                       n_head=hf_config.n_head, n_embd=hf_config.n_embd, dropout=0.0, bias=True, gelu_approx="tanh")
    model = GPT(config)
    ours = model.state_dict()
    sd = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in sd.items()}
    with torch.no_grad():
        for k, v in sd.items():
            if k.endswith(("attn.bias", "attn.masked_bias")) or k == "lm_head.weight":
                continue  # causal-mask buffers; lm_head is tied to wte
            dst = "transformer." + k
            if dst not in ours:
                raise KeyError(f"unexpected GPT-2 weight {k}")
            if k.endswith(_TRANSPOSED):
                v = v.t()
            if k == "wte.weight":  # keep the fresh init for rows beyond GPT-2's vocabulary
                ours[dst][: v.shape[0]].copy_(v)
            else:
                ours[dst].copy_(v)
    model.load_state_dict(ours)
    return model


def from_hf_gpt2(name: str, n_vocab: int) -> GPT:
    """Download (or load from the HF cache) GPT-2 weights by name and convert them."""
    try:
        from transformers import GPT2LMHeadModel
    except ImportError as e:
        raise ImportError("--init_from gpt2 needs the `transformers` package (pip install transformers)") from e
    hf = GPT2LMHeadModel.from_pretrained(name)
    return convert_hf_gpt2(hf.state_dict(), hf.config, n_vocab)
