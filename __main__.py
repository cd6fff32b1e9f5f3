"""The Pulumi program's entry point: the engine runs this folder (Pulumi.yaml sets no ``main``,
so the program is the project root, as ``pulumi new`` lays it out). Everything is in
:mod:`infra.program`.

At the root because the dynamic-provider launcher the Pulumi CLI ships resolves a relative
``virtualenv`` against the program folder, while the language host resolves it against the
project root (pulumi/pulumi#7061): with both the same folder, ``virtualenv: .venv`` means one
thing to both, and the project works with the Pulumi CLI users install.
"""

from infra.program import main

main()
