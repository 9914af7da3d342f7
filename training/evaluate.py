"""Evaluate a note-taker on the test pools and held-out filler.

    memgpt eval --model runs/default/best [--n 100] [--families niah_multivalue]
                [--recent-style grass] [--distractors 0] [--out eval.json]

1. Notes: documents of held-out filler (style `legal`, never trained on) with test-pool facts at
   random sentence boundaries are read by the engine's `ingest`. Recall = facts that got a
   well-formed note holding their key and value; precision = notes that are facts; and false
   notes per 10k tokens of pure held-out filler.
2. Answers: a `<|mem|>` block with the needed note(s) among 10 distractor notes (test pools),
   the end of held-out filler as the recent text (as much as fits the window, as the engine
   does), then the question; greedy answer. Per family. `--recent-style grass --distractors 0`
   asks the same in the benchmarks' windows: their filler, and a block with the needed notes
   alone (stage 24 answered 78% of pass keys there, 100% with 10 distractors).
3. bAbI qa1-qa3 with stale notes in the block (the latest state wins).

The answer checks build the window with the same renderers the engine uses and decode greedily;
no engine retrieval is involved, so they measure the model alone.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time

import torch

from memgpt.bench.score import score
from memgpt.model import KVCache
from memgpt.synth import facts, filler
from memgpt.synth.notes import distractor_notes, interleave_notes
from memgpt.tokenizer import Tokenizer
from memgpt.window import answer_fill, pack

SPLIT = "test"
HELDOUT = filler.HELDOUT_STYLES[0]


ANSWER_TOKENS = 40  # longest answer decoded (four 7-digit magic numbers with separators fit)


@torch.no_grad()
def greedy(model, tok: Tokenizer, ids: list[int], max_new: int = ANSWER_TOKENS) -> str:
    """Greedy continuation until `<|end|>` (or any control token); returns the text."""
    ids = ids[-(model.config.block_size - max_new):]
    cache = KVCache(model.config)
    logits, _ = model(torch.tensor([ids]), cache=cache)
    out: list[int] = []
    for _ in range(max_new):
        nxt = int(logits[0, -1].argmax())
        if nxt in tok.control_ids:
            break
        out.append(nxt)
        logits, _ = model(torch.tensor([[nxt]]), cache=cache)
    return tok.decode(out).strip()


# ---- answers from a <|mem|> block ---------------------------------------------------------------

def _family_case(family: str, rng: random.Random) -> tuple[list[str], tuple[str, str]]:
    """(needed notes in order, (question, expected)) for one family, from the test pools."""
    if family == "passkey":
        f = facts.passkey_fact(rng, SPLIT)
        return [f.note], ("What is the pass key?", f.qa[0][1])
    if family in ("niah_single", "niah_multikey"):
        f = facts.niah_fact(rng, SPLIT)
        notes = [f.note]
        if family == "niah_multikey":  # distractor needles: other keys' magic numbers
            notes += [facts.niah_fact(rng, SPLIT).note for _ in range(3)]
            rng.shuffle(notes)
        return notes, f.qa[0]
    if family == "niah_multivalue":
        key = facts.niah_key(rng, SPLIT)
        fs = [facts.niah_fact(rng, SPLIT, key) for _ in range(rng.randint(2, 4))]
        return [f.note for f in fs], (facts.multivalue_question(key), ", ".join(f.qa[0][1] for f in fs))
    if family == "niah_multiquery":
        fs = [facts.niah_fact(rng, SPLIT) for _ in range(rng.randint(2, 3))]
        # Asked in alphabetical order: unrelated to the notes' order (the keys are random), as the
        # benchmark's random needle depths make it, without drawing from rng.
        asked = sorted(fs, key=lambda f: facts.niah_note_key(f.note))
        keys = [facts.niah_note_key(f.note) for f in asked]
        return [f.note for f in fs], (facts.multiquery_question(keys), ", ".join(f.qa[0][1] for f in asked))
    if family.startswith("chat_"):
        f = facts.chat_fact(rng, SPLIT, family[5:])
        q, a = rng.choice(f.qa)
        return [f.note], (q, a.rsplit(" ", 1)[-1].rstrip(".") if family != "chat_birthday" else a.split(" is ")[-1].rstrip("."))
    if family in ("qa1", "qa2", "qa3"):
        while True:
            w = facts.BabiWorld(rng, SPLIT, babi_vocab=True)
            notes = [w.step("move" if family == "qa1" else "all").note for _ in range(rng.randint(4, 12))]
            qs = w.questions()[family]
            if qs:
                return notes, rng.choice(qs)
    raise ValueError(family)


ANSWER_FAMILIES = ("passkey", "niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery",
                   *(f"chat_{s[0]}" for s in facts.CHAT_SLOTS), "qa1", "qa2", "qa3")


def answer_window(tok: Tokenizer, notes: list[str], recent: str, question: str, block_size: int,
                  max_new: int = ANSWER_TOKENS) -> list[int]:
    """The window the engine builds (`memgpt.window`): the whole `<|mem|>` block, as much of the
    end of the recent text as fits, the question, filling at most `window_limit` positions as the
    engine does, and fewer where the answer needs more room (`answer_fill`)."""
    mem, q = tok.render_memory(notes)[0], tok.render_prompt_for_reply(question)
    fill = answer_fill(block_size, max_new)
    if len(mem) + len(q) > fill:
        raise ValueError(f"a {len(mem)}-token memory block and a {len(q)}-token question leave no room "
                         f"in a {fill}-token window ({block_size}-token block, {max_new}-token answer)")
    return pack(mem, tok.encode_text(recent), q, fill)


def reply_budget(tok: Tokenizer, family: str, needed: list[str], expected: str) -> int:
    """Tokens decoded for one answer: the trained reply's length and a margin, so that as many
    distractors fit the window as the answer leaves room for (bAbI: its fixed reply budget)."""
    if family.startswith("qa"):
        return facts.BABI_REPLY_TOKENS
    if family == "niah_multiquery":  # the reply restates each key before its value
        key_of = {n.rsplit(": ", 1)[1]: facts.niah_note_key(n) for n in needed}
        values = expected.split(", ")
        return len(tok.encode_text(facts.multiquery_reply([key_of[v] for v in values], values))) + 8
    return min(ANSWER_TOKENS, len(tok.encode_text(expected)) + 8)


def check_families(families: tuple[str, ...]) -> None:
    """A clear error for an empty or unknown family list (the API's and the CLI's one check)."""
    unknown = set(families) - set(ANSWER_FAMILIES)
    if unknown or not families:
        what = f"unknown families {sorted(unknown)}" if unknown else "no families named"
        raise ValueError(f"{what}; known: {', '.join(ANSWER_FAMILIES)}")


def recent_text(style: str, rng: random.Random) -> str:
    """The recent text before the question. Held-out `legal` (the default): two sentences, as every
    table in the README used. Any other style: a passage that fills the window, of a random
    number of sentences, so a repeating filler (the benchmarks' grass) may end on any of its
    sentences and the window begins mid-sentence, as the engine's windows into a benchmark
    document do."""
    if style == HELDOUT:
        return " ".join(filler.passage(HELDOUT, rng, 2))
    return " ".join(filler.passage(style, rng, rng.randint(40, 49)))


def eval_answers(model, tok: Tokenizer, n: int, seed: int, distractors: int = 10,
                 families: tuple[str, ...] = ANSWER_FAMILIES, recent_style: str = HELDOUT) -> dict[str, dict[str, float]]:
    """Per family: the mean score, and the mean number of distractor notes in the block (fewer
    than `distractors` only where the block would not fit the window with the question and the
    answer; the multi-note families' blocks run long). The families draw from one generator in
    turn, so a subset of them gets other cases than the same families in a full run."""
    check_families(families)
    rng = random.Random(seed)
    out = {}
    T = model.config.block_size
    for fam in families:
        total = used = 0.0
        for _ in range(n):
            needed, (q, expected) = _family_case(fam, rng)
            distract = distractor_notes(rng, SPLIT, distractors, needed)
            ctx = recent_text(recent_style, rng)
            max_new = reply_budget(tok, fam, needed, expected)
            notes = interleave_notes(rng, distract, needed)
            while True:  # drop distractors (the last drawn first) until the window fits; no rng drawn
                try:
                    ids = answer_window(tok, notes, ctx, q, T, max_new)
                    break
                except ValueError:
                    if not distract:
                        raise
                    notes.remove(distract.pop())
            total += score(greedy(model, tok, ids, max_new), expected, last_sentence=fam.startswith("qa"))
            used += len(distract)
        out[fam] = {"score": total / n, "distractors": used / n}
    return out


# ---- notes written while reading ----------------------------------------------------------------

def _required(f: facts.Fact) -> list[str]:
    """Strings a well-formed note for this fact must hold (its key and value)."""
    if f.family == "passkey":
        return [f.note.split(": ")[1]]
    if f.family == "niah":
        return [facts.niah_note_key(f.note), f.note.rsplit(": ", 1)[1]]
    if f.family == "babi":
        return [f.note.split()[0], f.note.split()[-1]]
    return [f.note.split(": ", 1)[1]]


def eval_notes(bot_factory, tok: Tokenizer, n_docs: int, facts_per_doc: int, seed: int,
               filler_tokens: int) -> dict[str, float]:
    rng = random.Random(seed)
    hits = n_facts = good_notes = n_notes = 0
    for _ in range(n_docs):
        bot = bot_factory()
        placed, parts = [], []
        world = facts.BabiWorld(rng, SPLIT, babi_vocab=True)
        sents = filler.passage(HELDOUT, rng, facts_per_doc * 6)
        for i, s in enumerate(sents):
            parts.append(s)
            if i % 6 == 5:
                r = rng.random()
                f = (facts.passkey_fact(rng, SPLIT) if r < 0.25 else facts.niah_fact(rng, SPLIT) if r < 0.5
                     else world.step("move") if r < 0.75 else facts.chat_fact(rng, SPLIT))
                placed.append(f)
                parts.append(f.sentence)
        notes = [nt.text for nt in bot.ingest(" ".join(parts))]
        n_facts += len(placed)
        n_notes += len(notes)
        used: set[int] = set()
        for f in placed:
            req = _required(f)
            j = next((j for j, nt in enumerate(notes) if j not in used and all(r in nt for r in req)), None)
            if j is not None:
                used.add(j)
                hits += 1
        good_notes += len(used)
    bot = bot_factory()
    text, ntok = [], 0
    while ntok < filler_tokens:
        s = " ".join(filler.passage(HELDOUT, rng, 20))
        ntok += len(tok.encode_text(s))
        text.append(s)
    false_notes = len(bot.ingest(" ".join(text)))
    return {"note_recall": hits / max(1, n_facts), "note_precision": good_notes / max(1, n_notes),
            "false_notes_per_10k_filler_tokens": false_notes * 10_000 / ntok, "facts": n_facts, "notes": n_notes,
            "filler_tokens": ntok}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`memgpt eval`'s arguments (the subcommand is wired in memgpt.cli): the templates suite's and
    the open suite's (`memgpt.training.evaluate_open`), which share --model, --n, --seed and --out."""
    ap.description = ("Evaluate a note-taker: --suite templates (the benchmark families' test pools and held-out "
                      "filler) or --suite open (held-out relation types and prose styles: the open-domain bars).")
    from memgpt.cli import add_model_argument
    from memgpt.training import evaluate_open

    ap.add_argument("--suite", choices=("templates", "open"), default="templates", help="default: %(default)s")
    add_model_argument(ap)
    ap.add_argument("--n", type=int, default=None,
                    help="templates: questions per family (default 100); open: " + evaluate_open.N_HELP)
    ap.add_argument("--seed", type=int, default=None, help="default: 1234 (templates), 0 (open)")
    ap.add_argument("--out", default=None,
                    help="templates: write the results as JSON here; open: the output directory (default eval_open)")
    evaluate_open.add_open_arguments(ap.add_argument_group("open suite"))
    ap = ap.add_argument_group("templates suite")
    ap.add_argument("--docs", type=int, default=10, help="documents for the note check")
    ap.add_argument("--facts-per-doc", type=int, default=20)
    ap.add_argument("--filler-tokens", type=int, default=20_000)
    ap.add_argument("--skip-notes", action="store_true")
    ap.add_argument("--families", default=",".join(ANSWER_FAMILIES),
                    help="answer families to ask, comma-separated (default: all). A subset draws other "
                         "cases than a full run, as the families share one seeded generator")
    ap.add_argument("--distractors", type=int, default=10,
                    help="distractor notes in each answer block (default: %(default)s; 0: the needed notes "
                         "alone, as the benchmarks' blocks often are)")
    ap.add_argument("--recent-style", default=HELDOUT, choices=filler.STYLES,
                    help="filler style of the answer windows' recent text (default: held-out %(default)s, two "
                         "sentences; another style fills the window, e.g. grass, the benchmarks' filler)")


def command(args: argparse.Namespace) -> int:
    """`memgpt eval`: print the scores per family and the note figures; --out writes them all
    (--suite open: `memgpt.training.evaluate_open.command`)."""
    if args.suite != "open" and args.model and "," in args.model:
        raise ValueError(f"--model {args.model!r}: --suite templates takes one model "
                         "(--suite open and memgpt bench compare several side by side)")
    if args.suite == "open":
        from memgpt.training import evaluate_open
        args.model = args.model or "default"
        args.seed = 0 if args.seed is None else args.seed
        args.out = args.out or "eval_open"
        return evaluate_open.command(args)
    args.n = 100 if args.n is None else args.n
    args.seed = 1234 if args.seed is None else args.seed
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    if args.distractors < 0:
        raise ValueError(f"--distractors must be >= 0, got {args.distractors}")
    try:  # before the model loads
        check_families(families)
    except ValueError as e:
        raise ValueError(f"--families {args.families!r}: {e}") from None
    import memgpt
    from memgpt.checkpoint import default_checkpoint_dir
    from memgpt.models import load_model

    model, tok, meta = load_model(args.model, "cpu")  # a name or a path, as memgpt.load takes it
    t0 = time.time()
    res: dict = {"checkpoint": args.model or default_checkpoint_dir(), "step": meta.get("step"),
                 "tokens": meta.get("tokens")}
    res["recent_style"] = args.recent_style
    answers = res[f"answers_{args.distractors}_distractors"] = eval_answers(
        model, tok, args.n, args.seed, args.distractors, families, args.recent_style)
    for fam, r in answers.items():
        print(f"{fam:16s} {r['score']:6.1%}  ({r['distractors']:.1f} distractors)")
    if not args.skip_notes:
        res["notes"] = eval_notes(lambda: memgpt.load(args.model), tok, args.docs, args.facts_per_doc, args.seed,
                                  args.filler_tokens)
        print(json.dumps(res["notes"], indent=1))
    res["seconds"] = round(time.time() - t0, 1)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    from memgpt.cli import run_command

    sys.exit(run_command("eval"))
