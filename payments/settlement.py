"""Settlement and payouts: every write, set-based where it counts.

The items a settlement pays out (captured payments, refunds drawn on the pending balance) are
numbered when they are booked: each takes the next number of its merchant's settlement sequence
(one per merchant, currency and mode: `SettlementSequence`) and a booking time, under that row's
lock (`sequence_book`). So the numbers follow the commits, the times never go back, and the items
booked before any cutoff are the numbers up to some N: a settlement is a range of the sequence.

`settlement_run(period=...)` settles, for every sequence with items not settled yet, those booked
before the cutoff. In ONE transaction, with a few SQL statements over the whole set:

1. the sequences with something to settle, locked in a fixed order (a capture or refund of those
   merchants waits for the run: what it books comes after the range);
2. one aggregate over the items after each sequence's `settled` number booked before the cutoff:
   count, gross, refunds, fees and the last number N, checked to be exactly the numbers
   `settled` + 1 .. N (a gap would be an item booked out of order: that sequence is not settled
   and the run says so loudly);
3. one Settlement per sequence, whole and final (`completed`): its totals, the negative total carried
   in from the merchant's previous one, and the range (`seq_from`, `seq_to`] (UNIQUE (merchant,
   currency, livemode, period): a period is settled exactly once), with its event row; the
   sequences moved to N with one UPDATE;
4. for every batch at once (the same statements for 1 batch or 10,000): the ledger entries moving
   each total from pending to available (and the scheme's funds into bank cash), the payouts when
   positive, and the events.

Nothing is written per item: a settlement's lines are the items in its range, read through the
`payments_settlementline` view, and a payment is settled when its number is at most its sequence's
`settled`. A worker killed anywhere in between rolls the whole run back (no settlement, no sequence
moved) and the task, delivered again (`acks_late`), starts over; a run repeated after success finds
the period settled and does nothing. A PostgreSQL advisory lock serializes concurrent runs.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import NotFound, StateError
from ledger import services as ledger
from ledger.constants import AccountPurpose, EntryType
from ledger.services import Line
from merchants import selectors as merchant_selectors
from merchants.iban import iban_is_valid

from .constants import PAYOUT_TRANSITIONS, PayoutStatus, SettlementStatus
from .models import Payout, PayoutEvent, Settlement, SettlementEvent, SettlementSequence

logger = logging.getLogger(__name__)

_ADVISORY_LOCK_KEY = 3_000_003  # settlement runs, one at a time


def _checkpoint(stage: str) -> None:
    """A named point inside the run's transaction (the worker-kill test stops a process here)."""


def default_cutoff(period: date) -> datetime:
    return datetime.combine(period, time(settings.SETTLEMENT_CUTOFF_HOUR, settings.SETTLEMENT_CUTOFF_MINUTE), UTC)


def _execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- The settlement sequence ---------------------------------------------------------------------

_DATETIME = models.DateTimeField()


def sequence_book(*, merchant_id: str, currency: str, livemode: bool) -> tuple[int, int, datetime]:
    """Book an item for settlement: (its sequence's id, its number, its booking time) in the merchant's sequence.

    One upsert, which locks the sequence's row to the caller's commit: the numbers are handed out in
    commit order, and the booking time is the later of the clock and the previous item's, so it
    never goes back. Called inside the transaction that books the item (its capture or refund),
    before any ledger entry: lock order sequence -> ledger accounts, like a settlement run's.
    """
    table = "payments_settlementsequence"
    now = _DATETIME.get_db_prep_value(timezone.now(), connection)
    [(sequence_id, number, booked_at)] = _fetch(f"""
        INSERT INTO {table} (merchant_id, currency, livemode, booked, booked_at, settled)
        VALUES (%s, %s, %s, 1, %s, 0)
        ON CONFLICT (merchant_id, currency, livemode) DO UPDATE SET booked = {table}.booked + 1,
            booked_at = CASE WHEN {table}.booked_at > excluded.booked_at THEN {table}.booked_at
                             ELSE excluded.booked_at END
        RETURNING id, booked, booked_at""", [merchant_id, currency, livemode, now])  # noqa: S608 (ours)
    if isinstance(booked_at, str):  # SQLite
        booked_at = parse_datetime(booked_at)
    if timezone.is_naive(booked_at):
        booked_at = timezone.make_aware(booked_at, UTC)
    return sequence_id, number, booked_at


