"""Manager accounts: scrypt hashes, sessions that end when idle, lockout that doubles."""

from __future__ import annotations

import pytest

from daemons.console.auth import Accounts, LoginRefused, check_password, hash_password
from firmware_config.console import ConsoleConfig, ManagerAccount

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _accounts(clock: Clock) -> Accounts:
    account = ManagerAccount(login="duty1", name="王值班", password_hash=hash_password("s3cret-pw"))
    return Accounts(ConsoleConfig(managers=[account], max_failed_logins=2, session_idle_min=10),
                    clock)


def test_hash_is_salted_and_checks_only_the_right_password() -> None:
    first, second = hash_password("s3cret-pw"), hash_password("s3cret-pw")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert check_password("s3cret-pw", first) and check_password("s3cret-pw", second)
    assert not check_password("s3cret-pW", first)
    assert not check_password("s3cret-pw", "scrypt$bad")
    ManagerAccount(login="a", name="b", password_hash=first)  # the config accepts the format


def test_lockout_doubles_and_a_success_resets_it() -> None:
    clock = Clock()
    accounts = _accounts(clock)
    for _ in range(2):
        with pytest.raises(LoginRefused) as refused:
            accounts.log_in("duty1", "guess", "10.0.0.9")
        assert refused.value.retry_after_s == 0
    with pytest.raises(LoginRefused) as locked:
        accounts.log_in("duty1", "s3cret-pw", "10.0.0.7")  # locked from any address
    assert locked.value.retry_after_s == pytest.approx(30)
    clock.now += 31
    with pytest.raises(LoginRefused):
        accounts.log_in("duty1", "guess", "10.0.0.7")
    with pytest.raises(LoginRefused) as longer:
        accounts.log_in("duty1", "s3cret-pw", "10.0.0.7")
    assert longer.value.retry_after_s == pytest.approx(60)
    clock.now += 61
    session = accounts.log_in("duty1", "s3cret-pw", "10.0.0.7")
    assert session.login == "duty1" and session.csrf and session.token != session.csrf
    # An unknown login counts against the address too, and is refused the same way.
    with pytest.raises(LoginRefused, match="用户名或密码错误"):
        accounts.log_in("nobody", "s3cret-pw", "10.0.0.5")


def test_session_ends_after_idle_time_and_on_logout() -> None:
    clock = Clock()
    accounts = _accounts(clock)
    session = accounts.log_in("duty1", "s3cret-pw", "10.0.0.7")
    clock.now += 9 * 60
    assert accounts.session(session.token) is session
    clock.now += 10 * 60 + 1
    assert accounts.session(session.token) is None
    again = accounts.log_in("duty1", "s3cret-pw", "10.0.0.7")
    accounts.log_out(again.token)
    assert accounts.session(again.token) is None
    assert accounts.session(None) is None


def test_hash_password_command_reads_stdin_and_refuses_short_passwords() -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "operations.cli", "console", "--hash-password"]
    made = subprocess.run(command, input="long enough pw\n", capture_output=True, text=True,
                          timeout=60, check=True)
    stored = made.stdout.strip()
    assert check_password("long enough pw", stored)
    ManagerAccount(login="x", name="y", password_hash=stored)
    short = subprocess.run(command, input="short\n", capture_output=True, text=True, timeout=60)
    assert short.returncode == 1 and "至少8位" in short.stderr and short.stdout == ""
