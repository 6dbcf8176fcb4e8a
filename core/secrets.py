"""Credentials: references in the catalog (`{env: NAME}`, `{block: "secret/NAME"}`), values at run time."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from moisson.core import redact
from moisson.core.errors import ConfigError


class SecretRef(BaseModel):
    """Where a credential lives: `{env: NAME}` or `{block: "secret/NAME"}` (a Prefect Secret block).

    The catalog holds only these references; the task layer replaces them by the value
    (as a `SecretStr`, masked in every repr) before the connector sees its config.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    block: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SecretRef:
        if (self.env is None) == (self.block is None):
            raise ValueError('écrivez un secret sous la forme {env: NOM} ou {block: "secret/NOM"}, une seule des deux')
        if self.block is not None and not self.block.startswith("secret/"):
            raise ValueError(f'la référence de bloc {self.block!r} doit avoir la forme "secret/<nom du bloc>"')
        return self

    def __str__(self) -> str:
        return f"env:{self.env}" if self.env else f"block:{self.block}"


#: Type of a config field holding a credential: a reference in the catalog, a value at run time.
Secret = SecretStr | SecretRef


def reveal(value: Secret, *, what: str) -> str:
    """Return a resolved credential's value, remembered so that no message of the run can show it.

    Raises:
        ConfigError: The reference was not resolved (a connector used outside moisson's tasks).
    """
    if isinstance(value, SecretRef):
        raise ConfigError(f"{what} est encore la référence {value} : résolvez-la avant usage "
                          "(les tâches de moisson le font ; dans un script, appelez tasks.secrets.resolve_secrets)")
    secret = value.get_secret_value()
    redact.remember(secret)
    return secret
