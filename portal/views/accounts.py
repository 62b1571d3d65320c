"""Accounts: log-in (with the second factor), log-out, sign-up, e-mail verification, password reset,
the security page (two-factor, password), accepting a team invitation, and the test/live switch."""

from __future__ import annotations

import time
from base64 import b32encode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from core.audit import audit_record
from core.errors import ApplicationError, ValidationError
from merchants import account_selectors, accounts

from .. import ratelimit
from ..access import SESSION_MODE_KEY, portal_context, portal_view
from ..forms import AcceptInvitationForm, ConfirmCodeForm, LoginForm, OtpForm, SignUpForm
from ..middleware import SESSION_HAS_TOTP, needs_second_factor

PENDING_LOGIN_KEY = "portal_pending_login"
PENDING_LOGIN_SECONDS = 300  # the code must follow the password within 5 minutes
PENDING_LOGIN_MAX_CODES = 5  # then the password is asked again (and counts for the lockout again)
BACKEND = "portal.backends.EmailOrUsernameBackend"
RESEND_SESSION_KEY = "portal_verify_resent_at"
RESEND_EVERY_SECONDS = 60  # one confirmation e-mail a minute per session


def link_for(view_name: str):
    """`link_for(token)`: the absolute URL of a portal page taking a token, for e-mails (BASE_URL, never the
    request's Host header, which a client chooses)."""
    return lambda token: settings.BASE_URL.rstrip("/") + reverse(view_name, args=[token])


def portal_audit(request, *, action: str, object_type: str, object_id: str, **data) -> None:
    """An audit-log entry for a sensitive change made in the portal, with the member as actor."""
    audit_record(actor=f"portal:{request.user.get_username()}", action=action, object_type=object_type,
                 object_id=object_id, merchant_id=request.portal.merchant.pk, data={"via": "portal", **data})


