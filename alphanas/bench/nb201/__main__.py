"""``python -m alphanas.bench.nb201``: the NAS-Bench-201 benchmark script."""

import sys

from alphanas.bench.nb201.script import main

sys.exit(main())
