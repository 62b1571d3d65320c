"""Forms of the portal's account pages. They parse and check input; services do the writing."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm

from core.scopes import MERCHANT_SCOPES, SCOPES
from merchants.constants import MemberRole

MODE_CHOICES = (("test", "Test mode"), ("live", "Live mode"))
SCOPE_CHOICES = [(s, SCOPES[s]) for s in MERCHANT_SCOPES]


class LoginForm(AuthenticationForm):
    username = forms.CharField(label="Email or username", max_length=254,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The e-mail address (or username) and password do not match an account. Try again.",
    }


class OtpForm(forms.Form):
    otp_token = forms.CharField(
        label="Authentication code", min_length=6, max_length=8,
        help_text="The 6-digit code your authenticator app shows now.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": "[0-9]*", "autofocus": True}))


class PasswordPairMixin(forms.Form):
    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text="At least 12 characters, not a common password, not only digits.")
    password2 = forms.CharField(label="Repeat the password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean_password2(self):
        p1, p2 = self.cleaned_data.get("password1"), self.cleaned_data.get("password2")
        if p1 and p2 and p1 != p2:
            raise forms.ValidationError("The two passwords differ.")
        return p2

    def check_password_strength(self, user) -> None:
        password = self.cleaned_data.get("password1")
        if password:
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)


class SignUpForm(PasswordPairMixin):
    business_name = forms.CharField(label="Business name", max_length=200,
                                    widget=forms.TextInput(attrs={"autocomplete": "organization", "autofocus": True}))
    email = forms.EmailField(label="Your e-mail address", max_length=150,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}),
                             help_text="You log in with it. We send a confirmation link to it.")
    country = forms.CharField(label="Country (ISO code)", min_length=2, max_length=2, initial="DE",
                              help_text="Two letters, e.g. DE, FR, NL.",
                              widget=forms.TextInput(attrs={"autocomplete": "country", "size": 2}))
    default_currency = forms.CharField(label="Default currency", min_length=3, max_length=3, initial="EUR",
                                       help_text="Three letters, e.g. EUR.", widget=forms.TextInput(attrs={"size": 3}))
    field_order = ["business_name", "email", "password1", "password2", "country", "default_currency"]

    def clean(self):
        data = super().clean()
        self.check_password_strength(get_user_model()(username=data.get("email", ""), email=data.get("email", "")))
        return data


class AcceptInvitationForm(PasswordPairMixin):
    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        self.check_password_strength(get_user_model()(username=self.email, email=self.email))
        return data


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=150,
                             widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label="Role", choices=MemberRole.choices, initial=MemberRole.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=MemberRole.choices)


class ScopesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=SCOPE_CHOICES, label="Scopes", initial=list(MERCHANT_SCOPES),
                         error_messages={"required": "Choose at least one scope."}, **kwargs)


class ApiClientForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, help_text="For you: e.g. \"Web shop backend\".")
    mode = forms.ChoiceField(label="Mode", choices=MODE_CHOICES, initial="test", widget=forms.RadioSelect)
    scopes = ScopesField()


class ConnectAppForm(ApiClientForm):
    name = forms.CharField(label="App name", max_length=200,
                           help_text="Merchants see it on the consent screen when they authorize your app.")
    redirect_uris = forms.CharField(
        label="Redirect URIs", max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One per line, each exact (no wildcards) and https:// "
                  "(http:// only for 127.0.0.1 or localhost while developing).")
    field_order = ["name", "redirect_uris", "mode", "scopes"]


class ConfirmCodeForm(forms.Form):
    otp_token = forms.CharField(label="Code from your authenticator app", min_length=6, max_length=8,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                              "inputmode": "numeric", "pattern": "[0-9]*"}))
