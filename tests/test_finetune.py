"""Fine-tuning a base: LoRA + new token rows on a tiny random Llama GGUF, resumable, and the
adapter loaded back reproduces the trained model."""
from __future__ import annotations

import json
import random

import pytest
import torch

pytest.importorskip("gguf")

from memgpt import lora  # noqa: E402
from memgpt.gguf import load_gguf  # noqa: E402
from memgpt.tokenizer import CONTEXT, TEXT  # noqa: E402
from memgpt.training.finetune import FinetuneConfig, finetune  # noqa: E402
from test_gguf import write_gguf  # noqa: E402


def rows_fn(cfg, tok, split, seed):
    """Rows that teach one thing: after 'the', write a note."""
    rng = random.Random(seed)
    while True:
        words = rng.choices(["the", "is", " x", " y"], k=rng.randint(4, 12))
        ids, mask = [], []
        for w in words:
            t = tok.encode_text(w)
            ids += t
            mask += [TEXT] * len(t)
            if w == "the":
                n, m = tok.render_note("k: v")
                ids += n
                mask += m
        ids = [tok.eot] + ids
        mask = [CONTEXT] + mask
        yield ids[:cfg.block], mask[:cfg.block]


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "base.gguf"
    write_gguf(path, seed=4)
    return str(path)


def test_finetune_learns_resumes_and_ships_an_adapter(base, tmp_path):
    out = tmp_path / "run"
    cfg = FinetuneConfig(base=base, out=str(out), tokens=1200, block=48, step_tokens=200, rank=4, alpha=8,
                         lr=3e-3, new_rows_lr=3e-2, warmup_steps=1, save_every=2, eval_every=3, eval_rows=4)
    finetune(cfg, rows_fn=rows_fn, progress=False)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["tokens"] >= 1200 and lines[-1]["key_loss"] < lines[0]["key_loss"]
    assert "val_loss" in lines[2] and lines[2]["val_false_opens_10k"] >= 0
    # the adapter reproduces the trained model; the base's rows are untouched
    model, tok, meta = load_gguf(base)
    sd, info = lora.read_adapter(str(out / "last"))
    fresh, _, _ = load_gguf(base)
    trained = lora.apply_adapter(model, sd, info)
    n = meta["base_tokens"]
    torch.testing.assert_close(trained.transformer.wte.weight[:n], fresh.transformer.wte.weight[:n], rtol=0, atol=0)
    assert not torch.equal(trained.transformer.wte.weight[tok.scratch], fresh.transformer.wte.weight[tok.scratch])
    x = torch.tensor([tok.encode_text("the x is the")])
    assert not torch.allclose(trained(x)[0], fresh(x)[0])
    # resuming an ended run goes on from its state: a longer run continues where it stopped
    cfg2 = FinetuneConfig(**{**cfg.__dict__, "tokens": 1600})
    finetune(cfg2, rows_fn=rows_fn, progress=False)
    more = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert more[len(lines)]["step"] == lines[-1]["step"] + 1 and more[-1]["tokens"] >= 1600