def sequence_settled(*, sequence_id: int | None) -> int:
    """The last settled number of a sequence, read under its row's lock: a settlement run settling it
    holds that lock, so this waits and then sees the run's outcome."""
    if sequence_id is None:
        return 0
    return SettlementSequence.objects.select_for_update().values_list("settled", flat=True).get(pk=sequence_id)


def _sequence_totals(sequences: list[SettlementSequence], cutoff: datetime) -> list[tuple]:
    """Per sequence, over its items after `settled` booked before `cutoff`: (sequence id, payments, gross, fees,
    last payment number, refunds, refunded, last refund number). One statement.

    On PostgreSQL, one index-only range scan per sequence of the covering indexes payment_settlement_seq and
    refund_settlement_seq (migration payments/0005): keyed by (sequence id, number), they hold the amounts and
    the time of every booked item in sequence order, so the run reads a few dozen bytes per item, in order,
    never the payments' rows. The sequences are literal arrays: the planner knows exactly how many there are.
    """
    ids = [q.pk for q in sequences]
    if connection.vendor == "postgresql":
        return _fetch("""
            SELECT s.id, p.n, COALESCE(p.gross, 0), COALESCE(p.fees, 0), COALESCE(p.last, 0),
                   r.n, COALESCE(r.refunded, 0), COALESCE(r.last, 0)
              FROM unnest(%s::bigint[], %s::bigint[]) AS s(id, settled)
             CROSS JOIN LATERAL (
                   SELECT COUNT(*) AS n, SUM(amount_captured) AS gross, SUM(fee) AS fees, MAX(settlement_seq) AS last
                     FROM payments_payment WHERE settlement_sequence_id = s.id AND settlement_seq > s.settled
                      AND captured_at < %s) p
             CROSS JOIN LATERAL (
                   SELECT COUNT(*) AS n, SUM(amount) AS refunded, MAX(settlement_seq) AS last
                     FROM payments_refund WHERE settlement_sequence_id = s.id AND settlement_seq > s.settled
                      AND booked_at < %s) r""", [ids, [q.settled for q in sequences], cutoff, cutoff])
    marks = ", ".join(["%s"] * len(ids))
    return _fetch(f"""
        SELECT s.id,
               (SELECT COUNT(*) FROM payments_payment p WHERE {_IN_SEQUENCE.format(item="p")} AND p.captured_at < %s),
               (SELECT COALESCE(SUM(p.amount_captured), 0) FROM payments_payment p
                 WHERE {_IN_SEQUENCE.format(item="p")} AND p.captured_at < %s),
               (SELECT COALESCE(SUM(p.fee), 0) FROM payments_payment p
                 WHERE {_IN_SEQUENCE.format(item="p")} AND p.captured_at < %s),
               (SELECT COALESCE(MAX(p.settlement_seq), 0) FROM payments_payment p
                 WHERE {_IN_SEQUENCE.format(item="p")} AND p.captured_at < %s),
               (SELECT COUNT(*) FROM payments_refund r WHERE {_IN_SEQUENCE.format(item="r")} AND r.booked_at < %s),
               (SELECT COALESCE(SUM(r.amount), 0) FROM payments_refund r
                 WHERE {_IN_SEQUENCE.format(item="r")} AND r.booked_at < %s),
               (SELECT COALESCE(MAX(r.settlement_seq), 0) FROM payments_refund r
                 WHERE {_IN_SEQUENCE.format(item="r")} AND r.booked_at < %s)
          FROM payments_settlementsequence s WHERE s.id IN ({marks})""",  # noqa: S608 (ours)
                  [*([_DATETIME.get_db_prep_value(cutoff, connection)] * 7), *ids])


# SQLite (no LATERAL): one correlated subquery per figure, each an index range scan of the sequence's items.
_IN_SEQUENCE = "{item}.settlement_sequence_id = s.id AND {item}.settlement_seq > s.settled"


