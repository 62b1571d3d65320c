from rest_framework import serializers


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
