"""What a console sign-in costs, counted in password-hash operations (not timed): an unknown
user name must cost what a wrong password does, from the very first attempt after a start,
or the time of one answer tells an attacker which names are accounts."""

from __future__ import annotations

from collections import Counter

import pytest
import redis

from tests.integration.test_console import PASSWORD, Console
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters import password_hasher
from verify_service.adapters.password_hasher import Argon2PasswordHasher
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.settings import Settings


@pytest.fixture
def hash_work(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every argon2 `hash` and `verify` any staff password hasher does, counted; in a
    process where no decoy was built yet (a fresh start)."""
    monkeypatch.setattr(password_hasher, "_DECOYS", {})
    counted: Counter[str] = Counter()
    real_hash, real_verify = Argon2PasswordHasher.hash, Argon2PasswordHasher.verify

    def hash_(self: Argon2PasswordHasher, password: str) -> str:
        counted["hash"] += 1
        return real_hash(self, password)

    def verify(self: Argon2PasswordHasher, password_hash: str, password: str) -> bool:
        counted["verify"] += 1
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(Argon2PasswordHasher, "hash", hash_)
    monkeypatch.setattr(Argon2PasswordHasher, "verify", verify)
    return counted


def _fresh_console(
    settings: Settings, clock: FixedClock, sender: RecordingSender
) -> tuple[Console, Console]:
    """A freshly started app (a worker after a restart) with one user; two browsers."""
    app = create_app(settings, clock=clock, providers=sender.as_providers())
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", PASSWORD, "support")
    return Console(app.test_client()), Console(app.test_client())


def test_the_first_unknown_name_after_a_start_costs_what_a_wrong_password_does(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    hash_work: Counter[str],
) -> None:
    """The decoy hash is built at start-up: the first unknown name costs one verify, no hash."""
    unknown_browser, known_browser = _fresh_console(settings, clock, sender)

    hash_work.clear()
    assert unknown_browser.login(name="nobody", password="a guessed password").status_code == 401
    unknown_cost = dict(hash_work)

    hash_work.clear()
    assert known_browser.login(name="sam", password="a guessed password").status_code == 401
    wrong_password_cost = dict(hash_work)

    assert unknown_cost == wrong_password_cost == {"verify": 1}


def test_the_decoy_is_built_once_per_process_at_start_up(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    hash_work: Counter[str],
) -> None:
    """Starting the app hashes once (the decoy); another app in the same process, and later
    unknown names, never hash again."""
    create_app(settings, clock=clock, providers=sender.as_providers())
    assert hash_work == {"hash": 1}
    app = create_app(settings, clock=clock, providers=sender.as_providers())
    assert hash_work == {"hash": 1}
    browser = Console(app.test_client())
    for name in ("nobody", "noone", "nemo"):
        assert browser.login(name=name, password="a guessed password").status_code == 401
    assert hash_work == {"hash": 1, "verify": 3}