def settlement_run(*, period: date, cutoff: datetime | None = None, actor: str = "system:settlement") -> list[str]:
    """Settle everything booked before `cutoff` (default: the period's cutoff time). Returns the new settlement ids."""
    cutoff = cutoff or default_cutoff(period)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
            # The totals are index-only range scans: compiling them (JIT, which the planner's estimate for a
            # million items triggers) costs more than it saves, 80-100 ms of a million-payment run here.
            _execute("SET LOCAL jit = off")
        done = set(Settlement.objects.filter(period=period).values_list("merchant_id", "currency", "livemode"))
        sequences = {q.pk: q for q in SettlementSequence.objects.select_for_update().filter(booked__gt=F("settled"))
                     .order_by("pk") if (q.merchant_id, q.currency, q.livemode) not in done}
        if not sequences:
            return []
        _checkpoint("sequences_locked")
        totals = _sequence_totals(list(sequences.values()), cutoff)
        _checkpoint("totals_computed")
        batches, moved = [], []
        for sid, payments, gross, fees, last_payment, refunds, refunded, last_refund in totals:
            seq, items, last = sequences[sid], payments + refunds, max(last_payment, last_refund)
            if not items:
                continue
            if items != last - seq.settled:
                logger.error("settlement sequence %s (%s %s %s) has %d item(s) booked before %s among numbers "
                             "%d-%d: out of order, not settled; run ledger_verify", seq.pk, seq.merchant_id,
                             seq.currency, "live" if seq.livemode else "test", items, cutoff.isoformat(),
                             seq.settled + 1, last)
                continue
            net = gross - refunded - fees
            batches.append(Settlement(merchant_id=seq.merchant_id, currency=seq.currency, livemode=seq.livemode,
                                      sequence=seq, period=period, cutoff=cutoff, status=SettlementStatus.COMPLETED,
                                      payment_count=payments, refund_count=refunds, gross=gross, refunds=refunded,
                                      fees=fees, net=net, total=net, seq_from=seq.settled, seq_to=last))
            seq.settled = last
            moved.append(seq)
        if not batches:
            return []
        batches.sort(key=lambda stl: (stl.merchant_id, stl.currency, stl.livemode))
        _carry_in(batches)
        Settlement.objects.bulk_create(batches)  # whole and final: nothing is attached to a settlement later
        SettlementEvent.objects.bulk_create([
            SettlementEvent(settlement=stl, type="settlement.created", to_status=stl.status, actor=actor)
            for stl in batches])
        _update_rows(moved, ["settled"])
        _checkpoint("settlements_created")
        _settlements_pay(batches, actor=actor)
        ids = [stl.pk for stl in batches]
        _checkpoint("completed")
    logger.info("settled %d batch(es) for %s (cutoff %s)", len(ids), period, cutoff.isoformat())
    return ids


def _carry_in(batches: list[Settlement]) -> None:
    """Each new batch takes over the negative total of its merchant's last settlement not carried yet (same
    currency and mode): total = net + carried in; a negative total is carried forward, not paid."""
    carries = (Settlement.objects.filter(merchant_id__in={stl.merchant_id for stl in batches},
                                         carried_forward__lt=0, carried_to__isnull=True)
               .order_by("-period", "-pk"))
    previous: dict[tuple, Settlement] = {}
    for carry in carries:
        previous.setdefault((carry.merchant_id, carry.currency, carry.livemode), carry)
    for stl in batches:
        carry = previous.get((stl.merchant_id, stl.currency, stl.livemode))
        if carry is not None:
            stl.carried_in, stl.carried_from = carry.carried_forward, carry
        stl.total = stl.net + stl.carried_in
        stl.carried_forward = min(stl.total, 0)


