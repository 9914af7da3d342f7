"""Tokenizer (tiktoken + the project's own BPE ranks) and the renderers of every sequence format.

Training data and the engine build sequences only through the `render_*` functions here, so the
model sees at inference exactly the formats it was trained on. Each renderer returns
`(ids, mask)`: mask 0 = context (never a training target), 1 = ordinary target (document text),
2 = key target (notes, answers: weighted higher in training).

User and document text always goes through `encode_text` (tiktoken's `encode_ordinary`): typing
"<|scratch|>" yields those characters, never the control token.

Chat turns have two spellings of one contract (DESIGN §3): the tiny model's own
`<|user|>…<|end|><|assistant|>…<|end|>` ("memgpt") and a pretrained base's ChatML
`<|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n…<|im_end|>\n` ("chatml"). Both are
spelt here and nowhere else.
"""
from __future__ import annotations

import base64
import json
import os
from typing import Sequence

import tiktoken

# GPT-2's split pattern, except that every digit is a token of its own (numbers copy uniformly).
SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

EOT = "<|endoftext|>"
SCRATCH, SCRATCH_END = "<|scratch|>", "<|/scratch|>"
MEM, MEM_END = "<|mem|>", "<|/mem|>"
USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"  # ChatML (pretrained bases)
SPECIALS = (EOT, SCRATCH, SCRATCH_END, MEM, MEM_END, USER, ASSISTANT, END)
MEMGPT_TOKENS = (SCRATCH, SCRATCH_END, MEM, MEM_END)  # what a pretrained base gains as new ids
CHAT_FORMATS = {"memgpt": (USER, ASSISTANT, END), "chatml": (IM_START, IM_END)}

# Pre-tokenizers of pretrained BPEs, by llama.cpp's `tokenizer.ggml.pre` name, as one tiktoken
# regex each. llama.cpp splits "smollm" text in two passes: every digit on its own (\p{N}), then
# GPT-2's pattern inside each piece between digits. One pattern does the same if whitespace
# before a digit counts as the end of a piece: `\s+(?![^\s\p{N}])` instead of `\s+(?!\S)`.
_GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_DIGITS_THEN_GPT2 = r"""\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"""
_LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
           r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
PRETOKENIZERS = {
    **dict.fromkeys(("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"), _DIGITS_THEN_GPT2),
    **dict.fromkeys(("gpt-2", "gpt2", "mpt", "olmo", "jais"), _GPT2),
    **dict.fromkeys(("llama3", "llama-bpe"), _LLAMA3),
}

CONTEXT, TEXT, KEY = 0, 1, 2  # mask values
MAX_NOTE_TOKENS = 96

RANKS_FILE, TOKENIZER_FILE = "tokenizer.bpe", "tokenizer.json"

Rendered = tuple[list[int], list[int]]


class TokenizerError(ValueError):
    """A tokenizer file is missing or malformed."""


def clean_note(text: str) -> str:
    """Notes are single lines: newlines would split one note into two in a `<|mem|>` block."""
    return " ".join(text.split())


