"""Synthetic facts, notes and filler: the one source of every fact sentence, note, question and
filler passage that the training corpus trains on, the benchmarks and the evaluation ask, and the
quickstart and `scripts/measure_recall.py` use.

    facts    the fact families of every benchmark task in their published wording, with the
             note a note-taker should write and the questions the note answers; disjoint train
             and test pools
    notes    notes of any family as distractors, and their placement in a `<|mem|>` block
    filler   offline filler text in several styles, one held out of training

Pure Python (no torch, no model): the corpus builder and the scripts import it freely.
"""
