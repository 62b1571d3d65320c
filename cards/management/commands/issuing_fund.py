"""Fund a debit or prepaid card account (card issuing, #4): money received for the cardholder.

`python manage.py issuing_fund iacct_... 250000 --reference WIRE-2024-0001` posts DR bank cash,
CR the account's available balance, exactly once per reference (the same reference again does
nothing; with another amount it is refused). The same as the admin action "Fund" on card accounts.
"""

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError

from ... import issuing
from ...issuing_models import CardAccount
from ...issuing_selectors import account_balances


class Command(BaseCommand):
    help = "Credit money received to a debit or prepaid card account (once per reference)."

    def add_arguments(self, parser):
        parser.add_argument("account", help="the card account's id (iacct_...)")
        parser.add_argument("amount", type=int, help="minor units of the account's currency (cents)")
        parser.add_argument("--reference", required=True, help="the incoming transfer's reference (once each)")
        parser.add_argument("--actor", default="system:issuing_fund", help="who funds (kept on the ledger entry)")

    def handle(self, *args, account, amount, reference, actor, **options):
        try:
            entry = issuing.card_account_fund(account_id=account, amount=amount, reference=reference, actor=actor)
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} ({exc.code})") from None
        balances = account_balances(CardAccount.objects.get(pk=account))
        self.stdout.write(f"{entry.id} {account}: available {balances['available']}, held {balances['held']}")
