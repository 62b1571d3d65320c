"""Card data key rotation: move every encrypted PAN onto the current data-key version.

Every table that stores PANs through the vault is registered here (`EncryptedPanTable`): a
ciphertext column, a key-version column, and the record's primary key (as a string) bound as
associated data, exactly as `vault.encrypt_pan(number, record_id=...)` wrote it. Adding a table
is one `register_encrypted_pan_table(...)` line at the bottom of this module.

Re-encryption walks a table in primary-key order (keyset: `pk > cursor`), one batch per short
transaction: the batch's rows still on an old version are locked (`SELECT ... FOR UPDATE`),
decrypted with their version, encrypted with the current one and written back, and the
transaction commits. So:

- new traffic goes on: new records are written under the current version and are never picked;
  readers see either the old ciphertext with the old version or the new with the new (one row,
  one UPDATE), and the old version still decrypts;
- it is safe against itself: two runs lock the same rows in the same order, the second finds the
  rows already on the current version (PostgreSQL re-checks the WHERE clause after the lock) and
  skips them;
- it resumes after a crash: a batch is all or nothing, and the cursor (a primary key, never card
  data) says where to go on. Starting again from the beginning is also correct, only slower.

A record that does not decrypt (tampered, or encrypted under another key with the same version)
is logged by id, counted as failed and left as it is: its version then cannot be retired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from django.apps import apps
from django.db import transaction
from django.db.models import Count

from .vault import decrypt_pan, encrypt_pan, keyring

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class EncryptedPanTable:
    """A model whose rows hold a PAN encrypted by the vault."""

    model: str  # "app_label.ModelName"
    ciphertext_field: str = "pan_ciphertext"
    version_field: str = "key_version"

    @property
    def label(self) -> str:
        return self.model.lower()

    def model_class(self):
        return apps.get_model(self.model)

    def rows(self):
        """Every row, unfiltered (a custom default manager must not hide records from the rotation)."""
        return self.model_class()._base_manager.all()


ENCRYPTED_PAN_TABLES: dict[str, EncryptedPanTable] = {}


def register_encrypted_pan_table(table: EncryptedPanTable) -> EncryptedPanTable:
    ENCRYPTED_PAN_TABLES[table.label] = table
    return table


def encrypted_pan_table(label: str) -> EncryptedPanTable:
    try:
        return ENCRYPTED_PAN_TABLES[label.lower()]
    except KeyError:
        known = ", ".join(sorted(ENCRYPTED_PAN_TABLES))
        raise ValueError(f"{label!r} is not an encrypted-PAN table (known: {known})") from None


class KeyRetirementRefused(Exception):
    """A key version cannot be retired: records are still encrypted with it, or it is the current one."""


# --- Reads ---------------------------------------------------------------------------------------


def key_version_counts() -> dict[str, dict[int, int]]:
    """{table: {key version: records}} over every registered table (records without ciphertext left out)."""
    counts = {}
    for label, table in sorted(ENCRYPTED_PAN_TABLES.items()):
        rows = (
            table.rows()
            .filter(**{f"{table.version_field}__isnull": False})
            .values_list(table.version_field)
            .annotate(n=Count("pk"))
            .order_by(table.version_field)
        )
        counts[label] = dict(rows)
    return counts


def records_on_version(version: int) -> dict[str, int]:
    """{table: records} still encrypted with `version`, for the tables that have any."""
    found = {}
    for label, table in sorted(ENCRYPTED_PAN_TABLES.items()):
        count = table.rows().filter(**{table.version_field: version}).count()
        if count:
            found[label] = count
    return found


def stranded_records() -> dict[str, dict[int, int]]:
    """{table: {version: records}} on versions this process cannot decrypt (retired or not configured)."""
    decryptable = keyring().decryptable
    stranded = {}
    for label, versions in key_version_counts().items():
        lost = {version: n for version, n in versions.items() if version not in decryptable}
        if lost:
            stranded[label] = lost
    return stranded


def retirement_check(version: int) -> None:
    """Raise KeyRetirementRefused unless `version` can be retired: not current, no record left on it."""
    ring = keyring()
    if version == ring.current:
        raise KeyRetirementRefused(
            f"Card data key version {version} is the current version (CARD_DATA_KEY_VERSION): make another version "
            f"current and re-encrypt before retiring it."
        )
    left = records_on_version(version)
    if left:
        where = ", ".join(f"{table}: {n}" for table, n in left.items())
        raise KeyRetirementRefused(
            f"Card data key version {version} cannot be retired: {sum(left.values())} record(s) are still encrypted "
            f"with it ({where}). Run `manage.py rotate_card_keys --inline` (or --start) and check again."
        )


# --- Writes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    table: str
    cursor: str | int | None  # the last primary key examined: pass it as `after` to go on from there
    reencrypted: int
    failed: int  # rows that did not decrypt: logged by id, left on their version
    done: bool  # no row on an old version left after the cursor


@dataclass(frozen=True)
class RunResult:
    table: str
    cursor: str | int | None
    batches: int
    reencrypted: int
    failed: int
    done: bool

    def as_dict(self) -> dict:
        """JSON-safe summary (a Celery result): counts and a primary key, never card data."""
        return asdict(self)


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}")


def reencrypt_batch(*, table: str, after: str | int | None = None, batch_size: int) -> BatchResult:
    """Re-encrypt, under the current key, up to `batch_size` rows after `after` (primary key) that are still
    on an old version. One transaction, the rows locked while they change."""
    _check_batch_size(batch_size)
    spec = encrypted_pan_table(table)
    ring = keyring()
    old = sorted(ring.old_versions)
    if not old:
        return BatchResult(table=spec.label, cursor=after, reencrypted=0, failed=0, done=True)
    cipher, version_field = spec.ciphertext_field, spec.version_field
    with transaction.atomic():
        rows = spec.rows().select_for_update().filter(**{f"{version_field}__in": old})
        if after is not None:
            rows = rows.filter(pk__gt=after)
        rows = list(rows.order_by("pk").only("pk", cipher, version_field)[:batch_size])
        if not rows:
            return BatchResult(table=spec.label, cursor=after, reencrypted=0, failed=0, done=True)
        changed, failed = [], 0
        for row in rows:
            record_id = str(row.pk)
            try:
                number = decrypt_pan(getattr(row, cipher), key_version=getattr(row, version_field),
                                     record_id=record_id)
            except InvalidTag:
                failed += 1
                logger.error("Card data rotation: %s %s does not decrypt with key version %s; left as it is",
                             spec.label, record_id, getattr(row, version_field))
                continue
            blob, version = encrypt_pan(number, record_id=record_id)
            if decrypt_pan(blob, key_version=version, record_id=record_id).reveal() != number.reveal():
                raise AssertionError(f"re-encryption of {spec.label} {record_id} does not round-trip")
            setattr(row, cipher, blob)
            setattr(row, version_field, version)
            changed.append(row)
        if changed:
            spec.model_class()._base_manager.bulk_update(changed, [cipher, version_field])
    logger.debug("Card data rotation: %s batch after %s: %s re-encrypted, %s failed", spec.label, after,
                 len(changed), failed)
    return BatchResult(table=spec.label, cursor=rows[-1].pk, reencrypted=len(changed), failed=failed, done=False)


def rotate_table(*, table: str, after: str | int | None = None, batch_size: int, max_batches: int | None = None,
                 on_batch: Callable[[BatchResult], None] | None = None) -> RunResult:
    """Batches one after another from `after` until the table is done, or `max_batches` have run."""
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 1):
        raise ValueError("max_batches must be a positive integer")
    label = encrypted_pan_table(table).label
    cursor, batches, reencrypted, failed, done = after, 0, 0, 0, False
    while max_batches is None or batches < max_batches:
        result = reencrypt_batch(table=label, after=cursor, batch_size=batch_size)
        if result.done:
            done = True
            break
        batches += 1
        cursor = result.cursor
        reencrypted += result.reencrypted
        failed += result.failed
        if on_batch is not None:
            on_batch(result)
    run = RunResult(table=label, cursor=cursor, batches=batches, reencrypted=reencrypted, failed=failed, done=done)
    logger.info("Card data rotation: %s to key version %s: %s batch(es), %s re-encrypted, %s failed, %s",
                label, keyring().current, batches, reencrypted, failed, "done" if done else f"paused after {cursor}")
    return run


register_encrypted_pan_table(EncryptedPanTable("cards.Card"))
