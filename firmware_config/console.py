"""The manager console's settings (`console:` in the site YAML): where it listens and who may
log in. Passwords are stored only as salted scrypt hashes made by `hall console --hash-password`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

PASSWORD_HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class ManagerAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(
        pattern=r"^[a-z0-9_-]{1,32}$",
        description="What the manager types to log in; logged with every action they take.",
    )
    name: str = Field(min_length=1, max_length=20, description="Shown on the console.")
    password_hash: str = Field(
        pattern=PASSWORD_HASH_PATTERN,
        description="`scrypt$N$r$p$salt$hash`, from `hall console --hash-password`.",
    )


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen: str = Field(
        default="127.0.0.1",
        description="Address the web console listens on; the hall LAN's address to reach it "
        "from the floor's tablets.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="HTTP port.")
    managers: list[ManagerAccount] = Field(
        default_factory=list, description="Duty managers who may log in (值班长)."
    )
    session_idle_min: float = Field(
        default=480, gt=0, le=1440, description="A session unused this long ends."
    )
    max_failed_logins: int = Field(
        default=5, ge=1, le=50,
        description="Wrong passwords in a row before the login is locked for a while; each "
        "further failure doubles the lock (30 s, 60 s, … at most 15 min).",
    )

    @model_validator(mode="after")
    def _distinct_logins(self) -> ConsoleConfig:
        logins = [m.login for m in self.managers]
        for login in logins:
            if logins.count(login) > 1:
                raise ValueError(f"managers: login {login!r} listed twice")
        return self