@pytest.mark.parametrize("chunk", [128, 7])
def test_resume_is_exact(base, tmp_path, monkeypatch, chunk):
    """Stopping after 2 steps and resuming gives the same weights as one run of 4 steps, whether
    the resume falls inside the stream's first seeded chunk or several chunks on."""
    from memgpt.training import finetune as ft
    monkeypatch.setattr(ft, "CHUNK_ROWS", chunk)
    common = dict(base=base, tokens=800, block=48, step_tokens=200, rank=4, alpha=8, warmup_steps=1,
                  save_every=1, eval_every=0)
    finetune(FinetuneConfig(out=str(tmp_path / "a"), **common), rows_fn=rows_fn, progress=False)
    finetune(FinetuneConfig(out=str(tmp_path / "b"), **{**common, "tokens": 400}), rows_fn=rows_fn, progress=False)
    finetune(FinetuneConfig(out=str(tmp_path / "b"), **common), rows_fn=rows_fn, progress=False)
    a, _ = lora.read_adapter(str(tmp_path / "a" / "last"))
    b, _ = lora.read_adapter(str(tmp_path / "b" / "last"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_damaged_adapter_is_refused(base, tmp_path):
    out = tmp_path / "run"
    finetune(FinetuneConfig(base=base, out=str(out), tokens=200, block=48, step_tokens=200, rank=2, alpha=4,
                            eval_every=0), rows_fn=rows_fn, progress=False)
    w = out / "last" / lora.ADAPTER_FILE
    data = bytearray(w.read_bytes())
    data[-40:-32] = b"\xff" * 8
    w.write_bytes(bytes(data))
    with pytest.raises(lora.AdapterError, match="checksum"):
        lora.read_adapter(str(out / "last"))


def test_init_adapter_starts_a_new_run_where_the_shipped_one_ended(base, tmp_path):
    """A run started from an adapter begins with its weights (its first loss is the adapter's last,
    not a fresh start's); an adapter of another rank is refused with both ranks named."""
    common = dict(base=base, block=48, step_tokens=200, alpha=8, lr=3e-3, new_rows_lr=3e-2, warmup_steps=1,
                  eval_every=0)
    finetune(FinetuneConfig(out=str(tmp_path / "a"), tokens=1200, rank=4, **common), rows_fn=rows_fn, progress=False)
    trained = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    finetune(FinetuneConfig(out=str(tmp_path / "b"), tokens=200, rank=4, init_adapter=str(tmp_path / "a" / "last"),
                            **{**common, "lr": 0.0, "new_rows_lr": 0.0}), rows_fn=rows_fn, progress=False)
    cont = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert cont[0]["key_loss"] < 0.8 * trained[0]["key_loss"]
    assert cont[0]["key_loss"] < 1.1 * trained[-1]["key_loss"]
    with pytest.raises(ValueError, match="rank 4 .* rank 2"):
        finetune(FinetuneConfig(out=str(tmp_path / "c"), tokens=200, rank=2, init_adapter=str(tmp_path / "a" / "last"),
                                **common), rows_fn=rows_fn, progress=False)


def test_constant_head_rows_give_the_same_loss_and_gradients(base):
    """`row_loss(..., n_base)` skips the head's weight gradient over the base rows: loss and every
    trained gradient (LoRA, new rows) equal the plain head's."""
    from memgpt.training.finetune import row_loss
    model, tok, meta = load_gguf(base)
    n = meta["base_tokens"]
    params = lora.add_lora(model, 4, 8.0) + [lora.train_new_rows(model, n)]
    with torch.no_grad():
        for m in lora.lora_modules(model).values():
            m.lora_b.normal_(0, 0.05)
    ids, mask = next(rows_fn(FinetuneConfig(block=48), tok, "train", 3))
    grads = []
    for nb in (None, n):
        loss, *_ = row_loss(model, ids, mask, 3.0, "cpu", nb)
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in params]))
        for p in params:
            p.grad = None
    torch.testing.assert_close(grads[0][0], grads[1][0])
    assert grads[0][1][-1][n:].abs().sum() > 0  # the new rows learn
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # summation order differs


class _Opener(torch.nn.Module):
    """Logits that open a note (p(<|scratch|>) ~ 1) at the token ids in `at`, elsewhere not."""

    def __init__(self, vocab, scratch, at):
        super().__init__()
        self.vocab, self.scratch, self.at = vocab, scratch, at

    def forward(self, x):
        logits = torch.zeros(*x.shape, self.vocab)
        logits[..., self.scratch] = torch.where(torch.isin(x, torch.tensor(self.at)), 20.0, -20.0)
        return logits, None


def test_false_opens_counts_would_be_notes_per_10k_tokens():
    from contextlib import nullcontext

    from memgpt.training.finetune import false_opens
    rows = [([1, 2, 3, 4, 5], [TEXT] * 5), ([6, 7, 1, 8, 9], [TEXT] * 5)]
    assert false_opens(_Opener(12, 11, [1]), rows, 11, "cpu", nullcontext) == {"val_false_opens_10k": 2000.0}
    assert false_opens(_Opener(12, 11, [0]), rows, 11, "cpu", nullcontext) == {"val_false_opens_10k": 0.0}


