"""`pulumi up` runs this file (Pulumi.yaml: `main: stacks/`)."""

import sys
from pathlib import Path

# Pulumi runs this directory as a script; make the project root importable for `stacks.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stacks.program import main

main()
