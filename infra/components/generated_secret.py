"""GeneratedSecret: a random secret created once, kept in (encrypted) state, rotated on demand.

Plays the role of ``pulumi_random.RandomPassword`` (whose provider cannot be built here: the
module proxy does not serve it) as a Pulumi dynamic resource:

- the value is generated in ``create`` and stored in state, so it is stable across previews;
- with ``bcrypt=True`` the bcrypt hash is computed once at the same time (a hash computed in the
  program would differ on every run: random salt, perpetual diff);
- ``created_at`` (RFC 3339) is fixed with the value: Argo CD's ``admin.passwordMtime``;
- changing ``rotation`` replaces the resource: a new value, hash and timestamp;
- ``value`` and ``bcrypt_hash`` are secret outputs.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any, TypedDict

import bcrypt
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

__all__ = ["GeneratedSecret", "GeneratedSecretArgs", "generate"]

_ALPHABET = string.ascii_letters + string.digits


def generate(length: int, with_hash: bool) -> dict[str, Any]:
    """Pure-ish core: a new value (and hash) plus the time it was made."""
    value = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: dict[str, Any] = {"value": value, "created_at": created, "bcrypt_hash": ""}
    if with_hash:
        out["bcrypt_hash"] = bcrypt.hashpw(value.encode(), bcrypt.gensalt(rounds=10)).decode()
    return out


class _Provider(ResourceProvider):
    _REPLACE_ON = ("length", "bcrypt", "rotation")

    def create(self, props: dict[str, Any]) -> CreateResult:
        generated = generate(int(props["length"]), bool(props["bcrypt"]))
        return CreateResult(id_=secrets.token_hex(8), outs={**props, **generated})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in self._REPLACE_ON if str(olds.get(k)) != str(news.get(k))]
        return DiffResult(
            changes=bool(replaces),
            replaces=replaces,
            delete_before_replace=False,
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Nothing outside the state to compare with: the state is the truth.
        return ReadResult(id_=id_, outs=props)


class GeneratedSecretArgs(TypedDict):
    length: int
    """Number of characters (letters and digits)."""
    bcrypt: bool
    """Also compute and keep a bcrypt hash of the value."""
    rotation: str
    """Any string; changing it generates a new value."""


class GeneratedSecret(Resource):
    """A generated secret value; see the module docstring."""

    value: pulumi.Output[str]
    bcrypt_hash: pulumi.Output[str]
    created_at: pulumi.Output[str]

    def __init__(
        self, name: str, args: GeneratedSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["value", "bcrypt_hash"])
        )
        super().__init__(
            _Provider(),
            name,
            {**args, "value": None, "bcrypt_hash": None, "created_at": None},
            opts,
        )
