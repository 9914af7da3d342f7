"""Structured examples of the open-domain corpus: documents, chats and answering blocks.

Built on the fact catalog (`relations`) and the offline prose (`prose`); pure Python, no torch, no
tokenizer. Every generator takes `split` ("train" | "test") and a `random.Random` or an int seed,
and returns plain dicts whose fields are exactly the renderers' inputs (`memgpt.tokenizer`):

- `reading_example` -> {"segments": [(text, note | None), ...], ...} for `render_reading(segments)`:
  prose of one style with 0-N document facts inserted at sentence boundaries, each fact its own
  segment followed by its note; `fact_free_example` gives long stretches with no note at all.
- `chat_example` -> {"turns": [...], "memory": [...], ...} for `render_chat(turns, memory)`: user
  messages holding 0-3 facts stated naturally (mixed with chit-chat), small talk, pasted
  passages (sometimes with document facts), updates ("Actually, I moved to Oslo last month."),
  and questions many turns later in other words. The assistant's notes sit on the turn that
  answers the message stating them. A small-talk reply is the base model's own: such a turn has
  `"content": None` and a `"reply_key"` into a cache that `fill_replies` reads (render an example
  only after filling it; an unfilled one fails loudly). `SMALLTALK_PROMPTS` are the prompts.
- `answering_example` -> {"memory": [...], "context": str, "qa": [(q, a), ...]} for
  `render_answering(memory, context, qa)`: the needed notes among distractors (some of the same
  domain or the same relation with another subject; sometimes a stale document note before the
  latest), recent prose without the fact, then questions in other words and their answers.

Every example also carries "facts": records of the facts it holds (relation, key, value, note,
statement, questions, answer) for checks and evaluation.

Training (`split="train"`) draws only trained relation types, train values and training prose;
the test split draws every relation type (`which="heldout"` for the held-out ones alone), test
values and the held-out prose style.
"""
from __future__ import annotations

import functools
import hashlib
import random
import re
from typing import Any, Mapping, Sequence

from memgpt.synth.facts import _is_test
from memgpt.training.relations import (GENERIC_SHARE, OpenFact, Relation, draw_fact, generic_relation, join_natural,
                                       relations_for, statement_after_lead, update_of)
from memgpt.training.prose import Prose

# ---------------------------------------------------------------------------------------------
# small talk: the prompts whose replies the base model writes (cached by `smalltalk_key`)

