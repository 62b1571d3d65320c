"""Every write about the people of a merchant (portal accounts, issue #7).

Self-service sign-up, e-mail verification, team invitations and roles, removing members, TOTP
two-factor devices, and revoking the third-party apps a merchant's people authorized. Like
services.py: keyword-only, atomic, raising core.errors.ApplicationError subclasses with a clear
message and changing nothing on bad input. E-mails go out only after the transaction commits.

Links in e-mails point into the portal, which merchants must not import: the caller passes
`link_for(token) -> absolute URL`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from core.errors import NotFound, StateError, ValidationError

from . import services
from .account_models import MerchantInvitation
from .constants import ClientKind, MemberRole, MerchantStatus
from .models import ApiClient, Merchant, MerchantMember

EMAIL_VERIFY_SALT = "merchants.accounts.email_verify"
MAX_OPEN_INVITATIONS = 50
TOTP_DEVICE_NAME = "Authenticator app"

LinkFor = Callable[[str], str]


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationError("Enter a valid e-mail address.", param="email", code="email_invalid")
    if len(email) > 150:  # it is also the log-in name (User.username holds 150 characters)
        raise ValidationError("This e-mail address is too long (150 characters at most).", param="email",
                              code="email_invalid")
    return email


def _email_taken(email: str) -> bool:
    return get_user_model().objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists()


def _check_password(password: str, user) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError(" ".join(exc.messages), param="password", code="password_invalid")


def _mail_on_commit(subject: str, body: str, to: str) -> None:
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False), robust=True)


# --- Sign-up and e-mail verification ----------------------------------------------------------------


@transaction.atomic
def merchant_sign_up(*, business_name: str, email: str, password: str, country: str = "DE",
                     default_currency: str = "EUR") -> MerchantMember:
    """A new merchant in `pending` review and its owner, whose e-mail is not verified yet.

    The owner logs in with the e-mail address (also the username). Send the verification link with
    `email_verification_send` afterwards.
    """
    email = normalize_email(email)
    if _email_taken(email):
        raise ValidationError("An account with this e-mail address already exists. Log in, or reset the password.",
                              param="email", code="email_taken")
    User = get_user_model()
    user = User(username=email, email=email)
    _check_password(password, user)
    user.set_password(password)
    merchant = services.merchant_create(name=business_name, country=country, default_currency=default_currency,
                                        support_email=email)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address signed up at the same moment
        raise ValidationError("An account with this e-mail address already exists.", param="email",
                              code="email_taken")
    return services.member_add(merchant=merchant, user=user, role=MemberRole.OWNER, email_verified=False)


def email_verification_token(*, user) -> str:
    """A signed, timestamped token naming the user and the address it was sent to."""
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=EMAIL_VERIFY_SALT, compress=True)


def email_verification_send(*, user, link_for: LinkFor) -> None:
    days = settings.PORTAL_EMAIL_VERIFY_DAYS
    link = link_for(email_verification_token(user=user))
    body = (f"Welcome to Bank Payments.\n\nConfirm your e-mail address by opening this link "
            f"(valid for {days} days):\n\n{link}\n\nIf you did not sign up, ignore this message.\n")
    _mail_on_commit("Confirm your e-mail address", body, user.email)


@transaction.atomic
def email_verify(*, token: str) -> MerchantMember:
    """Mark the member's e-mail verified. Using the link again changes nothing."""
    try:
        data = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=timedelta(days=settings.PORTAL_EMAIL_VERIFY_DAYS))
    except signing.SignatureExpired:
        raise ValidationError("This confirmation link has expired. Log in and send a new one.", code="token_expired")
    except signing.BadSignature:
        raise ValidationError("This confirmation link is not valid.", code="token_invalid")
    member = (MerchantMember.objects.select_for_update().select_related("user", "merchant")
              .filter(user_id=data.get("u")).first())
    if member is None or member.user.email.lower() != data.get("e"):
        raise ValidationError("This confirmation link is not valid any more.", code="token_invalid")
    if member.email_verified_at is None:
        member.email_verified_at = timezone.now()
        member.save(update_fields=["email_verified_at"])
    return member


# --- Team: invitations, roles, removal ---------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _inviter(*, merchant: Merchant, invited_by) -> MerchantMember:
    member = MerchantMember.objects.filter(user=invited_by, merchant=merchant).first()
    if member is None or member.role != MemberRole.OWNER:
        raise StateError("Only an owner of this merchant can invite people.", code="not_owner")
    if not member.email_verified:
        raise StateError("Confirm your own e-mail address before inviting people.", code="email_unverified")
    return member


