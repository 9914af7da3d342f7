"""The `memgpt` command line.

    memgpt chat                      terminal chat; notes are shown as the model writes them
    memgpt ingest FILE               read a file (progress bar), print the notes and tokens/s
    memgpt ask QUESTION              answer from the notes
    memgpt generate PROMPT           continue a prompt, streaming to stdout
    memgpt notes list|search|delete|delete-all|export|import
    memgpt export-checkpoint SRC DST  copy a checkpoint with float16 weights (half the bytes)
    memgpt train|bpe|data|eval|bench|demo ...        training tools (every argument goes to them)

Adding a subcommand is one function decorated with `@command(name, help, *arguments)` that
takes the parsed arguments and returns an exit code. Model and training code are imported only
inside the commands that need them, so `memgpt notes ...` starts without torch.

Errors a user can fix (missing file, bad checkpoint, bad note id) print one line to stderr and
exit with status 2.
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
    arguments: list[tuple[tuple, dict]]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}
# Subcommands whose whole argument list goes to another module's `main(argv)`.
DELEGATES: dict[str, tuple[str, str]] = {
    "train": ("memgpt.training.train", "train a model (arguments go to memgpt.training.train)"),
    "bpe": ("memgpt.training.bpe", "train the BPE tokenizer (arguments go to memgpt.training.bpe)"),
    "data": ("memgpt.training.data", "build training shards (arguments go to memgpt.training.data)"),
    "bench": ("memgpt.bench.runner", "long-context benchmarks: tasks x lengths x methods (arguments go to memgpt.bench.runner)"),
    "demo": ("memgpt.demos.app", "chat in the browser beside the model's notebook (Gradio)"),
    "eval": ("memgpt.training.evaluate", "evaluate a note-taker on test pools (arguments go to memgpt.training.evaluate)"),
}


def arg(*flags: str, **kwargs: Any) -> tuple[tuple, dict]:
    """One `add_argument` call, for `command`."""
    return flags, kwargs


STORE_ARGS = [
    arg("--memory", metavar="DIR", default=None,
        help=f"note store directory (default: ${MEMORY_ENV} or ~/.memgpt/notes; '{IN_MEMORY}' for a throwaway store)"),
    arg("--session", default="default", help="notebook within the store (default: %(default)s)"),
]
MODEL_ARGS = STORE_ARGS + [
    arg("--checkpoint", metavar="DIR", default=None, help="checkpoint directory (default: the bundled model)"),
    arg("--device", default=None, help="cpu, cuda, ... (default: cuda if available, else cpu)"),
]
SAMPLING_ARGS = [
    arg("--max-new-tokens", type=int, default=256, help="most tokens to sample, notes included (default: %(default)s)"),
    arg("--temperature", type=float, default=0.7, help="0 = greedy (default: %(default)s)"),
    arg("--top-k", type=int, default=50, help="sample from the k likeliest tokens; 0 = all (default: %(default)s)"),
    arg("--seed", type=int, default=None, help="seed of the sampler"),
]


def command(name: str, help: str, *arguments: tuple[tuple, dict]):
    """Register the decorated `fn(args) -> exit code` as subcommand `name`."""
    def register(fn: Callable[[argparse.Namespace], int | None]):
        COMMANDS[name] = Command(name, help, list(arguments), fn)
        return fn
    return register


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
    return load(args.checkpoint, memory=_memory_path(args), device=args.device,
                config=EngineConfig(session=args.session))


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
            if line.strip() in ("/quit", "/exit"):
                return 0
            if line.strip() == "/reset":
                bot.reset()
                continue
            if line.strip() == "/notes":
                for n in bot.memory.list(session=args.session, limit=50):
                    print(_format_note(n))
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
NOTE_ACTIONS = ("list", "search", "delete", "delete-all", "export", "import")


@command("notes", "manage the note store: list | search QUERY | delete ID | delete-all | export PATH | import PATH",
         arg("action", choices=NOTE_ACTIONS), arg("value", nargs="?", help="QUERY, ID or PATH, as the action needs"),
         arg("-k", type=int, default=5, help="search: results to show (default: %(default)s)"),
         arg("--limit", type=int, default=100, help="list: most notes to show (default: %(default)s)"),
         arg("--offset", type=int, default=0, help="list: notes to skip (default: %(default)s)"),
         arg("--all-sessions", action="store_true", help="list/export/delete-all: every session, not just --session"),
         *STORE_ARGS)
def run_notes(args: argparse.Namespace) -> int:
    needs = {"search": "QUERY", "delete": "ID", "export": "PATH", "import": "PATH"}
    if args.action in needs and args.value is None:
        raise ValueError(f"notes {args.action} needs {needs[args.action]}")
    session = None if args.all_sessions else args.session
    with _open_store(args) as store:
        if args.action == "list":
            for n in store.list(session=session, limit=args.limit, offset=args.offset):
                print(f"#{n.id}\t{n.source}@{n.position}\t{n.text}")
        elif args.action == "search":
            for n, score in store.search(args.value, k=args.k, session=args.session):
                print(f"#{n.id}\t{score:.3f}\t{n.text}")
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
            print(f"imported {store.import_(args.value)} notes from {args.value}")
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


# ---- entry point --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memgpt", description="A small GPT that keeps its own notes.",
        epilog=f"Notes persist in --memory (default: ${MEMORY_ENV} or ~/.memgpt/notes). "
               "'memgpt COMMAND --help' shows a command's options.")
    parser.add_argument("--version", action="version", version=f"memgpt {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        for flags, kwargs in c.arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(run=c.run)
    for name, (_, help) in DELEGATES.items():
        sub.add_parser(name, help=help, add_help=False)  # listed in --help; dispatched before parsing
    return parser


def _version() -> str:
    from memgpt import __version__
    return __version__


def _is_user_error(e: BaseException) -> bool:
    """Errors that deserve one line, not a traceback: bad paths, bad input, broken checkpoints."""
    checkpoint = sys.modules.get("memgpt.checkpoint")  # imported only if a model was loaded
    if checkpoint is not None and isinstance(e, checkpoint.CheckpointError):
        return True
    return isinstance(e, (OSError, ValueError, TypeError, KeyError))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 usage or user error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATES:
        importlib.import_module(DELEGATES[argv[0]][0]).main(argv[1:])
        return 0
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as e:
        if not _is_user_error(e):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"memgpt {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