SMALLTALK_PROMPTS: tuple[str, ...] = (
    # greetings and how-are-yous
    "Hi there!", "Hello! How are you doing today?", "Good morning!", "Hey, how's it going?", "Evening! Busy day?",
    "How has your week been?", "Long time no chat. What's new?", "Happy Friday!", "Morning. I need coffee.",
    "Hi again, I'm back.", "Thanks for your help earlier.", "You're very patient, you know that?",
    "Goodnight, talk tomorrow.", "See you later!", "Sorry, I got distracted for a bit.",
    # ephemeral statements (nothing worth keeping)
    "It rained all weekend here.", "I had pasta for lunch today.", "The train was late again this morning.",
    "I'm so tired today.", "My coffee went cold while I was on a call.", "It's really windy outside.",
    "I just got back from a walk.", "The neighbours are having a party and it's loud.", "I burnt the toast again.",
    "Traffic was terrible on the way home.", "I finally finished the laundry.", "My plants look a bit sad today.",
    "I watched a documentary about octopuses last night.", "I can't believe it's already Thursday.",
    "I spilled tea on my keyboard, but it still works.", "The sunset was beautiful this evening.",
    "My inbox is a disaster right now.", "I've been on calls all day.", "I stayed up way too late reading.",
    "There's a cat sitting outside my window.", "I tried a new bakery today and the croissants were great.",
    "My phone battery died in the middle of the afternoon.", "It snowed a little overnight.",
    "The power went out for an hour this morning.", "I walked ten thousand steps today.",
    "I'm waiting for a parcel that should have come yesterday.", "I found an old photo album in the attic.",
    "We had a fire drill at work today.", "I think I'm catching a cold.", "I made soup from whatever was in the fridge.",
    # opinions and light questions
    "What's a good way to start the morning?", "Do you have a favourite season?", "What makes a good weekend?",
    "Is it better to read the book or watch the film first?", "What's your take on pineapple on pizza?",
    "Cats or dogs?", "Do you think people are more productive in the morning or at night?",
    "What's a good board game for four people?", "What should I cook tonight?",
    "Any tips for staying focused while working from home?", "How do I stop procrastinating?",
    "What's a nice hobby to pick up in winter?", "Can you recommend a way to relax after work?",
    "What's a good name for a houseplant?", "Tell me something interesting.", "Tell me a fun fact about space.",
    "Tell me a joke.", "Say something to cheer me up.", "Give me a riddle.", "What's a good question to ask at dinner?",
    "How do I make small talk with strangers?", "What's the best way to learn a new word every day?",
    "What should I do on a rainy Sunday?", "How can I make my mornings less rushed?",
    "What's a simple stretch I can do at my desk?", "Is it worth keeping a journal?",
    "How do I get better at remembering names?", "What's a good gift for someone who has everything?",
    "How long should a power nap be?", "What's a polite way to decline an invitation?",
    "How do I keep a conversation going?", "What are some good habits for better sleep?",
    "Suggest a short story idea.", "Write me a two-line poem about the sea.", "Describe autumn in one sentence.",
    "What's a good way to say thank you to a colleague?", "How do I make a to-do list I actually use?",
    "Should I learn to touch type?", "What's the trick to a good cup of tea?", "How do I keep basil alive?",
    "What's a good warm-up before running?", "How do I fold a fitted sheet?", "Why do cats purr?",
    "Why is the sky blue?", "How do bees make honey?", "How far away is the moon?", "How do airplanes stay up?",
    "What causes thunder?", "Why do leaves change colour in autumn?", "How does a rainbow form?",
    "What's the difference between weather and climate?", "How many bones are in the human body?",
    "What's the tallest mountain in the world?", "How do magnets work?", "Why does bread go stale?",
    "What is photosynthesis, in simple words?", "How do vaccines work, roughly?", "Why do we yawn?",
    "What's the longest river in the world?", "How does a compass work?", "Why is the ocean salty?",
    "What's a light year?", "How do noise-cancelling headphones work?", "What is inflation, simply put?",
    "How does compound interest work?", "What's the difference between a virus and a bacterium?",
    "Why do onions make you cry?", "How do you boil an egg perfectly?", "What's the capital of Australia?",
    "Who invented the printing press?", "What is a haiku?", "How does recycling actually work?",
    "What's the best way to learn to juggle?", "How do I start running if I've never run before?",
    "What's a good book for a long train journey?", "Explain a black hole like I'm ten.",
    "How do clouds float?", "Why do we have leap years?", "What does a good cover letter look like?",
    "How do I ask for feedback at work?", "What's a quick healthy snack?", "How do I clean a cast-iron pan?",
    "What is mindfulness?", "How do I pick a ripe avocado?", "Why do birds migrate?",
    "How does the internet get to my house?", "What makes a good password?", "What's the point of a sourdough starter?",
    "How do I make my handwriting neater?", "What's the best way to pack a suitcase?",
    "How do I stop my glasses fogging up?", "Why do some people sneeze in sunlight?",
    "What's a good way to practise a new language?", "What's an easy plant for a dark room?",
    "How do I get rid of hiccups?", "What's the history of the sandwich?", "How do trains stay on the tracks?",
    "Why do we dream?", "What's a good stretch for a stiff neck?", "How can I waste less food?",
    # reactions and chit-chat
    "That's interesting, tell me more.", "Haha, that's funny.", "Really? I didn't know that.", "Fair enough.",
    "Hmm, I'm not sure about that.", "Okay, makes sense.", "Wow.", "Interesting.", "Good point.",
    "Let's talk about something else.", "I'm bored. Entertain me.", "What do you like talking about?",
    "Do you ever get tired of questions?", "What can you help me with?", "Are you a robot?",
    "How do you remember things?", "Can you keep a secret?", "What's your favourite word?",
    "If you could visit any planet, which one would it be?", "What would you do with a free afternoon?",
    "Guess what I'm thinking.", "Do you like music?", "What's the weirdest animal you know of?",
    "Pick a random number between one and a hundred.", "Tell me a tongue twister.",
    "What's a word that sounds funny?", "Give me a motivational quote.", "Describe a perfect day.",
    "What's something most people don't know about octopuses?", "Make up a name for a new colour.",
    "Recommend a good podcast topic.", "What's a fun fact about penguins?", "How do you say hello in Japanese?",
    "What's a palindrome?", "Give me a word that rhymes with orange.", "What rhymes with purple?",
    "Can you count backwards from ten?", "What's heavier, a kilo of feathers or a kilo of bricks?",
    "What's the opposite of a hot dog?", "Teach me one new word.", "What's the plural of octopus?",
    "Is a tomato a fruit?", "Why is a raven like a writing desk?", "Describe the smell of rain.",
    "What's the difference between a lake and a pond?", "How do I make a paper aeroplane that flies far?",
    "What's a good way to spend a long weekend at home?", "Give me three words that describe the sea.",
    "What's a nice thing to say to someone who's nervous?", "How do I make my room feel cosier?",
    "What's something small that makes a day better?", "Why do we get goosebumps?", "How do chameleons change colour?",
    "What's the quickest way to cool down on a hot day?", "Name a few famous bridges.", "How do I brew good coffee at home?",
    "Tell me about the northern lights.", "What's a good icebreaker for a meeting?", "How do I keep my desk tidy?",
    "I just saw a rainbow on my way home.", "My cat knocked a glass off the table this morning.",
    "The bus was packed today.", "I finally fixed the squeaky door.", "There's a thunderstorm coming, I think.",
)

