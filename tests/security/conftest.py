"""The security regression suite: one test (or more) per finding of the security review
(issue 12), each failing on the code before its fix. The end-to-end fixtures are shared."""

from tests.e2e.conftest import Declared, declared, general

__all__ = ["Declared", "declared", "general"]