class Tokenizer:
    """A tiktoken `Encoding` plus memgpt's control tokens and renderers."""

    def __init__(self, enc: tiktoken.Encoding, ranks: dict[bytes, int] | None = None, chat: str = "memgpt",
                 system: str | None = None):
        if chat not in CHAT_FORMATS:
            raise TokenizerError(f"unknown chat format {chat!r} (known: {', '.join(CHAT_FORMATS)})")
        missing = [s for s in (EOT, *MEMGPT_TOKENS, *CHAT_FORMATS[chat]) if s not in enc._special_tokens]
        if missing:
            raise TokenizerError(f"encoding {enc.name!r} lacks control tokens {missing}")
        self.enc, self.chat, self.system = enc, chat, system
        self.ranks = ranks  # kept to save the tokenizer; None for named encodings (gpt2)
        self.specials = dict(enc._special_tokens)
        self.eot, self.scratch, self.scratch_end = (self.specials[s] for s in (EOT, SCRATCH, SCRATCH_END))
        self.mem, self.mem_end = self.specials[MEM], self.specials[MEM_END]
        if chat == "memgpt":
            self.user, self.assistant, self.end = (self.specials[s] for s in (USER, ASSISTANT, END))
            self.user_prefix, self.assistant_prefix = [self.user], [self.assistant]
            self.turn_end = [self.end]
        else:  # ChatML: a role name and a newline after <|im_start|>; a newline after <|im_end|>
            start, self.end = self.specials[IM_START], self.specials[IM_END]
            self.user = self.assistant = start
            self.user_prefix = [start] + enc.encode_ordinary("user\n")
            self.assistant_prefix = [start] + enc.encode_ordinary("assistant\n")
            self.turn_end = [self.end] + enc.encode_ordinary("\n")
        # The base's default system turn, which its chat template puts before every conversation
        self.system_prefix: list[int] = []
        if chat == "chatml" and system:
            self.system_prefix = [start] + enc.encode_ordinary(f"system\n{system}") + self.turn_end
        self.control_ids = frozenset(self.specials.values())

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def from_ranks(cls, ranks: dict[bytes, int], name: str = "memgpt-bpe") -> "Tokenizer":
        n = max(ranks.values()) + 1
        specials = {s: n + i for i, s in enumerate(SPECIALS)}
        enc = tiktoken.Encoding(name=name, pat_str=SPLIT_PATTERN, mergeable_ranks=ranks, special_tokens=specials)
        return cls(enc, ranks)

    @classmethod
    def pretrained(cls, name: str, pre: str, ranks: dict[bytes, int], specials: dict[str, int],
                   chat: str = "chatml", system: str | None = None) -> "Tokenizer":
        """A pretrained base's BPE: its ranks (ids), its control tokens, the pre-tokenizer named
        `pre` (a key of PRETOKENIZERS), plus memgpt's tokens as new ids after the largest.
        `system` is the base's default system message (its chat template's), if any."""
        if pre not in PRETOKENIZERS:
            raise TokenizerError(f"pre-tokenizer {pre!r} is not supported (supported: {', '.join(sorted(PRETOKENIZERS))})")
        specials = dict(specials)
        n = max(max(ranks.values()), max(specials.values(), default=0)) + 1
        for i, s in enumerate(t for t in MEMGPT_TOKENS if t not in specials):
            specials[s] = n + i
        enc = tiktoken.Encoding(name=name, pat_str=PRETOKENIZERS[pre], mergeable_ranks=ranks, special_tokens=specials)
        return cls(enc, ranks, chat, system)

    @classmethod
    def gpt2(cls) -> "Tokenizer":
        """GPT-2's encoding plus our control tokens (for models started from GPT-2 weights).
        Needs tiktoken to reach its download host the first time; never used implicitly."""
        base = tiktoken.get_encoding("gpt2")
        n = base.n_vocab
        specials = {EOT: base.eot_token}
        specials.update({s: n + i for i, s in enumerate(SPECIALS[1:])})
        enc = tiktoken.Encoding(name="gpt2", pat_str=base._pat_str, mergeable_ranks=base._mergeable_ranks,
                                special_tokens=specials)
        return cls(enc, None)

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        meta = {"name": self.enc.name, "pattern": self.enc._pat_str, "specials": self.specials, "chat": self.chat,
                "system": self.system}
        if self.ranks is not None:
            with open(os.path.join(directory, RANKS_FILE), "w") as f:
                for tok, rank in sorted(self.ranks.items(), key=lambda kv: kv[1]):
                    f.write(f"{base64.b64encode(tok).decode()} {rank}\n")
        with open(os.path.join(directory, TOKENIZER_FILE), "w") as f:
            json.dump(meta, f, indent=1)

    @classmethod
    def load(cls, directory: str) -> "Tokenizer":
        meta_path = os.path.join(directory, TOKENIZER_FILE)
        try:
            with open(meta_path) as f:
                meta = json.load(f)
            name, pattern, specials = meta["name"], meta["pattern"], meta["specials"]
            chat, system = meta.get("chat", "memgpt"), meta.get("system")
        except FileNotFoundError:
            raise TokenizerError(f"{meta_path}: missing tokenizer file") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise TokenizerError(f"{meta_path}: malformed tokenizer file ({e})") from None
        if name == "gpt2":
            return cls.gpt2()
        ranks_path = os.path.join(directory, RANKS_FILE)
        ranks: dict[bytes, int] = {}
        try:
            with open(ranks_path) as f:
                for lineno, line in enumerate(f, 1):
                    tok, rank = line.split()
                    ranks[base64.b64decode(tok, validate=True)] = int(rank)
        except FileNotFoundError:
            raise TokenizerError(f"{ranks_path}: missing tokenizer ranks file") from None
        except (ValueError, TypeError) as e:
            raise TokenizerError(f"{ranks_path}: malformed line {lineno} ({e})") from None
        values = sorted(ranks.values())
        if len(ranks) < 256 or len(set(values)) != len(values) or set(values) & set(specials.values()):
            raise TokenizerError(f"{ranks_path}: ranks are truncated, repeated or overlap the control tokens")
        if chat == "memgpt" and values != list(range(len(ranks))):
            raise TokenizerError(f"{ranks_path}: ranks are truncated or not contiguous")
        try:
            enc = tiktoken.Encoding(name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
            return cls(enc, ranks, chat, system)
        except ValueError as e:
            raise TokenizerError(f"{meta_path}: {e}") from None

    # ---- plain text --------------------------------------------------------------------
    @property
    def n_vocab(self) -> int:
        return self.enc.n_vocab


    def encode_text(self, text: str) -> list[int]:
        """Encode user or document text. Never yields a control token, whatever the text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        return self.enc.encode_ordinary(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.enc.decode(list(ids), errors="replace")

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return self.enc.decode_bytes(list(ids))

    # ---- renderers ---------------------------------------------------------------------
    def render_note(self, note: str) -> Rendered:
        """`<|scratch|>note<|/scratch|>`, all key targets (the model writes these)."""
        ids = [self.scratch] + self.encode_text(clean_note(note))[:MAX_NOTE_TOKENS] + [self.scratch_end]
        return ids, [KEY] * len(ids)

    def render_memory(self, notes: Sequence[str]) -> Rendered:
        """The controller's `<|mem|>` block, oldest note first; never a training target.
        No notes renders nothing, so a window without memory is just text."""
        if not notes:
            return [], []
        ids = [self.mem] + self.encode_text("\n".join(clean_note(n) for n in notes)) + [self.mem_end]
        return ids, [CONTEXT] * len(ids)

    def render_reading(self, segments: Sequence[tuple[str, str | None]]) -> Rendered:
        """Document text (targets, so the model learns where *not* to open a note), each piece
        optionally followed by the note the model should write right after it."""
        ids: list[int] = []
        mask: list[int] = []
        for text, note in segments:
            t = self.encode_text(text)
            ids += t
            mask += [TEXT] * len(t)
            if note is not None:
                n_ids, n_mask = self.render_note(note)
                ids += n_ids
                mask += n_mask
        return ids, mask

    def render_user(self, content: str) -> Rendered:
        ids = self.user_prefix + self.encode_text(content) + self.turn_end
        return ids, [CONTEXT] * len(ids)

    def render_assistant(self, reply: str, notes: Sequence[str] = ()) -> Rendered:
        """The assistant's turn prefix (placed by the controller: context), then the model's notes
        and reply, ended by the end-of-turn token it must learn to write (and, in ChatML, the
        newline the controller adds after it: context)."""
        ids, mask = list(self.assistant_prefix), [CONTEXT] * len(self.assistant_prefix)
        for n in notes:
            n_ids, n_mask = self.render_note(n)
            ids += n_ids
            mask += n_mask
        r = self.encode_text(reply) + [self.end]
        after = self.turn_end[1:]
        return ids + r + after, mask + [KEY] * len(r) + [CONTEXT] * len(after)

    def render_chat(self, turns: Sequence[dict], memory: Sequence[str] = ()) -> Rendered:
        """A `<|mem|>` block, then turns `{"role": "user"|"assistant", "content": str, "notes": [...]}`."""
        ids, mask = self.render_memory(memory)
        for t in turns:
            if t["role"] == "user":
                i, m = self.render_user(t["content"])
            elif t["role"] == "assistant":
                i, m = self.render_assistant(t["content"], t.get("notes", ()))
            else:
                raise ValueError(f"unknown role {t['role']!r}")
            ids += i
            mask += m
        return ids, mask

    def render_prompt_for_reply(self, user_message: str) -> list[int]:
        """What the controller feeds before the model replies: the user turn and the assistant's prefix."""
        return self.render_user(user_message)[0] + self.assistant_prefix

    def render_answering(self, memory: Sequence[str], context: str, qa: Sequence[tuple[str, str]]) -> Rendered:
        """A `<|mem|>` block, recent document text, then questions answered from the block."""
        ids, mask = self.render_memory(memory)
        c = self.encode_text(context)
        ids, mask = ids + c, mask + [TEXT] * len(c)
        for q, a in qa:
            i, m = self.render_user(q)
            j, n = self.render_assistant(a)
            ids, mask = ids + i + j, mask + m + n
        return ids, mask
