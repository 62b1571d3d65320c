"""OpenAPI (drf-spectacular) description of the API's OAuth2 authentication.

Imported from MerchantsConfig.ready() so the extension is registered before any schema is built.
"""

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme


class MerchantOAuth2Scheme(DjangoOAuthToolkitScheme):
    """The `oauth2` security scheme (flows and scopes from SPECTACULAR_SETTINGS) and, per operation,
    exactly the scopes the view's `required_scopes` names for that method."""

    target_class = "merchants.oauth.MerchantOAuth2Authentication"
    name = "oauth2"
    priority = 1

    def get_security_requirement(self, auto_schema):
        required = getattr(auto_schema.view, "required_scopes", {}).get(auto_schema.method)
        if required is None:  # not callable by API clients at all (HasRequiredScopes denies it)
            return None
        return {self.name: list(required)}
