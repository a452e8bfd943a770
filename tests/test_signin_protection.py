"""Failed sign-ins slow guessing down without letting anyone lock a real user out
(platform_core/signin_protection.py): per (username, address), per address across
usernames, and per username across addresses for browsers it has never seen."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client

from platform_core.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.7"


def sign_in(client: Client, username: str, password: str = PASSWORD, path: str = "/accounts/login/"):
    return client.post(path, {"username": username, "password": password})


def signed_in(response) -> bool:
    return response.status_code == 302 and "/login/" not in response["Location"]


def refusal(response) -> tuple[str, int]:
    """(reason, Retry-After seconds) of a lockout page."""
    assert response.status_code == 429, response.status_code
    page = response.content.decode()
    reason = page.split('data-reason="')[1].split('"')[0]
    assert int(response["Retry-After"]) == int(page.split('data-retry-after="')[1].split('"')[0])
    return reason, int(response["Retry-After"])


def let_time_pass(delta: timedelta) -> None:
    """Age every failure and sign-in record, as if ``delta`` had passed since it was written."""
    for model, field in ((AccessAttempt, "attempt_time"), (AccessFailureLog, "attempt_time"), (User, "last_login")):
        for pk, moment in model.objects.exclude(**{field: None}).values_list("pk", field):
            model.objects.filter(pk=pk).update(**{field: moment - delta})


def guess_from_a_botnet(username: str, failures: int) -> None:
    """Wrong passwords, each from a new address, until ``failures`` are on record;
    like a patient botnet, it waits out every refusal."""
    number = 0
    while AccessFailureLog.objects.filter(username=username).count() < failures:
        number += 1
        response = sign_in(Client(REMOTE_ADDR=f"10.{number // 250}.{number % 250}.1"), username, "guess")
        recorded = AccessFailureLog.objects.filter(username=username).count()
        if response.status_code == 429 and recorded < failures:
            let_time_pass(timedelta(seconds=int(response["Retry-After"])))


def test_it_refuses_only_the_guessing_address_and_the_admin_still_signs_in_elsewhere(personas, settings):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT + 3):
        sign_in(attacker, "ada", "guess")

    reason, retry_after = refusal(sign_in(attacker, "ada"))
    admin = Client(REMOTE_ADDR=OFFICE)

    assert reason == "account_from_address"
    assert retry_after == settings.AXES_COOLOFF_TIME.total_seconds()
    assert signed_in(sign_in(admin, "ada"))


def test_it_refuses_an_address_that_tries_many_usernames_and_says_for_how_long(personas, settings):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for number in range(settings.LOGIN_IP_FAILURE_LIMIT - 1):
        assert sign_in(attacker, f"user{number}", "guess").status_code == 200  # the form again, with its error

    last = sign_in(attacker, "someone-else", "guess")
    with_the_right_password = sign_in(attacker, "olivia")

    reason, retry_after = refusal(last)
    assert reason == "address"
    assert refusal(with_the_right_password) == ("address", retry_after)
    assert retry_after == settings.AXES_COOLOFF_TIME.total_seconds()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert "from your address, across accounts" in last.content.decode()
    assert f"Try again in {minutes} minutes" in last.content.decode()
    assert signed_in(sign_in(Client(REMOTE_ADDR=OFFICE), "olivia"))


def test_it_answers_non_browser_clients_with_the_api_error_shape(personas, settings):
    attacker = Client(REMOTE_ADDR=ATTACKER, HTTP_ACCEPT="application/json")
    for number in range(settings.LOGIN_IP_FAILURE_LIMIT):
        sign_in(attacker, f"user{number}", "guess")

    response = sign_in(attacker, "olivia")

    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("locked_out", "address")
    assert error["details"]["retry_after"] == int(response["Retry-After"]) > 0


def test_it_lets_a_browser_that_signed_in_before_through_an_address_lockout(personas, settings):
    colleague = Client(REMOTE_ADDR=OFFICE)
    assert signed_in(sign_in(colleague, "olivia"))
    colleague.post("/accounts/logout/")
    sprayer = Client(REMOTE_ADDR=OFFICE)  # same office address, another machine
    for number in range(settings.LOGIN_IP_FAILURE_LIMIT):
        sign_in(sprayer, f"user{number}", "guess")

    assert refusal(sign_in(sprayer, "olivia"))[0] == "address"
    assert signed_in(sign_in(colleague, "olivia"))
    colleague.post("/accounts/logout/")
    # The cookie lifts the refusal for its own account only.
    assert refusal(sign_in(colleague, "eddie"))[0] == "address"


def test_it_slows_a_username_guessed_from_many_addresses_for_strangers_only(personas, settings):
    regular_browser = Client(REMOTE_ADDR=OFFICE)
    assert signed_in(sign_in(regular_browser, "ada"))
    regular_browser.post("/accounts/logout/")
    guess_from_a_botnet("ada", 2 * settings.AXES_FAILURE_LIMIT + 3)

    stranger = Client(REMOTE_ADDR="192.0.2.200")
    reason, retry_after = refusal(sign_in(stranger, "ada"))

    assert reason == "account"
    assert retry_after == 2**3  # 1 s doubled for each failure past the threshold
    assert signed_in(sign_in(regular_browser, "ada"))
    # Not a lockout: once the delay since the last failure has passed, the right password gets in.
    let_time_pass(timedelta(seconds=retry_after))
    assert signed_in(sign_in(stranger, "ada"))


def test_it_caps_the_per_username_delay_at_the_lockout_window(personas, settings):
    guess_from_a_botnet("ada", 2 * settings.AXES_FAILURE_LIMIT + 30)

    _, retry_after = refusal(sign_in(Client(REMOTE_ADDR="192.0.2.250"), "ada"))

    assert retry_after == settings.AXES_COOLOFF_TIME.total_seconds()


def test_it_ends_a_lockout_when_the_window_has_passed_even_if_refused_attempts_continue(personas, settings):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, "olivia", "guess")
    let_time_pass(settings.AXES_COOLOFF_TIME / 2)
    for _ in range(5):
        refusal(sign_in(attacker, "olivia", "guess"))  # refused attempts do not push the end back

    _, retry_after = refusal(sign_in(attacker, "olivia"))
    let_time_pass(settings.AXES_COOLOFF_TIME / 2)

    assert retry_after == settings.AXES_COOLOFF_TIME.total_seconds() / 2
    assert signed_in(sign_in(attacker, "olivia"))


def test_it_forgets_a_users_own_typos_after_they_sign_in(personas, settings):
    client = Client(REMOTE_ADDR=OFFICE)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "olivia", "typo")
    assert signed_in(sign_in(client, "olivia"))
    client.post("/accounts/logout/")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "olivia", "typo")

    assert signed_in(sign_in(client, "olivia"))


def test_it_keeps_an_address_count_when_the_guesser_signs_in_to_their_own_account(personas, settings):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for number in range(settings.LOGIN_IP_FAILURE_LIMIT - 1):
        sign_in(attacker, f"user{number}", "guess")
    assert signed_in(sign_in(attacker, "oscar"))  # their own, valid account
    attacker.post("/accounts/logout/")

    assert refusal(sign_in(attacker, "user-next", "guess"))[0] == "address"


def test_it_applies_the_same_rules_to_the_admin_sign_in(personas, settings):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for number in range(settings.LOGIN_IP_FAILURE_LIMIT):
        sign_in(attacker, f"user{number}", "guess", path="/admin/login/")

    assert refusal(sign_in(attacker, "ada", path="/admin/login/"))[0] == "address"
    assert refusal(sign_in(attacker, "ada"))[0] == "address"
    assert signed_in(sign_in(Client(REMOTE_ADDR=OFFICE), "ada", path="/admin/login/"))


def test_it_counts_wrong_current_passwords_on_the_password_change_page(personas, settings):
    thief = Client(REMOTE_ADDR=ATTACKER)
    thief.force_login(personas.owner)  # a stolen session, not the password
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = thief.post(
            "/accounts/password/",
            {"old_password": "guess", "new_password1": "taken-over-9x!", "new_password2": "taken-over-9x!"},
        )

    refused = thief.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "taken-over-9x!", "new_password2": "taken-over-9x!"},
    )

    assert refusal(response)[0] == "account_from_address"
    assert refusal(refused)[0] == "account_from_address"
    personas.owner.refresh_from_db()
    assert personas.owner.check_password(PASSWORD)
