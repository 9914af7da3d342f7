"""`python -m memgpt.bench ...` = `memgpt bench ...`."""
import sys

from memgpt.cli import run_command

sys.exit(run_command("bench"))
