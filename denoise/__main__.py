"""Allow ``python -m denoise``."""

import sys

from denoise.cli import main

sys.exit(main())
