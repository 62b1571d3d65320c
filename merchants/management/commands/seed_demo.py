"""Demo data for a newcomer: a staff superuser, an active demo merchant with a portal owner, a test-mode
API client.

The portal owner logs in at /portal/login/ as `portal_login` (owner@demo-merchant.example) with the same
password as the staff user (`staff_password`).

Idempotent: run it as often as you like. The demo client always ends up holding every merchant
scope that exists. Its secret is derived from SECRET_KEY, so it is stable for one installation
and can be printed again (`--json`), yet is stored hashed like every other secret.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.scopes import MERCHANT_SCOPES
from merchants import accounts, services
from merchants.constants import MemberRole, MerchantStatus
from merchants.models import ApiClient, Merchant, MerchantMember

DEMO_MERCHANT_NAME = "Demo Merchant"
DEMO_CLIENT_ID = "demo_test_client"
STAFF_USERNAME = "admin"
DEMO_OWNER_USERNAME = "demo-owner"
DEMO_OWNER_EMAIL = "owner@demo-merchant.example"


def _derived(label: str, length: int) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).hexdigest()[:length]


class Command(BaseCommand):
    help = "Create or refresh the demo staff user, demo merchant and its test-mode API client."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON only")

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates well-known credentials; it refuses to run in production.")
        User = get_user_model()
        staff_password = f"demo-{_derived('staff-password', 12)}"
        staff, _ = User.objects.get_or_create(username=STAFF_USERNAME, defaults={"email": "admin@example.com"})
        staff.is_staff = staff.is_superuser = staff.is_active = True
        staff.set_password(staff_password)
        staff.save()

        merchant = Merchant.objects.filter(name=DEMO_MERCHANT_NAME).order_by("created").first()
        if merchant is None:
            merchant = services.merchant_create(name=DEMO_MERCHANT_NAME, country="DE", default_currency="EUR",
                                                support_email="support@demo-merchant.example")
        if merchant.status != MerchantStatus.ACTIVE:
            services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.ACTIVE,
                                         actor="system:seed_demo", note="Demo merchant")

        # The merchant's portal owner: an active log-in with the documented e-mail address and the printed
        # password, owner of the demo merchant with a confirmed e-mail address; every run restores all but the
        # confirmation (which only member_add sets).
        owner, _ = User.objects.get_or_create(username=DEMO_OWNER_USERNAME, defaults={"email": DEMO_OWNER_EMAIL})
        owner.email, owner.is_active = DEMO_OWNER_EMAIL, True
        owner.set_password(staff_password)
        owner.save()
        membership = MerchantMember.objects.filter(user=owner).first()
        if membership is None:
            services.member_add(merchant=merchant, user=owner, role=MemberRole.OWNER, email_verified=True)
        elif membership.merchant_id != merchant.pk:
            raise CommandError(f"The demo owner log-in {DEMO_OWNER_USERNAME} works for another merchant "
                               f"({membership.merchant_id}); remove it from that merchant first.")
        elif membership.role != MemberRole.OWNER:
            accounts.member_set_role(merchant=merchant, member_id=membership.pk, role=MemberRole.OWNER)

        secret = f"demo_secret_{_derived('demo-client-secret', 40)}"
        client = ApiClient.objects.filter(client_id=DEMO_CLIENT_ID).first()
        if client is None:
            client, _ = services.api_client_create(merchant=merchant, name="Demo test client", livemode=False,
                                                   scopes=MERCHANT_SCOPES, client_id=DEMO_CLIENT_ID,
                                                   client_secret=secret)
        else:
            services.api_client_set_scopes(client=client, scopes=MERCHANT_SCOPES)
            services.api_client_set_secret(client=client, secret=secret)

        data = {
            "base_url": settings.BASE_URL,
            "merchant_id": merchant.pk,
            "client_id": client.client_id,
            "client_secret": secret,
            "staff_username": STAFF_USERNAME,
            "staff_password": staff_password,
            "portal_login": DEMO_OWNER_EMAIL,
        }
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for key, value in data.items():
            self.stdout.write(f"  {key:16} {value}")
        self.stdout.write(f"  {'scopes':16} {' '.join(MERCHANT_SCOPES)}")
        self.stdout.write(f"  {'portal':16} {settings.BASE_URL.rstrip('/')}/portal/ (log in as portal_login "
                          "with staff_password)")
