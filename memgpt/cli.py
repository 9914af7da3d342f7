"""The `memgpt` command line.

    memgpt chat                      terminal chat; notes are shown as the model writes them
    memgpt ingest FILE               read a file (progress bar), print the notes and tokens/s
    memgpt ask QUESTION              answer from the notes
    memgpt generate PROMPT           continue a prompt, streaming to stdout
    memgpt notes list|search|history|delete|delete-all|export|import
    memgpt export-checkpoint SRC DST  copy a checkpoint with float16 weights (half the bytes)
    memgpt train|bpe|data|eval|bench|demo ...        training, evaluation, benchmarks, the web demo

Every subcommand is registered in `COMMANDS`, one wiring for all of them: here with
`@command(name, help, *arguments)` on a function that takes the parsed arguments and returns an
exit code, or with `elsewhere(name, module, help)` for one that lives in `module` as
`add_arguments(parser)` and `command(args) -> int`. A module is imported only when its
subcommand runs (or shows its help), so `memgpt notes ...` starts without torch; `python -m`
on such a module runs `run_command`, the same wiring. Flags are --kebab-case.

Errors a user can fix (missing file, bad checkpoint, bad note id, bad argument value) print one
line to stderr and exit with status 2, for every subcommand alike (`is_user_error`); Ctrl-C
exits with 130.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

MEMORY_ENV = "MEMGPT_MEMORY"
IN_MEMORY = ":memory:"


def default_memory_dir() -> str:
    """$MEMGPT_MEMORY, else ~/.memgpt/notes."""
    return os.environ.get(MEMORY_ENV) or os.path.join(os.path.expanduser("~"), ".memgpt", "notes")


@dataclass
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    interrupted: str = ""  # told a user who pressed Ctrl-C


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **kwargs: Any) -> tuple[tuple, dict]:
    """One `add_argument` call, for `command`."""
    return flags, kwargs


STORE_ARGS = [
    arg("--memory", metavar="DIR", default=None,
        help=f"note store directory (default: ${MEMORY_ENV} or ~/.memgpt/notes; '{IN_MEMORY}' for a throwaway store)"),
    arg("--session", default="default", help="notebook within the store (default: %(default)s)"),
]
MODEL_ARG = arg("--model", "--checkpoint", dest="model", metavar="NAME|PATH", default=None,
                help="tiny, smollm2-base, default, a checkpoint directory or a .gguf file (default: the default "
                     "model); --checkpoint is the same flag")
MODEL_ARGS = STORE_ARGS + [
    MODEL_ARG,
    arg("--device", default=None, help="cpu, cuda, ... (default: cuda if available, else cpu)"),
    arg("--weights", default="auto", choices=("auto", "float32", "int4"),
        help="auto: a Llama-family model's projections packed to 4 bits on a CPU with native bf16 "
             "(fast); float32: exact (default: %(default)s)"),
]
SAMPLING_ARGS = [
    arg("--max-new-tokens", type=int, default=256, help="most tokens to sample, notes included (default: %(default)s)"),
    arg("--temperature", type=float, default=0.7, help="0 = greedy (default: %(default)s)"),
    arg("--top-k", type=int, default=50, help="sample from the k likeliest tokens; 0 = all (default: %(default)s)"),
    arg("--seed", type=int, default=None, help="seed of the sampler"),
]


def add_model_argument(p: argparse.ArgumentParser) -> None:
    """`--model NAME|PATH` (alias `--checkpoint`, into `args.model`): every command that loads a
    model takes it so; `memgpt.load` and `memgpt.models.load_model` resolve it."""
    flags, kwargs = MODEL_ARG
    p.add_argument(*flags, **kwargs)


def command(name: str, help: str, *arguments: tuple[tuple, dict]):
    """Register the decorated `fn(args) -> exit code` as subcommand `name`."""
    def add(p: argparse.ArgumentParser) -> None:
        for flags, kwargs in arguments:
            p.add_argument(*flags, **kwargs)

    def register(fn: Callable[[argparse.Namespace], int | None]):
        COMMANDS[name] = Command(name, help, add, fn)
        return fn
    return register


def elsewhere(name: str, module: str, help: str, interrupted: str = "") -> None:
    """Register subcommand `name`, implemented in `module` by `add_arguments(parser)` and
    `command(args) -> exit code`; the module is imported when the subcommand is parsed."""
    COMMANDS[name] = Command(name, help, lambda p: importlib.import_module(module).add_arguments(p),
                             lambda args: importlib.import_module(module).command(args), interrupted)


# ---- helpers ------------------------------------------------------------------------------
def _memory_path(args: argparse.Namespace) -> str | None:
    path = args.memory or default_memory_dir()
    return None if path == IN_MEMORY else path


def _open_store(args: argparse.Namespace):
    from memgpt.memory.store import NoteStore
    return NoteStore(_memory_path(args))


def _load(args: argparse.Namespace):
    from memgpt.api import load
    from memgpt.controller import EngineConfig
    return load(args.model, memory=_memory_path(args), device=args.device,
                config=EngineConfig(session=args.session), weights=args.weights)


def _format_note(note) -> str:
    return f"  [note #{note.id}] {note.text}"


# ---- model commands ---------------------------------------------------------------------
@command("chat", "chat in the terminal (/reset clears the window, /quit or Ctrl-D ends)", *MODEL_ARGS, *SAMPLING_ARGS)
def run_chat(args: argparse.Namespace) -> int:
    with _load(args) as bot:
        at_line_start = [True]

        def show(note) -> None:
            print(("" if at_line_start[0] else "\n") + _format_note(note), flush=True)
            at_line_start[0] = True

        bot.on_note(show)
        print(f"{bot!r}\n{len(bot.memory)} notes in memory. /reset, /notes, /quit.", file=sys.stderr)
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if not line.strip():
                continue  # nothing said: nothing to answer (the API refuses an empty message)
            if line.strip() in ("/quit", "/exit"):
                return 0
            if line.strip() == "/reset":
                bot.reset()
                continue
            if line.strip() == "/notes":  # the newest 50, as `memgpt notes list` shows them
                total = bot.memory.count(session=args.session)
                for n in bot.memory.list(session=args.session, limit=50, offset=max(0, total - 50)):
                    print(_note_line(n))
                print(f"({min(total, 50)} of {total} notes; `memgpt notes list` shows them all)")
                continue
            print("bot> ", end="", flush=True)
            at_line_start[0] = False
            for piece in bot.chat(line, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                  top_k=args.top_k or None, seed=args.seed, stream=True):
                if at_line_start[0]:  # a note was printed mid-reply
                    print("bot> ", end="")
                    at_line_start[0] = False
                print(piece, end="", flush=True)
            print()
            at_line_start[0] = True


@command("ingest", "read a text file and file the notes the model writes",
         arg("file", help="text file to read ('-' for stdin)"), *MODEL_ARGS)
def run_ingest(args: argparse.Namespace) -> int:
    if args.file == "-":
        text = sys.stdin.read()
    else:
        with open(args.file, encoding="utf-8", errors="replace") as f:
            text = f.read()
    with _load(args) as bot:
        notes = bot.ingest(text, progress=True)
        for n in notes:
            print(_format_note(n))
        s = bot.last_ingest
        if s is not None:
            print(f"read {s.tokens} tokens in {s.seconds:.1f} s ({s.tokens_per_s:.0f} tokens/s); "
                  f"wrote {len(notes)} notes; {len(bot.memory)} in memory")
        else:
            print("nothing to read")
    return 0


@command("ask", "answer a question from the notes", arg("question"),
         arg("--max-new-tokens", type=int, default=32, help="longest answer (default: %(default)s)"), *MODEL_ARGS)
def run_ask(args: argparse.Namespace) -> int:
    with _load(args) as bot:
        print(bot.ask(args.question, max_new_tokens=args.max_new_tokens))
    return 0


@command("generate", "continue a prompt, streaming to stdout", arg("prompt"), *MODEL_ARGS, *SAMPLING_ARGS)
def run_generate(args: argparse.Namespace) -> int:
    with _load(args) as bot:
        for piece in bot.generate(args.prompt, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                  top_k=args.top_k or None, seed=args.seed, stream=True):
            print(piece, end="", flush=True)
        print()
    return 0


# ---- notes --------------------------------------------------------------------------------
NOTE_ACTIONS = ("list", "search", "history", "delete", "delete-all", "export", "import")


def _when(t: float) -> str:
    import time
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _note_line(n) -> str:
    """One note with its provenance: id, source@position, when written, text, then what changed
    since (edited by a person, written again, superseded by a newer note on its key)."""
    extra = []
    if n.edited_at is not None:
        extra.append(f"edited {_when(n.edited_at)}")
    if n.seen_at is not None and n.seen_at > n.created_at:
        extra.append(f"written again {_when(n.seen_at)}")
    if n.superseded_by is not None:
        extra.append(f"superseded by #{n.superseded_by}")
    return f"#{n.id}\t{n.source}@{n.position}\t{_when(n.created_at)}\t{n.text}" + "".join(f"\t({e})" for e in extra)


@command("notes", "manage the note store: list | search QUERY | history KEY | delete ID | delete-all | export PATH | "
                  "import PATH",
         arg("action", choices=NOTE_ACTIONS), arg("value", nargs="?", help="QUERY, KEY, ID or PATH, as the action needs"),
         arg("-k", type=int, default=5, help="search: most results to show (default: %(default)s)"),
         arg("--min-score", type=float, default=None,
             help="search: hide results scoring below this (default: the embedder's relevance floor)"),
         arg("--limit", type=int, default=100, help="list: most notes to show (default: %(default)s)"),
         arg("--offset", type=int, default=0, help="list: notes to skip (default: %(default)s)"),
         arg("--current", action="store_true", help="list: only current notes (hide the superseded ones)"),
         arg("--all-sessions", action="store_true",
             help="list/history/export/delete-all: every session, not just --session"),
         *STORE_ARGS)
def run_notes(args: argparse.Namespace) -> int:
    needs = {"search": "QUERY", "history": "KEY", "delete": "ID", "export": "PATH", "import": "PATH"}
    if args.action in needs and args.value is None:
        raise ValueError(f"notes {args.action} needs {needs[args.action]}")
    session = None if args.all_sessions else args.session
    with _open_store(args) as store:
        if args.action == "list":
            for n in store.list(session=session, limit=args.limit, offset=args.offset,
                                include_superseded=not args.current):
                print(_note_line(n))
        elif args.action == "search":
            floor = store.relevance_floor if args.min_score is None else args.min_score
            hits = store.search(args.value, k=args.k, session=args.session, min_score=floor)
            for n, score in hits:  # best first
                print(f"#{n.id}\t{score:.3f}\t{n.text}")
            print(f"{len(hits)} note{'s' * (len(hits) != 1)} scored {floor:.2f} or more "
                  f"(of {store.count(session=args.session)}; --min-score changes the floor)", file=sys.stderr)
        elif args.action == "history":
            notes = store.history(args.value, session=session)
            for n in notes:
                print(_note_line(n))
            if not notes:
                print(f"no note has the key {args.value!r} (a key is the text before a note's first ': ')",
                      file=sys.stderr)
        elif args.action == "delete":
            try:
                note_id = int(args.value)
            except ValueError:
                raise ValueError(f"note id must be an integer, got {args.value!r}") from None
            if not store.delete(note_id):
                raise KeyError(f"no note #{note_id}")
            print(f"deleted note #{note_id}")
        elif args.action == "delete-all":
            print(f"deleted {store.delete_all(session=session)} notes")
        elif args.action == "export":
            print(f"exported {store.export(args.value, session=session)} notes to {args.value}")
        elif args.action == "import":
            print(f"imported {store.import_(args.value)} new notes from {args.value} (source \"import\")")
    return 0


@command("export-checkpoint", "copy a checkpoint with its weights stored in float16 (half the file; loads as float32)",
         arg("src", metavar="SRC", help="checkpoint directory to read"),
         arg("dst", metavar="DST", help="directory to write (created; its checkpoint files are replaced)"),
         arg("--weights-dtype", default="float16",
             help="float16, bfloat16 or float32: the dtype the weights are stored in (default: %(default)s)"))
def run_export_checkpoint(args: argparse.Namespace) -> int:
    from memgpt.checkpoint import WEIGHTS_FILE, export_checkpoint
    export_checkpoint(args.src, args.dst, args.weights_dtype)
    size = os.path.getsize(os.path.join(args.dst, WEIGHTS_FILE))
    print(f"wrote {args.dst} ({args.weights_dtype} weights, {WEIGHTS_FILE} {size:,} bytes)")
    return 0


# ---- commands that live in their own modules ----------------------------------------------
elsewhere("train", "memgpt.training.train", "train a model on the scratchpad corpus (CPU or CUDA, DDP under torchrun)")
elsewhere("finetune", "memgpt.training.finetune", "fine-tune a pretrained base to keep notes (LoRA + new token rows; resumable)")
elsewhere("bpe", "memgpt.training.bpe", "train the byte-level BPE tokenizer on the corpus's text")
elsewhere("data", "memgpt.training.data", "build token shards of the scratchpad corpus")
elsewhere("eval", "memgpt.training.evaluate", "evaluate a note-taker on test pools and held-out filler")
elsewhere("bench", "memgpt.bench.runner", "long-context benchmarks: tasks x lengths x methods, resumable",
          interrupted="interrupted; rerun the same command to resume")
elsewhere("demo", "memgpt.demos.app", "chat in the browser beside the model's notebook (Gradio)")


# ---- entry point --------------------------------------------------------------------------
def build_parser(name: str | None = None) -> argparse.ArgumentParser:
    """The `memgpt` parser, every subcommand listed; only subcommand `name` gets its arguments
    (so parsing imports no module but that subcommand's)."""
    parser = argparse.ArgumentParser(
        prog="memgpt", description="A small GPT that keeps its own notes.",
        epilog=f"Notes persist in --memory (default: ${MEMORY_ENV} or ~/.memgpt/notes). "
               "'memgpt COMMAND --help' shows a command's options.")
    parser.add_argument("--version", action="version", version=f"memgpt {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        if c.name == name:
            c.add_arguments(p)
    return parser


def _version() -> str:
    from memgpt import __version__
    return __version__


def is_user_error(e: BaseException) -> bool:
    """Errors that deserve one line, not a traceback: bad paths, bad input, broken checkpoints
    (a port in use and an unwritable directory are OSErrors)."""
    checkpoint = sys.modules.get("memgpt.checkpoint")  # imported only if a model was loaded
    if checkpoint is not None and isinstance(e, checkpoint.CheckpointError):
        return True
    return isinstance(e, (OSError, ValueError, TypeError, KeyError))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 usage or user error, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    except SystemExit as e:  # --help, --version or a usage error: argparse has said it
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    c = COMMANDS[args.command]
    try:
        return c.run(args) or 0
    except KeyboardInterrupt:
        print(f"\nmemgpt {c.name}: {c.interrupted}" if c.interrupted else "", file=sys.stderr)
        return 130
    except Exception as e:
        if not is_user_error(e):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"memgpt {c.name}: error: {msg}", file=sys.stderr)
        return 2


def run_command(name: str, argv: list[str] | None = None) -> int:
    """`memgpt NAME ...argv` (argv: sys.argv[1:] when None): how `python -m` runs a subcommand's module."""
    return main([name, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
