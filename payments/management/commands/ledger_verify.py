from django.core.management.base import BaseCommand, CommandError

from payments.verification import verify_all


class Command(BaseCommand):
    help = "Check every money invariant (ledger balanced, cached balances, payments, settlements). Exit 1 on a break."

    def handle(self, *args, **options):
        problems = verify_all()
        if problems:
            for problem in problems:
                self.stderr.write(f"BROKEN: {problem}")
            raise CommandError(f"{len(problems)} invariant(s) broken")
        self.stdout.write(self.style.SUCCESS("ledger verified: every invariant holds"))
