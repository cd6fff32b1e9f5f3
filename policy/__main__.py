"""Entry point of the policy pack: the engine runs ``python -m pulumi.policy ENGINE <this dir>``
(through the language host's RunPlugin), which executes this file.

The pack's modules are imported as the ``policy`` package, as the unit tests import them, so
the directory above the pack goes first on ``sys.path``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.pack import serve

serve()
