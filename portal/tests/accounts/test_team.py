"""Team page: roles, invitations (single use, expiry, revocation, existing log-ins), role changes, removal."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken

from core.models import AuditLogEntry
from merchants.account_models import MerchantInvitation
from merchants.constants import ClientKind, MemberRole
from merchants.models import MerchantMember
from merchants.tests.factories import MerchantFactory, issue_token, make_client

from .helpers import PASSWORD, last_link, make_member, path_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(owner_client, django_capture_on_commit_callbacks):
    def invite(email="new.person@shop.example", role=MemberRole.VIEWER, client=owner_client):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("portal:team"), {"email": email, "role": role})
        assert response.status_code == 302, response.content.decode()
        return path_of(last_link("/portal/invitations/"))
    return invite


@pytest.mark.parametrize("who", ["developer", "viewer"])
def test_only_owners_manage_the_team(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("portal:team")).status_code == 403
    assert client.post(reverse("portal:team"), {"email": "x@shop.example", "role": "owner"}).status_code == 403
    assert not MerchantInvitation.objects.exists()


def test_team_page_lists_members_and_has_a_labelled_invite_form(owner_client, owner, viewer):
    page = owner_client.get(reverse("portal:team")).content.decode()
    assert owner.email in page and viewer.email in page
    assert '<label for="id_email">E-mail address</label>' in page and '<label for="id_role">Role</label>' in page
    assert ">Send invitation</button>" in page
    assert "No pending invitations." in page


def test_invite_a_new_person_who_accepts(client, invite, merchant):
    link = invite("New.Person@shop.example", MemberRole.DEVELOPER)
    assert mail.outbox[-1].to == ["new.person@shop.example"]
    invitation = MerchantInvitation.objects.get()
    assert invitation.token_hash not in mail.outbox[-1].body  # only the hash is stored, the token only mailed
    assert invitation.token_hash not in link
    page = client.get(reverse("portal:team")).content.decode()
    assert "new.person@shop.example" in page  # pending invitation listed

    client.post(reverse("portal:logout"))
    page = client.get(link).content.decode()
    assert merchant.name in page and "developer" in page
    assert '<label for="id_password1">Password</label>' in page and ">Accept invitation</button>" in page
    response = client.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    member = MerchantMember.objects.get(user__email="new.person@shop.example")
    assert (member.merchant, member.role, member.email_verified) == (merchant, MemberRole.DEVELOPER, True)
    assert client.get(reverse("portal:dashboard")).status_code == 200  # logged in
    # Single use.
    client.post(reverse("portal:logout"))
    response = client.get(link)
    assert response.status_code == 410 and "already used" in response.content.decode()
    assert client.post(link, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 410


def test_expired_invitation_is_refused(client, invite):
    link = invite()
    MerchantInvitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.post(reverse("portal:logout"))
    response = client.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert not get_user_model().objects.filter(email="new.person@shop.example").exists()


def test_revoked_and_replaced_invitations_stop_working(owner_client, invite):
    first = invite()
    second = invite()  # the same address again: the first link is revoked
    assert owner_client.get(first).status_code == 410
    invitation = MerchantInvitation.objects.get(revoked_at__isnull=True)
    response = owner_client.post(reverse("portal:invitation_revoke", args=[invitation.pk]))
    assert response.status_code == 302
    assert owner_client.get(second).status_code == 410
    assert owner_client.get("/portal/invitations/not-a-token/").status_code == 404


def test_bad_invitation_password_creates_nothing(client, invite):
    link = invite()
    client.post(reverse("portal:logout"))
    response = client.post(link, {"password1": "short", "password2": "short"})
    assert response.status_code == 400 and "too short" in response.content.decode()
    assert not get_user_model().objects.filter(email="new.person@shop.example").exists()
    assert MerchantInvitation.objects.get().accepted_at is None


def test_invite_an_existing_log_in_without_a_merchant(client, invite, merchant):
    loner = get_user_model().objects.create_user("loner", "loner@shop.example", PASSWORD)
    link = invite("loner@shop.example", MemberRole.VIEWER)
    client.post(reverse("portal:logout"))
    page = client.get(link).content.decode()
    assert "already exists" in page and "Log in</a> to accept" in page
    assert client.post(link, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 400
    client.force_login(loner)
    response = client.post(link)
    assert response.status_code == 302
    assert MerchantMember.objects.get(user=loner).merchant == merchant


def test_invite_someone_who_works_for_another_merchant(client, invite):
    elsewhere = make_member(MerchantFactory(name="Elsewhere"), email="busy@shop.example")
    link = invite("busy@shop.example")
    client.force_login(elsewhere)
    page = client.get(link).content.decode()
    assert "already works for Elsewhere" in page
    response = client.post(link)
    assert response.status_code == 400 and "one merchant only" in response.content.decode()
    assert MerchantInvitation.objects.get().accepted_at is None


def test_invitation_opened_by_another_account(client, invite, merchant):
    link = invite("someone@shop.example")
    other = get_user_model().objects.create_user("other", "other@shop.example", PASSWORD)
    client.force_login(other)
    assert "Log out, then open the link again" in client.get(link).content.decode()
    response = client.post(link)
    assert response.status_code == 400
    assert not MerchantMember.objects.filter(user=other).exists()


def test_invite_refusals_change_nothing(owner_client, viewer):
    for data, message in [({"email": viewer.email, "role": "viewer"}, "already in your team"),
                          ({"email": "nope", "role": "viewer"}, "valid email"),
                          ({"email": "a@shop.example", "role": "admin"}, "Select a valid choice")]:
        response = owner_client.post(reverse("portal:team"), data)
        assert response.status_code == 400 and message in response.content.decode(), message
    assert not MerchantInvitation.objects.exists()
    assert not mail.outbox


def test_unverified_owner_cannot_invite(client, merchant):
    client.force_login(make_member(merchant, email="fresh@shop.example", verified=False))
    response = client.post(reverse("portal:team"), {"email": "a@shop.example", "role": "viewer"})
    assert response.status_code == 400 and "Confirm your own e-mail" in response.content.decode()
    assert not MerchantInvitation.objects.exists()


def test_change_role(owner_client, viewer):
    member = MerchantMember.objects.get(user=viewer)
    response = owner_client.post(reverse("portal:member_role", args=[member.pk]), {"role": "developer"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == MemberRole.DEVELOPER
    entry = AuditLogEntry.objects.get(action="member.role_changed")
    assert entry.actor.startswith("portal:") and entry.data["role"] == "developer"
    owner_client.post(reverse("portal:member_role", args=[member.pk]), {"role": "boss"})
    member.refresh_from_db()
    assert member.role == MemberRole.DEVELOPER


def test_the_last_owner_stays(owner_client, owner, merchant):
    me = MerchantMember.objects.get(user=owner)
    response = owner_client.post(reverse("portal:member_role", args=[me.pk]), {"role": "viewer"}, follow=True)
    assert "at least one owner" in response.content.decode()
    response = owner_client.post(reverse("portal:member_remove", args=[me.pk]), follow=True)
    assert "at least one owner" in response.content.decode()
    me.refresh_from_db()
    assert me.role == MemberRole.OWNER
    # With a second owner, the first may step down.
    make_member(merchant, MemberRole.OWNER, email="second@shop.example")
    owner_client.post(reverse("portal:member_role", args=[me.pk]), {"role": "viewer"})
    me.refresh_from_db()
    assert me.role == MemberRole.VIEWER
    assert owner_client.get(reverse("portal:team")).status_code == 403  # a viewer now


def test_remove_member_also_removes_the_tokens_they_gave_apps(owner_client, viewer, merchant, other_merchant):
    app, _ = make_client(other_merchant, kind=ClientKind.CONNECT, redirect_uris="https://app.example/cb")
    issue_token(merchant, client=app, user=viewer, scopes=["payments:read"])
    member = MerchantMember.objects.get(user=viewer)
    page = owner_client.get(reverse("portal:member_remove", args=[member.pk])).content.decode()
    assert ">Remove member</button>" in page
    response = owner_client.post(reverse("portal:member_remove", args=[member.pk]))
    assert response.status_code == 302
    assert not MerchantMember.objects.filter(user=viewer).exists()
    assert not AccessToken.objects.filter(user=viewer).exists()
    assert get_user_model().objects.filter(pk=viewer.pk).exists()  # the log-in remains


def test_cannot_touch_another_merchants_members(owner_client, other_merchant):
    stranger = make_member(other_merchant, MemberRole.VIEWER, email="stranger@shop.example")
    member = MerchantMember.objects.get(user=stranger)
    assert owner_client.get(reverse("portal:member_remove", args=[member.pk])).status_code == 404
    owner_client.post(reverse("portal:member_role", args=[member.pk]), {"role": "owner"})
    assert owner_client.post(reverse("portal:member_remove", args=[member.pk])).status_code == 404
    member.refresh_from_db()
    assert member.role == MemberRole.VIEWER