ASIDES: tuple[str, ...] = (
    "It's been a hectic week.", "Sorry for the typos, I'm on my phone.", "Anyway, long day here.",
    "Just thought you should know.", "Hope that's useful.", "Weather's lovely today, by the way.",
    "I keep forgetting to mention it.", "Not that it matters much, but still.", "I'm writing this on the bus.",
    "Things are a bit chaotic at the moment.", "I'll probably need that later.", "Just so it's written down somewhere.",
    "My memory is terrible, so there you go.", "Bit of a random one, sorry.", "Okay, that's all for now.",
    "The coffee machine at work is broken again.", "It's freezing in here today.", "I'm finally on holiday mode.",
)
GREETINGS: tuple[str, ...] = ("Hi! ", "Hello. ", "Hey, ", "Oh, and ", "By the way, ", "Before I forget, ",
                              "Quick thing: ", "One more thing: ", "So, ", "Also, ", "For future reference, ",
                              "Not sure if I mentioned it, but ", "In case it comes up, ", "Random fact about me: ",
                              "Something you should know: ", "Oh, I meant to say: ", "Okay, so ")
QUESTION_LEADS: tuple[str, ...] = ("", "", "", "Quick question: ", "Remind me, ", "Hey, ", "Sorry, I forgot — ",
                                   "Can you remind me: ", "Do you remember? ")
PASSAGE_LEADS: tuple[str, ...] = ("I was reading this: ", "Here's something from a document I have:\n\n",
                                  "Can you keep this in mind?\n\n", "Someone sent me this: ", "Look at this:\n\n",
                                  "From a page I'm reading: ", "", "Pasting this here for later:\n\n")
PASSAGE_REPLIES: tuple[str, ...] = ("Thanks, I've read it.", "Thanks for sharing that.", "I've read it through.",
                                   "Got it — I've read the passage.", "Interesting read, thanks.")
