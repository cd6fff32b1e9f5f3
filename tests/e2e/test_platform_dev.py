"""The platform suite (tests/e2e/platform_suite.py) with the committed dev stack file."""

from tests.e2e.platform_suite import *  # noqa: F403 (its tests and its `project` fixture)

STACK = "dev"
