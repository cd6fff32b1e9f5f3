"""The platform suite (tests/e2e/platform_suite.py) with the committed dev stack file."""

from tests.e2e.platform_suite import suite

STACK = "dev"
globals().update(suite(STACK))  # its `project` fixture and the tests that run on dev
