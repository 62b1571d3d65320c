"""API credentials page: create test/live clients with scopes, the secret shown once, rotate, revoke."""

import base64

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.urls import reverse

from core.models import AuditLogEntry
from core.scopes import SCOPES
from merchants.constants import ClientKind, MemberRole
from merchants.models import ApiClient
from merchants.tests.factories import make_client

from .helpers import make_member

pytestmark = pytest.mark.django_db

NEW_CLIENT = {"name": "Web shop backend", "mode": "test", "scopes": ["payments:read", "payments:write"]}


def token_status(client, client_id, secret):
    auth = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post("/oauth/token/", {"grant_type": "client_credentials", "scope": "payments:read"},
                       HTTP_AUTHORIZATION=auth).status_code


def create(client, **data):
    response = client.post(reverse("portal:credentials"), {**NEW_CLIENT, **data})
    return response


def test_viewer_cannot_see_credentials(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("portal:credentials")).status_code == 403
    assert create(client).status_code == 403
    assert not ApiClient.objects.exists()


def test_page_explains_every_scope_and_has_labels(owner_client):
    page = owner_client.get(reverse("portal:credentials")).content.decode()
    for name, description in SCOPES.items():
        assert name in page and description in page
    assert '<label for="id_name">Name</label>' in page
    assert '<label for="id_mode_test">' in page and '<label for="id_scope_1">' in page
    assert ">Create client</button>" in page
    assert "No API clients yet" in page


@pytest.mark.parametrize("who", ["owner", "developer"])
def test_create_a_test_client_secret_shown_once(client, request, who, merchant):
    client.force_login(request.getfixturevalue(who))
    response = create(client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    api_client = ApiClient.objects.get()
    secret = response.context["secret"]
    page = response.content.decode()
    assert secret in page and api_client.client_id in page and "shown only this once" in page
    assert (api_client.merchant, api_client.kind, api_client.livemode) == (merchant, ClientKind.SERVER, False)
    assert api_client.allowed_scopes == "payments:read payments:write"
    assert identify_hasher(api_client.client_secret)  # stored hashed
    assert secret not in api_client.client_secret
    # It works, and the secret is never shown again.
    assert token_status(client, api_client.client_id, secret) == 200
    for url in (reverse("portal:credentials"), reverse("portal:docs"),
                reverse("portal:credential_rotate", args=[api_client.public_id])):
        assert secret not in client.get(url).content.decode()
    assert secret not in str(dict(client.session.items()))
    assert AuditLogEntry.objects.filter(action="api_client.created", object_id=api_client.public_id).exists()


def test_list_shows_mode_scopes_and_last_used(owner_client, merchant):
    api_client, _ = make_client(merchant, name="Old one", scopes=["refunds:write"])
    make_client(merchant, name="Second", livemode=True)
    page = owner_client.get(reverse("portal:credentials")).content.decode()
    assert "Old one" in page and "refunds:write" in page and "never" in page and "Second" in page
    assert "badge-live" in page and "badge-test" in page
    assert api_client.client_id in page


def test_another_merchants_clients_are_invisible(owner_client, other_merchant):
    theirs, _ = make_client(other_merchant, name="Their secret backend")
    assert "Their secret backend" not in owner_client.get(reverse("portal:credentials")).content.decode()
    assert owner_client.get(reverse("portal:credential_rotate", args=[theirs.public_id])).status_code == 404
    assert owner_client.post(reverse("portal:credential_revoke", args=[theirs.public_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_no_scope_is_refused(owner_client):
    response = create(owner_client, scopes=[])
    assert response.status_code == 400 and "Choose at least one scope" in response.content.decode()
    response = create(owner_client, scopes=["payments:read", "admin:all"])
    assert response.status_code == 400
    assert not ApiClient.objects.exists()


def test_live_client_refused_while_pending(client, pending_merchant):
    client.force_login(make_member(pending_merchant, MemberRole.OWNER, email="o@pending.example"))
    page = client.get(reverse("portal:credentials")).content.decode()
    assert 'id="id_mode_live"' in page and "available once the bank has approved" in page
    response = create(client, mode="live")
    assert response.status_code == 400 and "Live mode opens once the bank has approved" in response.content.decode()
    assert not ApiClient.objects.exists()
    assert create(client, mode="test").status_code == 200  # test mode works meanwhile


def test_live_client_for_an_approved_merchant_owner_only(client, owner, developer, merchant):
    client.force_login(developer)
    response = create(client, mode="live")
    assert response.status_code == 400 and "Only owners" in response.content.decode()
    client.force_login(owner)
    response = create(client, mode="live")
    assert response.status_code == 200
    assert ApiClient.objects.get().livemode is True


def test_unverified_owner_cannot_create_live_clients(client, merchant):
    client.force_login(make_member(merchant, MemberRole.OWNER, email="new@shop.example", verified=False))
    response = create(client, mode="live")
    assert response.status_code == 400 and "Confirm your e-mail address" in response.content.decode()
    assert create(client, mode="test").status_code == 200


def test_rotate_secret(owner_client, merchant):
    api_client, old = make_client(merchant)
    page = owner_client.get(reverse("portal:credential_rotate", args=[api_client.public_id])).content.decode()
    assert ">Rotate secret</button>" in page
    assert token_status(owner_client, api_client.client_id, old) == 200  # a GET changes nothing
    response = owner_client.post(reverse("portal:credential_rotate", args=[api_client.public_id]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = response.context["secret"]
    assert new != old and new in response.content.decode()
    assert token_status(owner_client, api_client.client_id, old) == 401
    assert token_status(owner_client, api_client.client_id, new) == 200
    assert new not in owner_client.get(reverse("portal:credentials")).content.decode()


def test_developer_cannot_rotate_a_live_client_but_can_revoke_it(client, developer, merchant):
    live, _ = make_client(merchant, livemode=True)
    client.force_login(developer)
    assert client.post(reverse("portal:credential_rotate", args=[live.public_id])).status_code == 403
    assert client.post(reverse("portal:credential_revoke", args=[live.public_id])).status_code == 302
    live.refresh_from_db()
    assert live.revoked_at is not None


def test_revoke(owner_client, merchant):
    api_client, secret = make_client(merchant)
    assert owner_client.get(reverse("portal:credential_revoke", args=[api_client.public_id])).status_code == 200
    response = owner_client.post(reverse("portal:credential_revoke", args=[api_client.public_id]))
    assert response.status_code == 302
    api_client.refresh_from_db()
    assert api_client.revoked_at is not None
    assert token_status(owner_client, api_client.client_id, secret) == 401
    page = owner_client.get(reverse("portal:credentials")).content.decode()
    assert "revoked" in page
    # A revoked client cannot be given a new secret.
    assert owner_client.post(reverse("portal:credential_rotate", args=[api_client.public_id])).status_code == 403