ACK_ONE: tuple[str, ...] = ("Noted — {vals}.", "Got it: {vals}.", "Okay, noted. {answer}", "Thanks for telling me. {answer}",
                            "I'll remember that. {answer}", "Noted. {answer}")
ACK_MANY: tuple[str, ...] = ("Noted — {vals}.", "Got it. {answers}", "Thanks, I've noted all of that. {answers}",
                             "Okay. {answers}")
ACK_UPDATE: tuple[str, ...] = ("Thanks for the update. {answer}", "Updated — {vals}.", "Got it, I've changed that. {answer}",
                               "Noted the change: {vals}.")
ACK_PASTE: tuple[str, ...] = ("I've read it and noted {vals}.", "Thanks — noted. {answers}", "Got it. {answers}")
UNKNOWN_ANSWERS: tuple[str, ...] = ("You haven't told me {topic} yet.", "I don't have a note about {topic}.",
                                    "I don't know {topic} — you haven't mentioned it.")


def smalltalk_key(prompt: str) -> str:
    """The cache key of a small-talk prompt's reply: a hash of the prompt, so edits to the list
    keep the other replies."""
    return "st-" + hashlib.sha1(prompt.encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def smalltalk_prompts(split: str) -> tuple[str, ...]:
    """The small-talk prompts of a split (the benchmarks' 1-in-5 hash: the test part is never
    trained on, so side-by-side replies can be shown on unseen prompts)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return tuple(p for p in SMALLTALK_PROMPTS if _is_test(p) == (split == "test"))


def fill_replies(example: Mapping[str, Any], replies: Mapping[str, str]) -> dict:
    """A copy of a chat example whose small-talk turns carry the cached base-model replies
    (`replies[reply_key]`). Raises KeyError naming the prompts that have no reply yet."""
    turns, missing = [], []
    for t in example["turns"]:
        t = dict(t)
        if t.get("reply_key") is not None:
            if t["reply_key"] in replies:
                t["content"] = replies[t["reply_key"]]
            else:
                missing.append(t["reply_key"])
        turns.append(t)
    if missing:
        raise KeyError(f"no cached reply for small-talk keys {sorted(set(missing))}")
    return {**example, "turns": turns}


def needed_replies(examples: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """key -> prompt of every small-talk reply the examples need (what to generate with the base)."""
    out = {}
    for ex in examples:
        for t in ex.get("turns", ()):
            if t.get("reply_key") is not None:
                out[t["reply_key"]] = t["prompt"]
    return out


# ---------------------------------------------------------------------------------------------
# helpers


def as_rng(rng: random.Random | int) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


@functools.lru_cache(maxsize=4)
def default_prose(split: str) -> Prose:
    """Training prose for the train split, the held-out style for the test split (strict: a
    missing source raises, naming the package to install)."""
    return Prose(split=split)


def fact_record(f: OpenFact, **extra: Any) -> dict:
    return {"relation": f.relation.name, "domain": f.relation.domain, "kind": f.relation.kind,
            "relation_split": f.relation.split,
            "key": f.key, "value": f.value, "values": list(f.values), "note": f.note, "statement": f.statement,
            "questions": list(f.questions), "answer": f.answer, "update": f.is_update, **extra}


def _lower_lead(q: str) -> str:
    return q if q.startswith(("I ", "I'")) else q[:1].lower() + q[1:]


def _ask(rng: random.Random, f: OpenFact) -> tuple[str, str]:
    q, a = f.qa(rng)
    lead = rng.choice(QUESTION_LEADS)
    return (lead + (_lower_lead(q) if lead and not lead.endswith(("? ", ": ")) else q)), a


def _vals(facts: Sequence[OpenFact]) -> str:
    return join_natural([join_natural(list(f.values)) for f in facts])


def _distinct_facts(rng: random.Random, split: str, rels: Sequence[Relation], n: int, taken: set[str]) -> list[OpenFact]:
    """`n` facts whose keys are not in `taken` (added to it)."""
    out: list[OpenFact] = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        if split == "train" and rng.random() < GENERIC_SHARE:  # an invented type: keys are copied
            kinds = {r.is_user for r in rels}
            f = draw_fact(rng, split, relation=generic_relation(rng, user=kinds.pop() if len(kinds) == 1 else None))
        else:
            f = draw_fact(rng, split, relations=rels)
        if f.key not in taken:
            taken.add(f.key)
            out.append(f)
    return out


# sentence boundaries inside a paragraph, as offsets (the whitespace after a sentence's end)
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]’]*(?=\s+[A-Z\"'(‘“])")


_SPEAKER_LINE = re.compile(r"(?:^|\n)[A-Z][A-Z' .]{0,30}\.$")


def boundaries(paragraph: str) -> list[int]:
    """Offsets where a sentence ends inside `paragraph` (before the following whitespace); never
    right after a play's speaker name ("IRAS.")."""
    return [m.end() for m in _BOUNDARY.finditer(paragraph) if not _SPEAKER_LINE.search(paragraph, 0, m.end())]


# ---------------------------------------------------------------------------------------------
# reading


def _weave(rng: random.Random, paras: Sequence[str], facts: Sequence[OpenFact]) -> list[tuple[str, str | None]]:
    """Paragraphs with the facts inserted at random sentence boundaries (inside a paragraph, at its
    end, or as a paragraph of their own), in order; each fact a segment followed by its note."""
    slots: list[tuple[int, int]] = []  # (paragraph, offset), in reading order; -1: a paragraph of its own before it
    for i, p in enumerate(paras):
        slots += [(i, -1)] + [(i, b) for b in boundaries(p)] + [(i, len(p))]
    picks = sorted(rng.sample(range(len(slots)), min(len(facts), len(slots))))
    at: dict[tuple[int, int], list[OpenFact]] = {}
    for k, s in enumerate(picks):
        at.setdefault(slots[s], []).append(facts[k])
    segs: list[tuple[str, str | None]] = []
    buf = ""
    for i, p in enumerate(paras):
        sep = "" if i == 0 else "\n\n"
        for f in at.get((i, -1), []):  # a fact as its own paragraph before this one
            segs += [(buf, None)] if buf else []
            segs.append(((sep if segs or buf else "") + f.statement, f.note))
            buf, sep = "", "\n\n"
        buf += sep
        cuts = sorted(b for (j, b) in at if j == i and b >= 0)
        start = 0
        for b in cuts:
            buf += p[start:b]
            for f in at[(i, b)]:
                segs += [(buf, None)] if buf else []
                segs.append((" " + f.statement, f.note))
                buf = ""
            start = b
        buf += p[start:]
    if buf:
        segs.append((buf, None))
    return segs


def reading_example(rng: random.Random | int, split: str = "train", prose: Prose | None = None,
                    relations: Sequence[Relation] | None = None, n_facts: tuple[int, int] = (0, 6),
                    n_chars: tuple[int, int] = (500, 3000), update_share: float = 0.15, style: str | None = None) -> dict:
    """Prose of one style with 0-N document facts at sentence boundaries, each followed by its note.
    Now and then a later fact updates an earlier one (same key, new value): documents never
    supersede, both notes are written, the latest answers."""
    rng = as_rng(rng)
    prose = prose or default_prose(split)
    rels = relations if relations is not None else relations_for(split, user=False)
    style = style or prose.style(rng)
    paras = prose.passage(rng, style, rng.randint(*n_chars))
    k = rng.randint(*n_facts)
    facts = _distinct_facts(rng, split, rels, k, set())
    if facts and rng.random() < update_share:
        facts.append(update_of(rng.choice(facts), rng, split))
    segs = _weave(rng, paras, facts)
    return {"kind": "reading", "style": style, "split": split, "segments": segs,
            "facts": [fact_record(f) for f in facts]}


def fact_free_example(rng: random.Random | int, split: str = "train", prose: Prose | None = None,
                      n_chars: tuple[int, int] = (4000, 16000), style: str | None = None) -> dict:
    """A long stretch of one style's prose with no fact and no note (a note here is a false note)."""
    rng = as_rng(rng)
    prose = prose or default_prose(split)
    style = style or prose.style(rng)
    paras = prose.passage(rng, style, rng.randint(*n_chars))
    segs = [(p if i == 0 else "\n\n" + p, None) for i, p in enumerate(paras)]
    return {"kind": "fact_free", "style": style, "split": split, "segments": segs, "facts": []}


# ---------------------------------------------------------------------------------------------
# chat

CHAT_WEIGHTS = {"facts": 0.28, "update": 0.07, "question": 0.26, "unknown": 0.03, "smalltalk": 0.27, "paste": 0.09}


def _paste(rng: random.Random, split: str, prose: Prose, doc_rels: Sequence[Relation], taken: set[str]
           ) -> tuple[str, list[OpenFact]]:
    """A pasted passage (a paragraph or two), holding document facts half the time."""
    paras = prose.passage(rng, None, rng.randint(200, 900))[:2]
    facts = _distinct_facts(rng, split, doc_rels, rng.choice([0, 0, 1, 1, 2]), taken) if doc_rels else []
    segs = _weave(rng, paras, facts)
    return rng.choice(PASSAGE_LEADS) + "".join(t for t, _ in segs), facts


def chat_example(rng: random.Random | int, split: str = "train", prose: Prose | None = None,
                 relations: Sequence[Relation] | None = None, n_turns: tuple[int, int] = (6, 36),
                 memory_facts: tuple[int, int] = (0, 6), weights: Mapping[str, float] | None = None,
                 prompts: Sequence[str] | None = None) -> dict:
    """A chat of `n_turns` user turns (each with its assistant turn). `prompts`: the small-talk
    prompts to draw (default: the split's `smalltalk_prompts`).

    Earlier sessions' facts are in `memory` (the `<|mem|>` block; latest values only, as the engine
    injects them) with a few document notes. Then: messages stating 1-3 new facts (often with a
    greeting or an aside), whose assistant turn holds their notes and a short grounded reply;
    updates of a known fact (same key, new value: the note and the acknowledgement); questions
    about known facts in other words (older facts asked more), answered with the latest value;
    questions about facts never told ("You haven't told me ..."); small talk (reply: the base
    model's, by `reply_key`); pasted passages, sometimes holding document facts (noted)."""
    rng = as_rng(rng)
    rels = relations if relations is not None else relations_for(split)
    user_rels = [r for r in rels if r.is_user]
    doc_rels = [r for r in rels if not r.is_user]
    w = dict(weights or CHAT_WEIGHTS)
    taken: set[str] = set()
    known: dict[str, tuple[OpenFact, int]] = {}  # key -> (latest fact, turn it was told; -1: memory)
    asked: dict[str, int] = {}  # key -> turn it was last asked
    records: list[dict] = []
    memory_f = _distinct_facts(rng, split, user_rels, rng.randint(*memory_facts), taken)
    # no memory at all (memory_facts (0, 0): a new user) means no document notes either
    memory_f += _distinct_facts(rng, split, doc_rels, rng.randint(0, 3), taken) if doc_rels and memory_facts[1] else []
    rng.shuffle(memory_f)
    for f in memory_f:
        known[f.key] = (f, -1)
        records.append(fact_record(f, turn=-1, source="memory"))
    memory = [f.note for f in memory_f]
    turns: list[dict] = []
    prompts = tuple(prompts) if prompts is not None else smalltalk_prompts(split)
    n = rng.randint(*n_turns)
    for t in range(n):
        kinds = [k for k in w if k not in ("update", "question") or known]
        kind = rng.choices(kinds, weights=[w[k] for k in kinds])[0]
        if kind == "facts":
            fs = _distinct_facts(rng, split, user_rels, rng.choices([1, 2, 3], [0.6, 0.3, 0.1])[0], taken)
            if not fs:
                kind = "smalltalk"
            else:
                msg = " ".join(f.statement if i == 0 or rng.random() < 0.6 else "Also, " + statement_after_lead(f)
                               for i, f in enumerate(fs))
                if rng.random() < 0.3:
                    g = rng.choice(GREETINGS)
                    msg = g + (msg if g.endswith((". ", "! ", ": ")) else statement_after_lead(fs[0]) + msg[len(fs[0].statement):])
                if rng.random() < 0.25:
                    msg = msg + " " + rng.choice(ASIDES) if rng.random() < 0.6 else rng.choice(ASIDES) + " " + msg
                if len(fs) == 1:
                    if fs[0].relation.name == "user name" and rng.random() < 0.5:
                        ack = f"Nice to meet you, {fs[0].values[0]}."
                    else:
                        ack = rng.choice(ACK_ONE).format(vals=_vals(fs), answer=fs[0].answer)
                else:
                    ack = rng.choice(ACK_MANY).format(vals=_vals(fs), answers=" ".join(f.answer for f in fs))
                turns += [{"role": "user", "content": msg},
                          {"role": "assistant", "content": ack, "notes": [f.note for f in fs]}]
                for f in fs:
                    known[f.key] = (f, t)
                    records.append(fact_record(f, turn=t, source="chat"))
        if kind == "update":
            old, _ = known[rng.choice(sorted(known))]
            u = update_of(old, rng, split)
            msg = u.statement + (" " + rng.choice(ASIDES) if rng.random() < 0.15 else "")
            ack = rng.choice(ACK_UPDATE).format(vals=_vals([u]), answer=u.answer)
            turns += [{"role": "user", "content": msg}, {"role": "assistant", "content": ack, "notes": [u.note]}]
            known[u.key] = (u, t)
            records.append(fact_record(u, turn=t, source="chat"))
        elif kind == "question":
            # older facts are asked more: the point is answering from notes long after
            keys = sorted(known)
            ages = [t - max(known[k][1], asked.get(k, -1)) + 1 for k in keys]  # since told or last asked
            key = rng.choices(keys, weights=ages)[0]
            asked[key] = t
            f = known[key][0]
            q, a = _ask(rng, f)
            turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a, "notes": [], "asks": key}]
        elif kind == "unknown":
            cand = [r for r in user_rels if r.key not in known]
            if cand:
                r = rng.choice(cand)
                q = rng.choice(r.questions)
                a = rng.choice(UNKNOWN_ANSWERS).format(topic=r.topic)
                turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a, "notes": [], "asks": r.key}]
            else:
                kind = "smalltalk"
        elif kind == "paste":
            pr = prose or default_prose(split)
            msg, fs = _paste(rng, split, pr, doc_rels, taken)
            if fs:
                reply = rng.choice(ACK_PASTE).format(vals=_vals(fs), answers=" ".join(f.answer for f in fs))
            else:
                reply = rng.choice(PASSAGE_REPLIES)
            turns += [{"role": "user", "content": msg}, {"role": "assistant", "content": reply, "notes": [f.note for f in fs]}]
            for f in fs:
                known[f.key] = (f, t)
                records.append(fact_record(f, turn=t, source="paste"))
        if kind == "smalltalk":
            p = rng.choice(prompts)
            turns += [{"role": "user", "content": p},
                      {"role": "assistant", "content": None, "notes": [], "reply_key": smalltalk_key(p), "prompt": p}]
    return {"kind": "chat", "split": split, "memory": memory, "turns": turns, "facts": records}


