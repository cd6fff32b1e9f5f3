"""gitops-platform: an Argo CD bootstrap as a Pulumi program.

Layout (functional core, thin shell):

- ``infra.catalog``  loads and validates ``apps/<name>/app.yaml`` (pure)
- ``infra.settings`` the typed stack settings read from ``Pulumi.<stack>.yaml`` (pure)
- ``infra.specs``    builds every Kubernetes / Argo CD object as a plain dict (pure)
- ``infra.components`` Pulumi ComponentResources that only wrap those dicts in resources
- ``infra.program``  the Pulumi entry point wiring settings -> components
- ``infra.cli``      ``platformctl``: calls the same pure functions as the program
"""
