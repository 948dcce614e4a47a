"""``python -m gan_nas_env.cli``: the ``gan-nas`` command."""

import sys

from gan_nas_env.cli.app import main

sys.exit(main())
