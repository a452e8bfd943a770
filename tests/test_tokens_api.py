from datetime import timedelta

import pytest
from django.utils import timezone

from platform_core.models import ApiToken

pytestmark = pytest.mark.django_db


def bearer(client, token):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_it_shows_the_plaintext_once_and_stores_only_a_hash(api, personas):
    client = api.as_user(personas.editor)

    created = client.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": 7}, format="json")
    listed = client.get("/api/v1/tokens/")

    assert created.status_code == 201
    plaintext = created.json()["token"]
    assert plaintext.startswith("dvb_")
    row = ApiToken.objects.get()
    assert plaintext not in (row.token_hash, row.prefix)
    assert "token" not in listed.json()["results"][0]
    assert listed.json()["results"][0]["prefix"] == plaintext[:12]


def test_it_authenticates_scripts_with_a_bearer_token(api, personas):
    created = api.as_user(personas.editor).post("/api/v1/tokens/", {"name": "cli"}, format="json").json()
    script = api.as_user(None)

    me = bearer(script, created["token"]).get("/api/v1/me/")

    assert me.status_code == 200
    assert me.json()["username"] == personas.editor.username
    assert ApiToken.objects.get().last_used_at is not None


def test_it_refuses_revoked_expired_and_unknown_tokens(api, personas):
    client = api.as_user(personas.editor)
    revoked = client.post("/api/v1/tokens/", {"name": "old"}, format="json").json()
    expired = client.post("/api/v1/tokens/", {"name": "short"}, format="json").json()
    client.delete(f"/api/v1/tokens/{revoked['id']}/")
    ApiToken.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    for token in (revoked["token"], expired["token"], "dvb_not-a-token"):
        response = bearer(api.as_user(None), token).get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_it_keeps_revoked_tokens_listed_as_revoked(api, personas):
    client = api.as_user(personas.editor)
    token = client.post("/api/v1/tokens/", {"name": "t"}, format="json").json()

    assert client.delete(f"/api/v1/tokens/{token['id']}/").status_code == 204

    row = client.get("/api/v1/tokens/").json()["results"][0]
    assert row["revoked_at"] is not None
    assert row["is_active"] is False


def test_it_does_not_let_users_see_or_revoke_each_others_tokens(api, personas):
    token = api.as_user(personas.editor).post("/api/v1/tokens/", {"name": "mine"}, format="json").json()

    other = api.as_user(personas.viewer)

    assert other.get(f"/api/v1/tokens/{token['id']}/").status_code == 404
    assert other.delete(f"/api/v1/tokens/{token['id']}/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None


def test_it_validates_expiry(api, personas):
    response = api.as_user(personas.editor).post("/api/v1/tokens/", {"name": "x", "expires_in_days": 0}, format="json")

    assert response.status_code == 400
    assert "expires_in_days" in response.json()["error"]["details"]
