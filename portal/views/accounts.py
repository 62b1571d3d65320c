from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ..access import SESSION_MODE_KEY, portal_view


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("portal:dashboard")


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
