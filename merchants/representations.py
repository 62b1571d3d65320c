"""The JSON shape of an event: one serializer for GET /v1/events/{id} and the webhook body, so they never differ."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class EventDataSerializer(serializers.Serializer):
    object = serializers.DictField(help_text="The object as the API showed it when the event happened")


class EventOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    type = serializers.CharField()
    created = serializers.DateTimeField()
    livemode = serializers.BooleanField()
    sequence = serializers.IntegerField(
        help_text="Position of this event among the events of the same object (1, 2, ...): order by it"
    )
    data = serializers.SerializerMethodField()

    def get_object(self, obj) -> str:
        return "event"

    @extend_schema_field(EventDataSerializer)
    def get_data(self, obj):
        return {"object": obj.data}


def event_representation(event) -> dict:
    return EventOutputSerializer(event).data
