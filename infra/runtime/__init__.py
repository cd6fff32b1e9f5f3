"""The local runtime: Argo CD's (and Argo Rollouts') controllers as processes on this machine,
for a kwok cluster whose chart pods are fakes. :mod:`plan` is pure, :mod:`supervisor` runs it,
:mod:`infra.components.local_runtime` is its Pulumi resource."""
