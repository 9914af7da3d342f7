"""Embedders that wrap a loaded model (the note store knows nothing of models: pass them in).

    from memgpt.models import load_model
    from memgpt.retrieval import HiddenStateEmbedder
    model, tok, _ = load_model("smollm2-base", "cpu")
    store = NoteStore(embedder=HiddenStateEmbedder(model, tok, layer=8))

`HiddenStateEmbedder` is measured in docs/measurements.md ("Retrieval in other words") beside the
default embedder (`memgpt.memory.embed.default_embedder`, which needs no model): it is slower by
two orders of magnitude and, pooled without training, no better at linking paraphrases.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


class HiddenStateEmbedder:
    """Mean of a causal LM's hidden states after its first `layer` blocks (all by default).

    The text is read after a space; the first position is left out of the mean (an attention
    sink: its state is large and nearly the same for every text). Rows are L2-normalised.
    Works with `memgpt.model.GPT` models using rotary positions (the Llama-family bases).
    """

    def __init__(self, model, tokenizer, layer: int | None = None, batch: int = 64, max_tokens: int = 64,
                 name: str | None = None):
        n_layer = len(model.transformer.h)
        self.layer = n_layer if layer is None else int(layer)
        if not 1 <= self.layer <= n_layer:
            raise ValueError(f"layer must be in 1..{n_layer}")
        if getattr(model.config, "pos", None) != "rope":
            raise ValueError("HiddenStateEmbedder needs a model with rotary positions")
        self.model, self.tok = model, tokenizer
        self.batch, self.max_tokens = int(batch), int(max_tokens)
        self.dim = int(model.config.n_embd)
        self.name = name or f"hidden-{getattr(tokenizer.enc, 'name', 'model')}-L{self.layer}"

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ids = [self.tok.encode_text(" " + t)[: self.max_tokens] or [0] for t in texts]
        order = np.argsort([len(i) for i in ids], kind="stable")
        dev = next(self.model.parameters()).device
        for s in range(0, len(texts), self.batch):
            rows = order[s:s + self.batch]
            n = max(len(ids[j]) for j in rows)
            x = torch.zeros((len(rows), n), dtype=torch.long)
            mask = torch.zeros((len(rows), n))
            for r, j in enumerate(rows):
                x[r, :len(ids[j])] = torch.tensor(ids[j])
                mask[r, :len(ids[j])] = 1  # right padding: a causal model's real positions never see it
            if n > 1:
                mask[:, 0] = 0
            x, mask = x.to(dev), mask.to(dev)
            h = self.model.transformer.wte(x)
            rope = (self.model.rope_cos[:n], self.model.rope_sin[:n])
            for i, block in enumerate(self.model.transformer.h[: self.layer]):
                h = block(h, None, i, rope)
            v = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
            out[rows] = torch.nn.functional.normalize(v.float(), dim=-1).cpu().numpy()
        return out
