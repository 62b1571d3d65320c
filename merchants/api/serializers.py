from rest_framework import serializers

from core.api import StrictCharField

from ..constants import EVENT_TYPES, WebhookEndpointStatus
from ..representations import EventOutputSerializer


class MerchantOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    name = serializers.CharField()
    country = serializers.CharField()
    default_currency = serializers.CharField()
    status = serializers.CharField()
    livemode = serializers.SerializerMethodField()
    scopes = serializers.SerializerMethodField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "merchant"

    def get_livemode(self, obj) -> bool:
        return self.context["ctx"].livemode

    def get_scopes(self, obj) -> list[str]:
        return sorted(self.context["ctx"].scopes)


# --- Events and webhook endpoints ------------------------------------------------------------------

EVENT_TYPE_CHOICES = ["*", *EVENT_TYPES]


class EventListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = EventOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class EventListParamsSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, max_length=64)
    object = serializers.CharField(required=False, max_length=64)


class EventRedeliverInputSerializer(serializers.Serializer):
    webhook_endpoint = serializers.CharField(required=False, max_length=64,
                                             help_text="Only to this endpoint (default: every endpoint it goes to)")


class EventRedeliverOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="event_redelivery")
    event = serializers.CharField()
    webhook_endpoints = serializers.ListField(child=serializers.CharField(),
                                              help_text="The endpoints the event is queued for")


class WebhookEndpointOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    url = serializers.CharField()
    description = serializers.CharField()
    enabled_events = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=WebhookEndpointStatus.choices)
    disabled_reason = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "webhook_endpoint"

    def get_disabled_reason(self, obj) -> str | None:
        return obj.disabled_reason or None


class WebhookEndpointWithSecretSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(
        allow_null=True,
        help_text="The signing secret (`whsec_...`), shown only in this response. Keep it safe. A replay of "
                  "this request (same Idempotency-Key) answers null: the secret is never stored in clear.")


class WebhookEndpointListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = WebhookEndpointOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class WebhookEndpointCreateInputSerializer(serializers.Serializer):
    url = StrictCharField(max_length=2048, help_text="HTTPS URL (http allowed in test mode) on a public address")
    enabled_events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
                                           min_length=1, max_length=64, help_text='Event types, or ["*"] for all')
    description = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class WebhookEndpointUpdateInputSerializer(serializers.Serializer):
    url = StrictCharField(required=False, max_length=2048)
    enabled_events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
                                           required=False, min_length=1, max_length=64)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    status = serializers.ChoiceField(choices=WebhookEndpointStatus.choices, required=False,
                                     help_text="disabled stops deliveries; enabled resumes them (replay what you "
                                               "missed)")


class WebhookEndpointDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="webhook_endpoint")
    deleted = serializers.BooleanField(default=True)


class WebhookEndpointReplayInputSerializer(serializers.Serializer):
    created_gte = serializers.CharField(help_text="From this time (unix timestamp or ISO 8601), inclusive")
    created_lte = serializers.CharField(help_text="Up to this time (unix timestamp or ISO 8601), inclusive")


class WebhookEndpointReplayOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="webhook_replay")
    webhook_endpoint = serializers.CharField()
    events = serializers.IntegerField(help_text="How many events are queued for delivery again")