def test_auto_dtype_is_bf16_only_where_the_chip_has_it(tmp_path):
    from memgpt.training.finetune import cpu_has_bf16, resolve_dtype
    amx, avx2 = tmp_path / "amx", tmp_path / "avx2"
    amx.write_text("flags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n")
    avx2.write_text("flags\t\t: fpu sse avx2 fma\n")
    assert cpu_has_bf16(str(amx)) and not cpu_has_bf16(str(avx2)) and not cpu_has_bf16(str(tmp_path / "none"))
    assert resolve_dtype("auto", "cuda") == "bfloat16" and resolve_dtype("float32", "cuda") == "float32"
    assert resolve_dtype("auto", "cpu") == ("bfloat16" if cpu_has_bf16() else "float32")
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("fp8", "cpu")


def test_no_note_term_adds_minus_log_one_minus_p_scratch_on_text_targets(base):
    """The decision not to open a note: no_note_weight x -log(1 - p(<|scratch|>)) on every text
    target (none on keys or context); it pushes p(<|scratch|>) down where the text goes on."""
    from memgpt.training.finetune import row_loss
    model, tok, meta = load_gguf(base)
    ids, mask = next(rows_fn(FinetuneConfig(block=48), tok, "train", 3))
    with torch.no_grad():
        plain, *_ = row_loss(model, ids, mask, 3.0, "cpu")
        extra, *_ = row_loss(model, ids, mask, 3.0, "cpu", None, tok.scratch, 2.0)
        logits = model(torch.tensor([ids[:-1]]))[0][0]
        p = torch.softmax(logits.float(), -1)[:, tok.scratch]
        text = torch.tensor([m == TEXT and t != tok.scratch for m, t in zip(mask[1:], ids[1:])])
        want = 2.0 * -torch.log1p(-p[text]).sum()
    assert text.any() and text.sum() < len(text)
    torch.testing.assert_close(extra - plain, want, rtol=1e-2, atol=2e-5)  # a difference of two sums
    # its gradient lowers p(<|scratch|>) at text targets
    sd = lora.add_lora(model, 4, 8.0) + [lora.train_new_rows(model, meta["base_tokens"])]
    opt = torch.optim.SGD(sd, lr=0.5)
    for _ in range(3):  # the term alone
        loss = row_loss(model, ids, mask, 3.0, "cpu", None, tok.scratch, 2.0)[0] - row_loss(model, ids, mask, 3.0, "cpu")[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = torch.softmax(model(torch.tensor([ids[:-1]]))[0][0].float(), -1)[:, tok.scratch]
    assert after[text].mean() < p[text].mean()


def test_an_adapter_directory_loads_by_path_as_its_base_with_the_adapter(base, tmp_path):
    from memgpt.checkpoint import CheckpointError
    from memgpt.models import load_model

    out = tmp_path / "run"
    finetune(FinetuneConfig(base=base, out=str(out), tokens=400, block=48, step_tokens=200, rank=2, alpha=4,
                            lr=3e-3, new_rows_lr=3e-2, eval_every=0), rows_fn=rows_fn, progress=False)
    model, tok, meta = load_model(str(out / "last"), "cpu", weights="float32")
    assert meta["adapter"] == str(out / "last")
    sd, info = lora.read_adapter(str(out / "last"))
    want = lora.apply_adapter(load_gguf(base)[0], sd, info)
    x = torch.tensor([tok.encode_text("the x is the")])
    torch.testing.assert_close(model(x)[0], want(x)[0])
    assert not torch.allclose(model(x)[0], load_gguf(base)[0](x)[0])
    meta_file = out / "last" / "adapter.json"
    meta_file.write_text(meta_file.read_text().replace(base, str(tmp_path / "gone.gguf")))
    with pytest.raises(CheckpointError, match="neither a model name"):
        load_model(str(out / "last"), "cpu")
