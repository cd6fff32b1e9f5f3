"""Delivery: the handoff from an app's CI to this repository, and promotion between environments.

* :mod:`infra.delivery.bump`: set one app's image tag for one environment as one commit on the
  environment's branch (``platformctl bump``), pushing with fetch/rebase/retry;
* :mod:`infra.delivery.promote`: propose the tag dev runs for prod on a promotion branch
  (``platformctl promote``);
* :mod:`infra.delivery.appdiff`: the Argo CD Applications a pull request adds, changes or removes
  (``platformctl app-diff``).

Walkthrough, exit codes and workflows: ``docs/delivery.md``.
"""