# ---------------------------------------------------------------------------------------------
# answering


def _distractors(rng: random.Random, split: str, rels: Sequence[Relation], needed: Sequence[OpenFact], n: int,
                 taken: set[str]) -> list[str]:
    """Distractor notes: a third of the same domain as a needed fact, a sixth the same document
    relation with another subject, the rest any relation; never a needed key."""
    out: list[str] = []
    by_domain: dict[str, list[Relation]] = {}
    for r in rels:
        by_domain.setdefault(r.domain, []).append(r)
    for _ in range(30 * max(n, 1)):
        if len(out) >= n:
            break
        x = rng.random()
        base = rng.choice(needed) if needed else None
        if base is not None and x < 0.33:
            pool = by_domain.get(base.relation.domain, rels)
            f = draw_fact(rng, split, relations=pool)
        elif base is not None and x < 0.5 and not base.relation.is_user and base.relation in rels:
            f = draw_fact(rng, split, relation=base.relation)
        else:
            f = draw_fact(rng, split, relations=rels)
        if f.key not in taken:
            taken.add(f.key)
            out.append(f.note)
    return out


def answering_example(rng: random.Random | int, split: str = "train", prose: Prose | None = None,
                      relations: Sequence[Relation] | None = None, n_needed: tuple[int, int] = (1, 3),
                      n_distractors: tuple[int, int] = (2, 16), context_chars: tuple[int, int] = (0, 800),
                      unknown_share: float = 0.08, stale_share: float = 0.15) -> dict:
    """A `<|mem|>` block (needed notes among distractors, in chronological order), recent prose
    without the fact, then questions in other words with their answers. With `stale_share`, a
    needed document fact has an older note of the same key earlier in the block (documents never
    supersede): the answer is the latest. With `unknown_share`, one more question asks for a fact
    the block does not hold, answered "I don't have a note about ..."."""
    rng = as_rng(rng)
    rels = list(relations if relations is not None else relations_for(split))
    taken: set[str] = set()
    needed = _distinct_facts(rng, split, rels, rng.randint(*n_needed), taken)
    distract = _distractors(rng, split, rels, needed, rng.randint(*n_distractors), taken)
    memory = list(distract)
    records = []
    for f in needed:  # at random places, keeping the block's chronological order for stale notes
        pos = rng.randint(0, len(memory))
        if not f.relation.is_user and rng.random() < stale_share:
            # the old value was filed first; the newer note comes later in the block
            old = OpenFact(f.relation, f.subject, update_of(f, rng, split).values, "")
            memory.insert(rng.randint(0, pos), old.note)
            pos += 1
            records.append(fact_record(old, stale=True))
        memory.insert(pos, f.note)
        records.append(fact_record(f, stale=False))
    qa = [_ask(rng, f) for f in needed]
    if rng.random() < unknown_share:
        cand = [r for r in rels if r.is_user and r.key not in taken]
        if cand:
            r = rng.choice(cand)
            qa.append((rng.choice(r.questions), rng.choice(UNKNOWN_ANSWERS).format(topic=r.topic)))
    rng.shuffle(qa)
    context = ""
    n_chars = rng.randint(*context_chars)
    if n_chars > 0:  # the recent window: the end of some prose, cut at a sentence end
        pr = prose or default_prose(split)
        context = "\n\n".join(pr.passage(rng, None, n_chars))
        if len(context) > n_chars:
            cuts = [b for b in boundaries(context) if b <= n_chars]
            context = context[:cuts[-1]] if cuts else context[:n_chars].rsplit(" ", 1)[0]
    return {"kind": "answering", "split": split, "memory": memory, "context": context, "qa": qa, "facts": records}


GENERATORS = {"reading": reading_example, "fact_free": fact_free_example, "chat": chat_example,
              "answering": answering_example}


def examples(kind: str, seed: int, n: int, split: str = "train", **kw: Any) -> list[dict]:
    """`n` examples of one kind from one seed (example i from `random.Random(f"{seed}:{kind}:{i}")`,
    so any one of them can be regenerated alone)."""
    gen = GENERATORS[kind]
    return [gen(random.Random(f"{seed}:{kind}:{i}"), split, **kw) for i in range(n)]


__all__ = ["SMALLTALK_PROMPTS", "smalltalk_prompts", "smalltalk_key", "fill_replies", "needed_replies",
           "reading_example", "fact_free_example", "chat_example", "answering_example", "examples", "boundaries"]
