"""Fact-free everyday prose written by the base model: the `base_prose` style.

Every other training style is technical (manuals, docstrings, a dictionary), and a model
fine-tuned on them opened notes on the first-person and narrative text it met elsewhere (a
diary, a quip, a story: "user camera resolution: 8mm"). These passages teach where *not* to
write a note in everyday prose: diary entries, letters, stories, opinions, descriptions,
written by the base (SmolLM2-135M-Instruct) once from `PROMPTS`, sampled, and cached in
`base_prose.json` so that the corpus stays deterministic and needs no model to build.

The prompts ask for everyday writing, not for quips, verse, drama or glosses (the held-out
styles) and never for scripture or essays in any named author's manner.

    python -m memgpt.training.base_prose --samples 8   # generate (resumable), ~11 min on 2 cores
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import time
from typing import Sequence

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "base_prose.json")
MODEL = "smollm2-base"
SETTINGS = {"temperature": 0.8, "top_k": 50, "max_new_tokens": 220}

_KINDS = (
    "Write a diary entry about {}.",
    "Write a short story about {}.",
    "Write a letter to an old friend about {}.",
    "Describe {} in a few paragraphs.",
    "Write a short blog post about {}.",
    "Tell me about {} as if you were remembering it.",
)
_TOPICS = (
    "a rainy Sunday at home", "a long train journey", "learning to bake bread", "a walk in the woods in autumn",
    "a noisy neighbour", "the first day at a new job", "a visit to a street market", "a power cut in winter",
    "a child's birthday party", "fixing an old bicycle", "a summer evening by a lake", "a lost umbrella",
    "moving to a new town", "an afternoon at the library", "a grandmother's kitchen", "a failed garden",
    "a snowstorm", "a trip to the seaside", "a quiet café", "a dog who will not come inside",
    "a school play", "a camping trip that went wrong", "the smell of fresh coffee", "an old photograph",
    "waiting at the doctor's", "a football match in the rain", "cleaning out the attic", "a night market",
    "a broken phone", "learning to swim as an adult", "a wedding", "a long queue at the post office",
    "the last day of summer holidays", "a thunderstorm at night", "a farmers' village fair", "a museum visit",
)
PROMPTS: tuple[str, ...] = tuple(k.format(t) for i, t in enumerate(_TOPICS) for j, k in enumerate(_KINDS)
                                 if (i + j) % 6 == 0)  # 36 prompts: each topic in one kind

_PREAMBLE = re.compile(r"^(sure|certainly|of course|here'?s?|here is|title)\b[^\n]*\n+", re.I)


def clean(text: str) -> str:
    """A generated passage as prose: no "Sure, here's ..." preamble, no markdown marks, cut at
    its last complete sentence (generation stops mid-sentence at `max_new_tokens`)."""
    from memgpt.training.open_data import training_reply  # the cut the small-talk replies get
    text = re.sub(r"[*#_`]+", "", _PREAMBLE.sub("", text.strip()))
    return training_reply({"reply": text, "finished": False})


def generate(path: str = PATH, samples: int = 8, prompts: Sequence[str] = PROMPTS, log=print) -> dict:
    """`samples` sampled passages per prompt from the base, a batch of that many at once (the same
    prompt, so no padding), seeded per prompt. Resumable: the file is rewritten after each prompt."""
    import torch

    import memgpt
    from memgpt.model import KVCache
    from memgpt.training.open_data import _write_json

    data = {"model": MODEL, "settings": SETTINGS, "passages": {}}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if old.get("model") == MODEL and old.get("settings") == SETTINGS:
            data["passages"] = old["passages"]
    todo = [p for p in prompts if p not in data["passages"]]
    log(f"{len(prompts) - len(todo)} prompts cached, {len(todo)} to generate")
    if not todo:
        return data
    bot = memgpt.load(MODEL)
    model, tok = bot.engine.model, bot.tokenizer
    stop = {tok.end, tok.eot}
    banned = [tok.scratch, tok.scratch_end, tok.mem, tok.mem_end]  # the base never writes memgpt's tokens
    t0 = time.time()
    for n, prompt in enumerate(todo):
        g = torch.Generator().manual_seed(n + 1000 * len(data["passages"]))
        ids = torch.tensor([tok.system_prefix + tok.render_prompt_for_reply(prompt)] * samples)
        cache = KVCache(model.config, batch_size=samples)
        out: list[list[int]] = [[] for _ in range(samples)]
        done = [False] * samples
        with torch.no_grad():
            logits = model(ids, cache=cache)[0][:, -1]
            for _ in range(SETTINGS["max_new_tokens"]):
                logits = logits[:, :tok.n_vocab] / SETTINGS["temperature"]  # no padding rows
                logits[:, banned] = float("-inf")
                kth = torch.topk(logits, SETTINGS["top_k"]).values[:, -1:]
                probs = torch.softmax(logits.masked_fill(logits < kth, float("-inf")), -1)
                nxt = torch.multinomial(probs, 1, generator=g)
                for i, t in enumerate(nxt[:, 0].tolist()):
                    done[i] = done[i] or t in stop
                    if not done[i]:
                        out[i].append(t)
                if all(done):
                    break
                logits = model(nxt, cache=cache)[0][:, -1]
        texts = [clean(tok.decode(o)) for o in out]
        data["passages"][prompt] = texts
        _write_json(path, data)
        log(f"[{n + 1}/{len(todo)} {time.time() - t0:.0f}s] {prompt} -> {texts[0][:100]!r}")
    return data


@functools.lru_cache(maxsize=2)
def passages(path: str = PATH) -> tuple[str, ...]:
    """Every cached passage, in prompt order (raises FileNotFoundError when not generated)."""
    with open(path) as f:
        data = json.load(f)
    return tuple(t for p in PROMPTS for t in data["passages"].get(p, ()))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m memgpt.training.base_prose", description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=8, help="passages per prompt (one batch)")
    ap.add_argument("--out", default=PATH)
    a = ap.parse_args(argv)
    generate(a.out, a.samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
