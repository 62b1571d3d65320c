from django.shortcuts import render

from ..access import portal_view


@portal_view("view")
def dashboard(request):
    # Not built yet: volume, success rate, balances, recent payments, attention items (issue #7).
    return render(request, "portal/dashboard.html", {})
