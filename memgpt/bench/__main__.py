"""`python -m memgpt.bench ...` = `memgpt bench ...`."""
import sys

from memgpt.bench.runner import main

sys.exit(main())
