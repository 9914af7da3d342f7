import os

import pytest
import torch

from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import Tokenizer

ASSETS = os.path.join(os.path.dirname(__file__), "..", "memgpt", "assets", "default")

torch.set_num_threads(1)  # the suite runs beside other work on a 2-core machine


@pytest.fixture(scope="session")
def tok() -> Tokenizer:
    """The project's own trained BPE (shipped beside the default checkpoint)."""
    return Tokenizer.load(ASSETS)


@pytest.fixture
def tiny_model(tok) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=-(-tok.n_vocab // 64) * 64, n_layer=2, n_head=2, n_embd=32, block_size=64)).eval()


@pytest.fixture(scope="session")
def ckpt(tmp_path_factory, tok) -> str:
    """A tiny random checkpoint (1 layer, 32 wide, block 64) with the project's tokenizer."""
    from memgpt.checkpoint import save_checkpoint

    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    save_checkpoint(str(d), GPT(GPTConfig(vocab_size=4160, n_layer=1, n_head=2, n_embd=32, block_size=64)), tok)
    return str(d)
