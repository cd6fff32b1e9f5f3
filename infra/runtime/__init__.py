"""The local runtime: Argo CD's (and Argo Rollouts') controllers as processes on this machine,
for a kwok cluster whose chart pods are fakes. :mod:`plan` is pure, :mod:`launch` starts it
(:mod:`readiness` says when it serves), :mod:`supervisor` runs it, :mod:`mirror` fills the git
mirror, :mod:`kyverno` removes Kyverno's webhooks once it stops;
:mod:`infra.components.local_runtime` is its Pulumi resource."""