@transaction.atomic
def invitation_create(*, merchant: Merchant, email: str, role: str, invited_by, link_for: LinkFor,
                      ) -> tuple[MerchantInvitation, str]:
    """Invite `email` to the team with `role`; e-mails a single-use link. Returns the invitation and its token.

    Inviting an address again revokes its earlier open invitation (its link stops working).
    """
    email = normalize_email(email)
    if role not in MemberRole.values:
        raise ValidationError(f"Unknown role {role}.", param="role", code="role_invalid")
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)  # serializes the checks below
    if merchant.status == MerchantStatus.SUSPENDED:
        raise StateError("A suspended merchant cannot invite people.", code="merchant_suspended")
    _inviter(merchant=merchant, invited_by=invited_by)
    if MerchantMember.objects.filter(merchant=merchant, user__email__iexact=email).exists():
        raise ValidationError("This person is already in your team.", param="email", code="already_member")
    now = timezone.now()
    open_invitations = MerchantInvitation.objects.filter(merchant=merchant, accepted_at__isnull=True,
                                                         revoked_at__isnull=True)
    open_invitations.filter(email=email).update(revoked_at=now)
    if open_invitations.filter(expires_at__gt=now).count() >= MAX_OPEN_INVITATIONS:
        raise StateError(f"At most {MAX_OPEN_INVITATIONS} open invitations; revoke some first.",
                         code="invitation_limit")
    token = secrets.token_urlsafe(32)
    days = settings.PORTAL_INVITATION_DAYS
    invitation = MerchantInvitation.objects.create(
        merchant=merchant, email=email, role=role, token_hash=_token_hash(token), invited_by=invited_by,
        expires_at=now + timedelta(days=days))
    inviter_name = invited_by.get_full_name() or invited_by.email or invited_by.get_username()
    body = (f"{inviter_name} invites you to work for {merchant.name} on Bank Payments as "
            f"{MemberRole(role).label.lower()}.\n\nAccept the invitation (valid for {days} days, usable once):\n\n"
            f"{link_for(token)}\n\nIf you did not expect this, ignore this message.\n")
    _mail_on_commit(f"Join {merchant.name} on Bank Payments", body, email)
    return invitation, token


def invitation_find(*, token: str) -> MerchantInvitation | None:
    """The invitation a link's token names (whatever its state), or None."""
    if not token or len(token) > 100:
        return None
    return MerchantInvitation.objects.select_related("merchant").filter(token_hash=_token_hash(token)).first()


def _open_invitation(token: str) -> MerchantInvitation:
    invitation = invitation_find(token=token)
    if invitation is None:
        raise NotFound("This invitation link is not valid.", code="invitation_invalid")
    invitation = MerchantInvitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)
    state = invitation.status(timezone.now())
    if state != "pending":
        messages = {"accepted": "This invitation was already used.", "revoked": "This invitation was revoked.",
                    "expired": "This invitation has expired. Ask for a new one."}
        raise StateError(messages[state], code=f"invitation_{state}")
    if invitation.merchant.status == MerchantStatus.SUSPENDED:
        raise StateError("This merchant account is suspended.", code="merchant_suspended")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user=None, password: str | None = None) -> MerchantMember:
    """Accept an invitation: once, before it expires.

    Without `user`, a new log-in is made for the invited address with `password` (the address counts as
    verified: the link reached it). With `user` (signed in), that existing log-in joins, if it is the
    invited address and does not work for a merchant already (a log-in belongs to one merchant).
    """
    invitation = _open_invitation(token)
    User = get_user_model()
    if user is None:
        if _email_taken(invitation.email):
            raise StateError("An account with this e-mail address already exists: log in to accept.",
                             code="account_exists")
        user = User(username=invitation.email, email=invitation.email)
        _check_password(password or "", user)
        user.set_password(password)
        user.save()
    else:
        if (user.email or "").lower() != invitation.email:
            raise StateError(f"This invitation is for {invitation.email}; you are logged in as another account.",
                             code="wrong_account")
        if MerchantMember.objects.filter(user=user).exists():
            raise StateError("Your log-in already works for a merchant, and a log-in belongs to one merchant only. "
                             "Ask the inviter to invite another e-mail address.", code="already_member")
    member = services.member_add(merchant=invitation.merchant, user=user, role=invitation.role, email_verified=True)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return member


