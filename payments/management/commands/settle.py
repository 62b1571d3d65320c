from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError

from payments import settlement


class Command(BaseCommand):
    help = "Settle captured payments and refunds up to the cutoff of a day (default today, UTC); then send payouts."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Settlement day, YYYY-MM-DD (default: today, UTC)")
        parser.add_argument("--no-payouts", action="store_true", help="Do not send the payouts now")

    def handle(self, *args, **options):
        try:
            period = date.fromisoformat(options["date"]) if options["date"] else datetime.now(UTC).date()
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD")
        ids = settlement.settlement_run(period=period, actor="system:manage.py settle")
        self.stdout.write(f"{len(ids)} settlement(s) for {period}: {' '.join(ids) or '-'}")
        if not options["no_payouts"]:
            self.stdout.write(f"payouts: {settlement.payouts_send()}")
