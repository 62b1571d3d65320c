"""The reference endpoint: a bare DRF APIView doing one INSERT.

It has no authentication, no permission checks and no throttling, so it shows what the stack
itself costs (gunicorn, Django's middleware, DRF's request/response cycle, one INSERT on
PostgreSQL). POST /v1/payments is measured against it.
"""

from rest_framework.response import Response
from rest_framework.views import APIView

from .models import ReferenceRow


class ReferenceView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    def post(self, request):
        row = ReferenceRow.objects.create(note="reference")
        return Response({"object": "reference", "id": row.pk}, status=201)
