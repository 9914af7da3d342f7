"""`python -m memgpt.demos [--host ...]`: the Gradio demo (same as `memgpt demo`)."""
import sys

from memgpt.cli import run_command

sys.exit(run_command("demo"))
