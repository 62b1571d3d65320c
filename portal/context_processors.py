from .access import portal_context


def portal(request):
    """`portal` in every template: the signed-in member's PortalContext, or None."""
    ctx = getattr(request, "portal", None)
    if ctx is None and request.path.startswith("/portal/"):
        ctx = portal_context(request)
    return {"portal": ctx}