def _settlements_pay(batches: list[Settlement], *, actor: str) -> None:
    """Ledger, payouts and events of every batch of the run, inside the run's transaction: a fixed number of
    statements whatever the number of batches (one ledger call for every entry, bulk INSERTs), never a round
    of statements per merchant."""
    entries = []
    for stl in batches:
        lines = []
        if stl.total > 0:
            lines += [Line(AccountPurpose.MERCHANT_PENDING, stl.total, stl.merchant_id),
                      Line(AccountPurpose.MERCHANT_AVAILABLE, -stl.total, stl.merchant_id)]
        funded = stl.gross - stl.refunds  # the schemes pay the bank captures less refunds
        if funded:
            lines += [Line(AccountPurpose.BANK_CASH, funded), Line(AccountPurpose.SCHEME_RECEIVABLE, -funded)]
        if lines:
            entries.append(ledger.NewEntry(key=f"settlement:{stl.pk}", type=EntryType.SETTLEMENT,
                                           currency=stl.currency, livemode=stl.livemode, merchant_id=stl.merchant_id,
                                           source=stl.pk, amount=max(stl.total, 0), lines=lines))
    payouts = _payouts_create([stl for stl in batches if stl.total > 0], actor=actor)
    # In order: each settlement's entry (pending -> available), then the payouts' (available -> clearing).
    ledger.entries_post(entries=entries + [
        ledger.NewEntry(key=f"payout:{payout.pk}", type=EntryType.PAYOUT, currency=payout.currency,
                        livemode=payout.livemode, merchant_id=payout.merchant_id, source=payout.pk,
                        amount=-payout.amount,
                        lines=[Line(AccountPurpose.MERCHANT_AVAILABLE, payout.amount, payout.merchant_id),
                               Line(AccountPurpose.PAYOUT_CLEARING, -payout.amount)])
        for payout in payouts])
    _publish("settlement.created", batches)
    _publish("payout.created", payouts)


def _update_rows(objs: list, fields: list[str]) -> None:
    """Write `fields` of every object with one `UPDATE ... FROM (VALUES ...)` (the ORM's bulk_update builds a
    CASE per field and row: a quarter of a second for a hundred settlements)."""
    model = type(objs[0])
    table, pk = connection.ops.quote_name(model._meta.db_table), model._meta.pk
    columns = [model._meta.get_field(name) for name in fields]
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = v.column{i}" for i, f in enumerate(columns, start=2))
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    params = [value for obj in objs for value in (
        pk.get_db_prep_save(obj.pk, connection),
        *(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns))]
    _execute(f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * len(objs))}) AS v "  # noqa: S608 (ours)
             f"WHERE {table}.{connection.ops.quote_name(pk.column)} = v.column1", params)


# --- Payouts -------------------------------------------------------------------------------------


def _payouts_create(batches: list[Settlement], *, actor: str) -> list[Payout]:
    """A pending payout for each batch (its total, to the merchant's bank account) and its event row. The
    ledger entries are the caller's (posted with the settlements')."""
    ibans = merchant_selectors.merchant_payout_ibans(merchant_ids={stl.merchant_id for stl in batches})
    payouts = []
    for stl in batches:
        payout = Payout(settlement=stl, merchant_id=stl.merchant_id, livemode=stl.livemode, amount=stl.total,
                        currency=stl.currency, status=PayoutStatus.PENDING,
                        iban_last4=(ibans.get(stl.merchant_id) or "")[-4:])
        stl.payout = payout  # the settlement's representation (its event) shows its payout
        payouts.append(payout)
    Payout.objects.bulk_create(payouts)
    PayoutEvent.objects.bulk_create([PayoutEvent(payout=payout, type="payout.created", to_status=PayoutStatus.PENDING,
                                                 actor=actor) for payout in payouts])
    return payouts


