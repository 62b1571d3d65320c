"""Account pages of the portal: log-in and sign-up, security, team, API credentials, connected apps, docs."""

from django.urls import path

from .views import accounts, credentials, docs, team

urlpatterns = [
    path("login/", accounts.PortalLoginView.as_view(), name="login"),
    path("logout/", accounts.PortalLogoutView.as_view(), name="logout"),
    path("mode/", accounts.mode_switch, name="mode_switch"),
    path("signup/", accounts.sign_up, name="signup"),
    path("email/verify/<str:token>/", accounts.verify_email, name="verify_email"),
    path("email/resend/", accounts.verify_email_resend, name="verify_email_resend"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", accounts.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/done/", accounts.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("password-reset/<uidb64>/<token>/", accounts.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("security/", accounts.security, name="security"),
    path("security/two-factor/start/", accounts.totp_start, name="totp_start"),
    path("security/two-factor/confirm/", accounts.totp_confirm, name="totp_confirm"),
    path("security/two-factor/disable/", accounts.totp_disable, name="totp_disable"),
    path("security/password/", accounts.password_change, name="password_change"),
    path("invitations/<str:token>/", accounts.invitation_accept, name="invitation_accept"),
    path("team/", team.team, name="team"),
    path("team/members/<int:member_id>/role/", team.member_role, name="member_role"),
    path("team/members/<int:member_id>/remove/", team.member_remove, name="member_remove"),
    path("team/invitations/<str:invitation_id>/revoke/", team.invitation_revoke, name="invitation_revoke"),
    path("credentials/", credentials.credentials, name="credentials"),
    path("credentials/<str:public_id>/rotate/", credentials.credential_rotate, name="credential_rotate"),
    path("credentials/<str:public_id>/revoke/", credentials.credential_revoke, name="credential_revoke"),
    path("apps/", credentials.connected_apps, name="connected_apps"),
    path("apps/<str:public_id>/rotate/", credentials.connect_app_rotate, name="connect_app_rotate"),
    path("apps/<str:public_id>/revoke/", credentials.connect_app_revoke, name="connect_app_revoke"),
    path("apps/authorized/<str:client_id>/revoke/", credentials.authorized_app_revoke, name="authorized_app_revoke"),
    path("docs/", docs.docs, name="docs"),
]
