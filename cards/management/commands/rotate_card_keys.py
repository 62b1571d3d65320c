from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cards import rotation
from cards.tasks import rotate_card_keys_start
from cards.vault import keyring


def _versions(versions) -> str:
    return ", ".join(str(v) for v in sorted(versions)) or "none"


class Command(BaseCommand):
    help = (
        "Card data key rotation. Without options: how many records each key version encrypts, per table. "
        "--inline re-encrypts every record on an old version under the current one, here, batch by batch; "
        "--start does it in the Celery job instead; --check-retire V tells whether version V can be retired."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--inline", action="store_true", help="Re-encrypt in this process, batch by batch")
        action.add_argument("--start", action="store_true", help="Enqueue the Celery job (cards.rotate_card_keys)")
        action.add_argument("--check-retire", type=int, metavar="VERSION",
                            help="Exit 0 if no record is left on VERSION (it can be retired), 1 otherwise")
        parser.add_argument("--table", help="Only this table (e.g. cards.card); default: every encrypted-PAN table")
        parser.add_argument("--after", help="--inline: resume after this primary key (printed by an earlier run)")
        parser.add_argument("--batch-size", type=int, default=None,
                            help=f"--inline: records per transaction (default CARD_KEY_ROTATION_BATCH_SIZE, "
                                 f"1 to {rotation.MAX_BATCH_SIZE})")
        parser.add_argument("--max-batches", type=int, default=None,
                            help="--inline: stop after this many batches (and print where to resume)")

    def handle(self, *args, **options):
        try:
            tables = [rotation.encrypted_pan_table(options["table"]).label] if options["table"] else sorted(
                rotation.ENCRYPTED_PAN_TABLES)
        except ValueError as exc:
            raise CommandError(str(exc))
        if not options["inline"]:
            for name in ("after", "batch_size", "max_batches"):
                if options[name] is not None:
                    raise CommandError(f"--{name.replace('_', '-')} goes with --inline")
        if options["check_retire"] is not None:
            return self.check_retire(options["check_retire"])
        if options["start"]:
            started = rotate_card_keys_start() if not options["table"] else self.start_one(tables[0])
            self.stdout.write(f"Enqueued the rotation job (cards.rotate_card_keys) for: {', '.join(started)}. "
                              f"Run this command without options to follow the counts.")
            return
        if options["inline"]:
            self.inline(tables, options)
        self.report(tables)

    def start_one(self, table):
        from cards.tasks import rotate_card_keys

        rotate_card_keys.apply_async(kwargs={"table": table})
        return [table]

    def inline(self, tables, options):
        if options["after"] is not None and len(tables) != 1:
            raise CommandError("--after needs --table: a cursor belongs to one table")
        batch_size = settings.CARD_KEY_ROTATION_BATCH_SIZE if options["batch_size"] is None else options["batch_size"]
        if not 1 <= batch_size <= rotation.MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be from 1 to {rotation.MAX_BATCH_SIZE}")
        if options["max_batches"] is not None and options["max_batches"] < 1:
            raise CommandError("--max-batches must be at least 1")
        current = keyring().current
        for table in tables:
            def progress(batch, table=table):
                self.stdout.write(f"  {table}: {batch.reencrypted} re-encrypted, {batch.failed} failed, "
                                  f"up to {batch.cursor}")

            run = rotation.rotate_table(table=table, after=options["after"], batch_size=batch_size,
                                        max_batches=options["max_batches"], on_batch=progress)
            state = "done" if run.done else (
                f"stopped after {run.batches} batch(es); resume with --inline --table {table} --after {run.cursor}")
            self.stdout.write(f"{table}: {run.reencrypted} record(s) re-encrypted to key version {current}, "
                              f"{run.failed} failed, {state}")
            if run.failed:
                self.stderr.write(f"{table}: {run.failed} record(s) did not decrypt (their ids are in the error log) "
                                  f"and stay on their version")

    def report(self, tables):
        ring = keyring()
        self.stdout.write(f"Card data keys: current version {ring.current}; decrypt only: "
                          f"{_versions(ring.old_versions)}; retired: {_versions(ring.retired)}")
        counts = rotation.key_version_counts()
        totals: dict[int, int] = {}
        for table in tables:
            versions = counts.get(table, {})
            if not versions:
                self.stdout.write(f"  {table}: no encrypted records")
            for version, n in versions.items():
                totals[version] = totals.get(version, 0) + n
                if version == ring.current:
                    state = "current"
                elif version in ring.old_versions:
                    state = "old: re-encrypt with --inline or --start"
                elif version in ring.retired:
                    state = "RETIRED: cannot be decrypted (see manage.py check --database default)"
                else:
                    state = "NOT CONFIGURED: cannot be decrypted (see manage.py check --database default)"
                self.stdout.write(f"  {table}: key version {version}: {n} record(s) ({state})")
        for version in sorted(ring.old_versions):
            left = totals.get(version, 0)
            verdict = "can be retired" if not left else f"cannot be retired yet ({left} record(s) left)"
            self.stdout.write(f"Version {version} {verdict}.")

    def check_retire(self, version):
        try:
            rotation.retirement_check(version)
        except rotation.KeyRetirementRefused as exc:
            raise CommandError(str(exc))
        self.stdout.write(self.style.SUCCESS(
            f"Card data key version {version} encrypts no record: it can be retired (add it to "
            f"CARD_DATA_KEYS_RETIRED, later remove it from CARD_DATA_KEYS and destroy the key)."))