def rate_limited(request, template: str, context: dict, limited: ratelimit.Limited):
    """The page of a refused attempt: 429 with Retry-After; `context["form"]` (if any) shows the message."""
    if context.get("form") is not None:
        context["form"].add_error(None, limited.message)
    response = render(request, template, {**context, "message": limited.message}, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


def form_error(form, exc: ApplicationError) -> None:
    """Show a service's error on the form field it names, else on the whole form."""
    field = exc.param if exc.param in form.fields else None
    form.add_error(field, exc.message)


# --- Log-in, second factor, log-out ------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class TwoStepLoginView(auth_views.LoginView):
    """The password, then (if the person turned it on) the code of their authenticator app.

    The password step goes through django.contrib.auth.authenticate, so django-axes counts failures and
    locks out. A correct password of someone with two-factor does not log in yet: the person is kept in
    the session for 5 minutes and must send a current code (django-otp throttles wrong codes; after 5
    wrong codes the password is asked again). A session already logged in without the code (the admin's
    log-in page) is asked only for the code.
    """

    form_class = LoginForm
    redirect_authenticated_user = True
    otp_template_name = None

    def dispatch(self, request, *args, **kwargs):
        if needs_second_factor(request):
            self.redirect_authenticated_user = False
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        if needs_second_factor(request) or self._pending_user() is not None:
            return self._render_otp(OtpForm())
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if "otp_token" in request.POST:
            return self._post_otp()
        request.session.pop(PENDING_LOGIN_KEY, None)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if account_selectors.user_has_totp(user=user):
            self.request.session[PENDING_LOGIN_KEY] = {"user": user.pk, "backend": user.backend,
                                                       "at": int(time.time()), "tries": 0}
            return self._render_otp(OtpForm())
        return super().form_valid(form)

    def _pending_user(self):
        pending = self.request.session.get(PENDING_LOGIN_KEY)
        if not pending:
            return None
        if time.time() - pending["at"] > PENDING_LOGIN_SECONDS or pending["tries"] >= PENDING_LOGIN_MAX_CODES:
            self.request.session.pop(PENDING_LOGIN_KEY, None)
            return None
        return get_user_model()._default_manager.filter(pk=pending["user"], is_active=True).first()

    def _render_otp(self, form, status=200):
        context = self.get_context_data(form=form, otp_step=True)
        return self.response_class(request=self.request, template=self.otp_template_name or self.template_name,
                                   context=context, status=status)

    def _post_otp(self):
        form = OtpForm(self.request.POST)
        if needs_second_factor(self.request):
            user, pending = self.request.user, None
        else:
            user, pending = self._pending_user(), self.request.session.get(PENDING_LOGIN_KEY)
        if user is None:
            messages.error(self.request, "Your log-in took too long or had too many wrong codes. Log in again.")
            return redirect(self.request.get_full_path())
        device = accounts.totp_check(user=user, token=self.request.POST.get("otp_token", "")) \
            if form.is_valid() else None
        if device is None:
            if pending is not None:
                pending["tries"] += 1
                self.request.session[PENDING_LOGIN_KEY] = pending
            form.errors.clear()
            form.add_error("otp_token", "That code is not right, or it was already used. Enter the current code.")
            return self._render_otp(form, status=400)
        if pending is not None:
            self.request.session.pop(PENDING_LOGIN_KEY, None)
            user.otp_device = device
            auth_login(self.request, user, backend=pending["backend"])
        else:
            self.request.session.cycle_key()  # the session gained rights: give it a new id
        otp_login(self.request, device)
        self.request.session[SESSION_HAS_TOTP] = True
        return redirect(self.get_success_url())


class PortalLoginView(TwoStepLoginView):
    template_name = "portal/login.html"
    next_page = reverse_lazy("portal:dashboard")


class ConsentLoginView(TwoStepLoginView):
    """/accounts/login/: the log-in page of the OAuth consent flow (and LOGIN_URL)."""

    template_name = "registration/login.html"


class PortalLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


@require_POST
@portal_view("view")
def mode_switch(request):
    """Switch between test and live data. Live mode only once the bank approved the merchant."""
    want_live = request.POST.get("mode") == "live"
    if want_live and not request.portal.live_allowed:
        messages.error(request, "Live mode opens once the bank has approved your account. Until then, use test mode.")
        want_live = False
    request.session[SESSION_MODE_KEY] = want_live
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse_lazy("portal:dashboard")
    return redirect(back)


# --- Sign-up and e-mail verification ------------------------------------------------------------------


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_up(request):
    if request.user.is_authenticated and portal_context(request) is not None:
        return redirect("portal:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        limited = ratelimit.hit("signup", request=request)
        if limited:
            return rate_limited(request, "portal/signup.html", {"form": form}, limited)
        try:
            member = accounts.merchant_sign_up(
                business_name=data["business_name"], email=data["email"], password=data["password1"],
                country=data["country"], default_currency=data["default_currency"])
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            accounts.email_verification_send(user=member.user, link_for=link_for("portal:verify_email"))
            auth_login(request, member.user, backend=BACKEND)
            messages.success(request, f"Welcome! Your account for {member.merchant.name} is ready in test mode. "
                                      f"We sent a confirmation link to {member.user.email}.")
            return redirect("portal:dashboard")
    return render(request, "portal/signup.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
def verify_email(request, token):
    try:
        member = accounts.email_verify(token=token)
    except ApplicationError as exc:
        return render(request, "portal/verify_email.html", {"error": exc.message}, status=400)
    if request.user.is_authenticated and request.user.pk == member.user_id:
        messages.success(request, "Thank you: your e-mail address is confirmed.")
        return redirect("portal:dashboard")
    return render(request, "portal/verify_email.html", {"member": member})


@never_cache
@require_POST
@portal_view("view")
def verify_email_resend(request):
    last = request.session.get(RESEND_SESSION_KEY, 0)
    if request.portal.member.email_verified:
        messages.info(request, "Your e-mail address is already confirmed.")
    elif time.time() - last < RESEND_EVERY_SECONDS:
        messages.warning(request, "We sent a link less than a minute ago. Check your inbox (and spam folder).")
    elif limited := ratelimit.hit("verify_resend", email=request.user.email):
        return rate_limited(request, "portal/rate_limited.html", {}, limited)
    else:
        accounts.email_verification_send(user=request.user, link_for=link_for("portal:verify_email"))
        request.session[RESEND_SESSION_KEY] = int(time.time())
        messages.success(request, f"We sent a new confirmation link to {request.user.email}.")
    return redirect("portal:dashboard")


# --- Password reset (Django's views, portal templates, links built from BASE_URL) -----------------------


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def get_extra_email_context(self):
        return {"base_url": settings.BASE_URL.rstrip("/")}

    def form_valid(self, form):
        # Counted for every address, known or not: the answer must not tell which addresses have accounts.
        limited = ratelimit.hit("password_reset", request=self.request, email=form.cleaned_data["email"])
        if limited:
            return rate_limited(self.request, self.template_name, self.get_context_data(form=form), limited)
        self.extra_email_context = self.get_extra_email_context()
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_reset_complete.html"


# --- Security: two-factor and password -------------------------------------------------------------------


def _qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#17202e", light="#ffffff", title="QR code")


@never_cache
@portal_view("view")
def security(request):
    user = request.user
    enabled = account_selectors.user_has_totp(user=user)
    pending = None if enabled else account_selectors.totp_pending_device(user=user)
    context = {"totp_enabled": enabled, "confirm_form": ConfirmCodeForm(), "disable_form": ConfirmCodeForm(),
               "password_form": PasswordChangeForm(user)}
    if pending is not None:
        context.update(pending=pending, totp_secret=b32encode(pending.bin_key).decode(),
                       qr_svg=_qr_svg(pending.config_url))
    return render(request, "portal/security.html", context)


@require_POST
@portal_view("view")
def totp_start(request):
    try:
        accounts.totp_device_start(user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("portal:security") + "#two-factor")


@never_cache
@require_POST
@portal_view("view")
def totp_confirm(request):
    form = ConfirmCodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Enter the 6-digit code.", param="otp_token")
        device = accounts.totp_device_confirm(user=request.user, token=form.cleaned_data["otp_token"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("portal:security") + "#two-factor")
    otp_login(request, device)
    request.session[SESSION_HAS_TOTP] = True
    portal_audit(request, action="member.two_factor_enabled", object_type="user", object_id=str(request.user.pk))
    messages.success(request, "Two-factor authentication is on. From now on, log-in asks for a code.")
    return redirect("portal:security")


@require_POST
@portal_view("view")
def totp_disable(request):
    form = ConfirmCodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Enter the 6-digit code.", param="otp_token")
        accounts.totp_disable(user=request.user, token=form.cleaned_data["otp_token"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("portal:security") + "#two-factor")
    request.session[SESSION_HAS_TOTP] = False
    portal_audit(request, action="member.two_factor_disabled", object_type="user", object_id=str(request.user.pk))
    messages.success(request, "Two-factor authentication is off.")
    return redirect("portal:security")


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@never_cache
@require_POST
@portal_view("view")
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)  # this session stays; every other one is logged out
        messages.success(request, "Your password is changed. Other sessions were logged out.")
        return redirect("portal:security")
    user = request.user
    enabled = account_selectors.user_has_totp(user=user)
    return render(request, "portal/security.html", {
        "totp_enabled": enabled, "confirm_form": ConfirmCodeForm(), "disable_form": ConfirmCodeForm(),
        "password_form": form}, status=400)


# --- Accepting an invitation ----------------------------------------------------------------------------


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = accounts.invitation_find(token=token)
    if invitation is None:
        return render(request, "portal/invitation.html", {"error": "This invitation link is not valid."}, status=404)
    state = invitation.status(timezone.now())
    context = {"invitation": invitation, "state": state}
    if state != "pending":
        return render(request, "portal/invitation.html", context, status=410)
    user = request.user if request.user.is_authenticated else None
    account_exists = user is None and get_user_model()._default_manager.filter(
        email__iexact=invitation.email).exists()
    form = AcceptInvitationForm(request.POST or None, email=invitation.email) \
        if user is None and not account_exists else None
    context.update(form=form, account_exists=account_exists,
                   login_url=f"{reverse('portal:login')}?next={request.path}")
    if request.method == "POST":
        if user is None and (form is None or not form.is_valid()):
            return render(request, "portal/invitation.html", context, status=400)
        try:
            member = accounts.invitation_accept(
                token=token, user=user, password=None if user else form.cleaned_data["password1"])
        except ApplicationError as exc:
            context["error"] = exc.message
            return render(request, "portal/invitation.html", context, status=400)
        if user is None:
            auth_login(request, member.user, backend=BACKEND)
        messages.success(request, f"Welcome to {member.merchant.name}: you joined as "
                                  f"{member.get_role_display().lower()}.")
        return redirect("portal:dashboard")
    return render(request, "portal/invitation.html", context)