def payout_transition(*, payout_id: str, to_status: str, failure_code: str = "", bank_reference: str = "",
                      actor: str = "") -> Payout:
    """The one place a payout's status changes: lock, check the table, write, event, ledger.

    paid: the payout clearing account is settled against bank cash. failed: the payout's entry is
    reversed, so the money is back in the merchant's available balance.
    """
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
        if payout is None:
            raise NotFound("No such payout.", param="id")
        if to_status not in PAYOUT_TRANSITIONS.get(payout.status, set()):
            raise StateError(f"This payout is {payout.status}; it cannot become {to_status}.",
                             code="payout_unexpected_state")
        from_status, payout.status = payout.status, to_status
        payout.failure_code = failure_code if to_status == PayoutStatus.FAILED else ""
        if bank_reference:
            payout.bank_reference = bank_reference
        if to_status == PayoutStatus.PAID:
            payout.arrival_date = datetime.now(UTC).date()
        payout.save(update_fields=["status", "failure_code", "bank_reference", "arrival_date", "updated"])
        PayoutEvent.objects.create(payout=payout, type=f"payout.{to_status}", from_status=from_status,
                                   to_status=to_status, failure_code=payout.failure_code, actor=actor)
        if to_status == PayoutStatus.PAID:
            ledger.entry_post(key=f"payout_paid:{payout.pk}", type=EntryType.PAYOUT_PAID, currency=payout.currency,
                              livemode=payout.livemode, source=payout.pk,
                              lines=[Line(AccountPurpose.PAYOUT_CLEARING, payout.amount),
                                     Line(AccountPurpose.BANK_CASH, -payout.amount)])
        elif to_status == PayoutStatus.FAILED:
            entry = ledger.entry_get(key=f"payout:{payout.pk}")
            ledger.entry_reverse(entry=entry, key=f"payout_failure:{payout.pk}", type=EntryType.PAYOUT_FAILURE,
                                 description=f"Payout failed: {failure_code or 'unknown'}")
        if to_status in (PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.IN_TRANSIT):
            _publish(f"payout.{to_status}", payout)
    return payout


def payouts_send(*, limit: int = 500) -> dict[str, int]:
    """Send pending payouts to the bank (in_transit), or fail those without a valid bank account.

    The bank transfer itself is simulated: test-mode payouts already in transit are marked paid on
    the next run; live-mode ones wait for the bank's answer (admin actions: mark paid / failed).
    """
    counts = {"in_transit": 0, "failed": 0, "paid": 0}
    for payout in Payout.objects.filter(status=PayoutStatus.IN_TRANSIT, livemode=False).order_by("pk")[:limit]:
        _try(payout_transition, payout_id=payout.pk, to_status=PayoutStatus.PAID, actor="system:bank-simulator")
        counts["paid"] += 1
    for payout in Payout.objects.filter(status=PayoutStatus.PENDING).select_related("merchant").order_by("pk")[:limit]:
        if iban_is_valid(payout.merchant.payout_iban):
            _try(payout_transition, payout_id=payout.pk, to_status=PayoutStatus.IN_TRANSIT,
                 bank_reference=f"sct_{payout.pk[3:]}", actor="system:payouts")
            counts["in_transit"] += 1
        else:
            _try(payout_transition, payout_id=payout.pk, to_status=PayoutStatus.FAILED,
                 failure_code="no_bank_account", actor="system:payouts")
            counts["failed"] += 1
    return counts


def _try(fn, **kwargs):
    try:
        return fn(**kwargs)
    except StateError:  # another worker moved it first
        return None


# --- Events (issue #6's outbox) ------------------------------------------------------------------


def _publish(event_type: str, objs) -> None:
    """Publish through the events outbox (merchants.services.events_publish), in the same transaction as
    the change, with each object as the API shows it. The SettlementEvent / PayoutEvent rows are the
    append-only record of the state change itself."""
    from merchants.services import events_publish

    from .api.settlement_serializers import PayoutSerializer, SettlementSerializer

    objs = objs if isinstance(objs, list) else [objs]
    if not objs:
        return
    is_settlement = isinstance(objs[0], Settlement)
    if is_settlement:
        relation = Settlement.payout.related
        for stl in objs:  # no payout (a batch without a positive total): known, without a query each
            if not relation.is_cached(stl):
                relation.set_cached_value(stl, None)
    data = (SettlementSerializer if is_settlement else PayoutSerializer)(objs, many=True).data
    events_publish(events=[
        {"merchant_id": obj.merchant_id, "livemode": obj.livemode, "type": event_type,
         "object_type": "settlement" if is_settlement else "payout", "object_id": obj.pk, "data": dict(item)}
        for obj, item in zip(objs, data, strict=True)])
