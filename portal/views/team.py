"""Team: members and their roles, invitations (owners only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from merchants import account_selectors, accounts
from merchants.constants import MemberRole

from ..access import portal_view
from ..forms import InviteForm, RoleForm
from .accounts import form_error, link_for, portal_audit


def _team_page(request, invite_form, status=200):
    merchant = request.portal.merchant
    members = list(account_selectors.team_members(merchant_id=merchant.pk))
    owners = sum(1 for m in members if m.role == MemberRole.OWNER)
    now = timezone.now()
    invitations = [(i, i.status(now)) for i in account_selectors.invitations_open(merchant_id=merchant.pk)]
    return render(request, "portal/team.html", {
        "members": members, "owner_count": owners, "invitations": invitations, "invite_form": invite_form,
        "roles": MemberRole.choices, "invitation_days": settings.PORTAL_INVITATION_DAYS,
    }, status=status)


@require_http_methods(["GET", "POST"])
@portal_view("manage_team")
def team(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                invitation, _ = accounts.invitation_create(
                    merchant=request.portal.merchant, email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"], invited_by=request.user,
                    link_for=link_for("portal:invitation_accept"))
            except ApplicationError as exc:
                form_error(form, exc)
            else:
                portal_audit(request, action="invitation.created", object_type="invitation", object_id=invitation.pk,
                             email=invitation.email, role=invitation.role)
                messages.success(request, f"Invitation sent to {invitation.email} "
                                          f"({invitation.get_role_display().lower()}).")
                return redirect("portal:team")
        return _team_page(request, form, status=400)
    return _team_page(request, form)


@require_POST
@portal_view("manage_team")
def member_role(request, member_id: int):
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("portal:team")
    try:
        member = accounts.member_set_role(merchant=request.portal.merchant, member_id=member_id,
                                          role=form.cleaned_data["role"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        portal_audit(request, action="member.role_changed", object_type="merchant_member", object_id=str(member.pk),
                     user=member.user.get_username(), role=member.role)
        messages.success(request, f"{member.user.email or member.user.get_username()} is now "
                                  f"{member.get_role_display().lower()}.")
    return redirect("portal:team")


@require_http_methods(["GET", "POST"])
@portal_view("manage_team")
def member_remove(request, member_id: int):
    member = account_selectors.team_members(merchant_id=request.portal.merchant.pk).filter(pk=member_id).first()
    if member is None:
        return render(request, "portal/not_found.html", {"message": "No such team member."}, status=404)
    if request.method == "POST":
        try:
            accounts.member_remove(merchant=request.portal.merchant, member_id=member_id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            portal_audit(request, action="member.removed", object_type="merchant_member", object_id=str(member_id),
                         user=member.user.get_username())
            messages.success(request, f"{member.user.email or member.user.get_username()} was removed from the team.")
            if member.user_id == request.user.pk:
                return redirect("portal:dashboard")  # which now says this log-in works for no merchant
        return redirect("portal:team")
    return render(request, "portal/confirm.html", {
        "title": "Remove team member",
        "question": f"Remove {member.user.email or member.user.get_username()} from {request.portal.merchant.name}?",
        "details": "They lose access to the portal at once, and every third-party app they authorized loses "
                   "access too. Their log-in remains; you can invite them again later.",
        "button": "Remove member", "danger": True, "back": "portal:team",
    })


@require_POST
@portal_view("manage_team")
def invitation_revoke(request, invitation_id: str):
    try:
        invitation = accounts.invitation_revoke(merchant=request.portal.merchant, invitation_id=invitation_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        portal_audit(request, action="invitation.revoked", object_type="invitation", object_id=invitation.pk)
        messages.success(request, f"The invitation of {invitation.email} is revoked; its link no longer works.")
    return redirect("portal:team")
