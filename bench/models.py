from django.db import models


class ReferenceRow(models.Model):
    """The small table the reference endpoint inserts one row into per request."""

    note = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.pk} {self.note}"