@transaction.atomic
def invitation_revoke(*, merchant: Merchant, invitation_id: str) -> MerchantInvitation:
    invitation = MerchantInvitation.objects.select_for_update().filter(pk=invitation_id, merchant=merchant).first()
    if invitation is None:
        raise NotFound("No such invitation.", param="id")
    if invitation.accepted_at is not None:
        raise StateError("This invitation was already accepted; remove the member instead.",
                         code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def _locked_member(merchant: Merchant, member_id) -> MerchantMember:
    Merchant.objects.select_for_update().get(pk=merchant.pk)  # one team change at a time per merchant
    member = MerchantMember.objects.select_related("user").filter(pk=member_id, merchant=merchant).first()
    if member is None:
        raise NotFound("No such team member.", param="member")
    return member


def _is_last_owner(member: MerchantMember) -> bool:
    return (member.role == MemberRole.OWNER
            and not MerchantMember.objects.filter(merchant_id=member.merchant_id, role=MemberRole.OWNER)
            .exclude(pk=member.pk).exists())


@transaction.atomic
def member_set_role(*, merchant: Merchant, member_id, role: str) -> MerchantMember:
    """Change a member's role. The last owner stays an owner."""
    if role not in MemberRole.values:
        raise ValidationError(f"Unknown role {role}.", param="role", code="role_invalid")
    member = _locked_member(merchant, member_id)
    if role != MemberRole.OWNER and _is_last_owner(member):
        raise StateError("A merchant needs at least one owner: make someone else owner first.", code="last_owner")
    if member.role != role:
        member.role = role
        member.save(update_fields=["role"])
    return member


@transaction.atomic
def member_remove(*, merchant: Merchant, member_id) -> MerchantMember:
    """Remove a member from the team (never the last owner).

    The log-in stays (it could be invited again, by any merchant), but every OAuth grant and token the
    person gave third-party apps is deleted: such tokens act for the person's merchant, which from now on
    would be another one.
    """
    member = _locked_member(merchant, member_id)
    if _is_last_owner(member):
        raise StateError("A merchant needs at least one owner: you cannot remove the last one.", code="last_owner")
    user = member.user
    RefreshToken.objects.filter(user=user).delete()
    AccessToken.objects.filter(user=user).delete()
    Grant.objects.filter(user=user).delete()
    member.delete()
    return member


# --- Third-party apps the merchant's people authorized ----------------------------------------------


@transaction.atomic
def authorized_app_revoke(*, merchant: Merchant, client_id: str) -> int:
    """Withdraw a third-party app's access to `merchant`: every grant, access and refresh token it holds
    from this merchant's people. Returns how many tokens were deleted."""
    client = ApiClient.objects.filter(client_id=client_id, kind=ClientKind.CONNECT).first()
    if client is None:
        raise NotFound("No such app.", param="client_id")
    users = MerchantMember.objects.filter(merchant=merchant).values("user_id")
    refresh, _ = RefreshToken.objects.filter(application=client, user__in=users).delete()
    access, _ = AccessToken.objects.filter(application=client, user__in=users).delete()
    Grant.objects.filter(application=client, user__in=users).delete()
    return refresh + access


# --- Two-factor authentication (TOTP, django-otp) ----------------------------------------------------


@transaction.atomic
def totp_device_start(*, user) -> TOTPDevice:
    """A new, unconfirmed TOTP device with a fresh secret (replacing any earlier unconfirmed one)."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise StateError("Two-factor authentication is already on.", code="totp_enabled")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_check(*, user, token: str) -> TOTPDevice | None:
    """The user's confirmed device if `token` is its current code, else None.

    django-otp refuses a code used before (each time step counts once) and slows down guessing: after
    each failure the device refuses every code for an exponentially growing delay
    (OTP_TOTP_THROTTLE_FACTOR). Not atomic on purpose: a failure's throttle count must stay written.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    token = (token or "").strip()
    if device is None or not token.isdigit() or not device.verify_token(token):
        return None
    return device


def totp_device_confirm(*, user, token: str) -> TOTPDevice:
    """Turn two-factor on: the code from the authenticator app must match the new device's secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise StateError("Start again: there is no authenticator waiting for confirmation.", code="totp_not_started")
    token = (token or "").strip()
    if not token.isdigit() or not device.verify_token(token):
        raise ValidationError("That code is not right. Check the time on your phone and try the current code.",
                              param="otp_token", code="totp_invalid")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


def totp_disable(*, user, token: str) -> None:
    """Turn two-factor off, proven with a current code."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise StateError("Two-factor authentication is not on.", code="totp_disabled")
    if totp_check(user=user, token=token) is None:
        raise ValidationError("That code is not right.", param="otp_token", code="totp_invalid")
    TOTPDevice.objects.filter(user=user).delete()
