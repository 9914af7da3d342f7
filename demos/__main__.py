"""`python -m memgpt.demos [--host ...]`: the Gradio demo (same as `memgpt demo`)."""
import sys

from memgpt.demos.app import main

sys.exit(main())
