"""Demo data for trying a live payment with a card of this bank (card issuing, #4).

Runs `seed_demo` first, then makes the demo merchant a card-issuing partner in live mode: a live-mode
API client (every merchant scope), a prepaid card program (BIN 520082, EUR), a cardholder, and an
active virtual card whose account is funded once with 10,000.00 EUR. Idempotent: the same objects and
credentials every time on this installation. The card's number and CVC are not printed: read them
with GET /v1/issuing/cards/{id}/details (scope issuing:card_details; every read is audited).
Refuses to run in production.
"""

import hashlib
import hmac
import json
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.scopes import MERCHANT_SCOPES
from merchants import selectors as merchant_selectors
from merchants import services as merchant_services

from ... import issuing, issuing_selectors
from ...constants import CardStatus, CardType, ProgramType
from ...issuing_models import Cardholder, CardProgram

DEMO_LIVE_CLIENT_ID = "demo_live_client"
DEMO_BIN = "520082"
DEMO_CARDHOLDER_EMAIL = "cardholder@demo-merchant.example"
DEMO_FUNDING = 1_000_000  # 10,000.00 EUR


def _derived(label: str, length: int) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).hexdigest()[:length]


class Command(BaseCommand):
    help = "seed_demo, plus a live-mode client, card program, cardholder and funded virtual card for the demo."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the credentials and ids as JSON only")

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_issuing_demo creates well-known credentials; it refuses to run in production.")
        out = StringIO()
        call_command("seed_demo", "--json", stdout=out)
        data = json.loads(out.getvalue())
        merchant = merchant_selectors.merchant_get(merchant_id=data["merchant_id"])

        secret = f"demo_live_secret_{_derived('demo-live-client-secret', 40)}"
        client = merchant_selectors.api_client_by_client_id(client_id=DEMO_LIVE_CLIENT_ID)
        if client is None:
            client, _ = merchant_services.api_client_create(
                merchant=merchant, name="Demo live client", livemode=True, scopes=MERCHANT_SCOPES,
                client_id=DEMO_LIVE_CLIENT_ID, client_secret=secret)
        else:
            merchant_services.api_client_set_scopes(client=client, scopes=MERCHANT_SCOPES)
            merchant_services.api_client_set_secret(client=client, secret=secret)

        program = CardProgram.objects.filter(bin=DEMO_BIN).first() or issuing.card_program_create(
            merchant_id=merchant.pk, livemode=True, name="Demo prepaid", bin=DEMO_BIN, currency="EUR",
            type=ProgramType.PREPAID)
        if program.merchant_id != merchant.pk or not program.livemode:
            raise CommandError(f"BIN {DEMO_BIN} belongs to another program ({program.pk}).")
        holder = Cardholder.objects.filter(merchant=merchant, livemode=True, email=DEMO_CARDHOLDER_EMAIL).first()
        if holder is None:
            holder = issuing.cardholder_create(
                merchant_id=merchant.pk, livemode=True, name="Demo Cardholder", email=DEMO_CARDHOLDER_EMAIL,
                billing={"line1": "Demostr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"})
        card = issuing_selectors.issued_cards(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.pk,
                                              status=CardStatus.ACTIVE).filter(type=CardType.VIRTUAL,
                                                                               program=program).first()
        if card is None:
            card = issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.pk,
                                      program_id=program.pk, type=CardType.VIRTUAL, actor="system:seed_demo")
        issuing.card_account_fund(account_id=card.account_id, amount=DEMO_FUNDING, reference=f"seed-{card.account_id}",
                                  actor="system:seed_demo")

        data.update({"live_client_id": client.client_id, "live_client_secret": secret, "issuing_program": program.pk,
                     "issuing_cardholder": holder.pk, "issuing_card": card.pk, "issuing_account": card.account_id})
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(self.style.SUCCESS("Demo data ready (test and live)."))
        for key, value in data.items():
            self.stdout.write(f"  {key:20} {value}")
