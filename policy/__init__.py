"""The platform's CrossGuard policy pack (``pulumi preview --policy-pack policy``).

:mod:`policy.rules` holds the policies as pure functions, :mod:`policy.pack` the pulumi-policy
adapters, ``__main__.py`` the entry point the engine runs. See docs/policy.md.
"""
