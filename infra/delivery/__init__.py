"""Delivery: the handoff from an app's CI to this repository, and promotion between environments.

* :mod:`infra.delivery.bump`: set one app's image tag for one environment as one commit on the
  environment's branch (``platformctl bump``), pushing with fetch/rebase/retry;
* :mod:`infra.delivery.promote`: propose the tag dev runs for prod on a promotion branch
  (``platformctl promote``);
* :mod:`infra.delivery.appdiff`: the Argo CD Applications a pull request adds, changes or removes
  (``platformctl app-diff``).
* :mod:`infra.delivery.plan_request`: what merging a pull request changes in each stack
  (``platformctl plan``);
* :mod:`infra.delivery.validate` and :mod:`infra.delivery.generated`: every problem of the stacks
  and their catalogs (``platformctl validate``), and the generated Rollout manifests
  (``platformctl generate``).

Walkthrough, exit codes and workflows: ``docs/delivery.md``.
"""
