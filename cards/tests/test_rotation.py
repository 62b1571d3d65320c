"""Card data key rotation: the keyring, the batch job, the Celery task, the command, the retirement checks."""

import io
import json
import logging
import secrets
import threading

import pytest
from cryptography.exceptions import InvalidTag
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.db import InterfaceError, OperationalError

from cards import rotation, services, tasks
from cards.checks import check_card_key_versions
from cards.models import Card
from cards.vault import CardKeyUnavailable, CardNumber, Keyring, decrypt_pan, fingerprint, keyring, luhn_check_digit
from config.tests.test_settings import b64key, manage
from core.tests.threads import run_concurrently

from .factories import make_card
from .pci import contains_token, find_pans, log_record_texts, pans_in_log_records, scan_database
from .test_pci import ALL_PANS, CVCS, INVALID_NUMBERS, debug_logs, run_scenario  # noqa: F401  (debug_logs: fixture)

KEY_1 = b"\x01" * 32
KEY_2 = b"\x02" * 32
KEY_3 = b"\x03" * 32


def random_pan() -> str:
    body = "4" + "".join(secrets.choice("0123456789") for _ in range(14))
    return body + luhn_check_digit(body)


@pytest.fixture
def keys(settings):
    """Start on version 1 only; `keys.rotate_to(2)` adds version 2 and makes it current."""

    class Keys:
        def use(self, current, *, keys=None, retired=()):
            settings.CARD_DATA_KEYS = keys if keys is not None else {1: KEY_1, 2: KEY_2, 3: KEY_3}
            settings.CARD_DATA_KEYS_RETIRED = list(retired)
            settings.CARD_DATA_KEY_VERSION = current

        def rotate_to(self, version):
            self.use(version, keys={v: k for v, k in ((1, KEY_1), (2, KEY_2), (3, KEY_3)) if v <= version})

    k = Keys()
    k.use(1, keys={1: KEY_1})
    return k


def vault_cards(merchant, n):
    """n cards with distinct PANs: [(card, pan, fingerprint)]."""
    made = []
    for _ in range(n):
        pan = random_pan()
        card = make_card(merchant, number=pan)
        made.append((card, pan, card.fingerprint))
    return made


def assert_all_on(version, made):
    for card, pan, fp in made:
        row = Card.objects.get(pk=card.pk)
        assert row.key_version == version
        assert services.card_number(row).reveal() == pan
        assert row.fingerprint == fp == fingerprint(CardNumber(pan))


def counts():
    return rotation.key_version_counts()["cards.card"]


# --- The keyring ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keys": {1: KEY_1}, "current": 2}, "does not hold"),
        ({"keys": {1: KEY_1, 2: KEY_2}, "current": 2, "retired": [2]}, "cannot be retired"),
        ({"keys": {1: b"short"}, "current": 1}, "32 bytes"),
        ({"keys": {"1": KEY_1}, "current": 1}, "non-negative integer"),
    ],
)
def test_keyring_refuses_a_bad_configuration(kwargs, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        Keyring(**kwargs)


def test_keyring_names_versions_never_keys():
    ring = Keyring(keys={1: KEY_1, 2: KEY_2, 3: KEY_3}, current=3, retired=[1])
    assert repr(ring) == "Keyring(current=3, versions=[1, 2, 3], retired=[1])"
    assert ring.decryptable == {2, 3}
    assert ring.old_versions == {2}
    assert not hasattr(ring, "__dict__")


def test_keyring_follows_the_settings(keys):
    assert keyring().current == 1
    keys.rotate_to(2)
    assert (keyring().current, keyring().old_versions) == (2, {1})
    keys.use(2, retired=[1])
    assert keyring().retired == {1}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CARD_DATA_KEYS_RETIRED": "one"}, "CARD_DATA_KEYS_RETIRED must be a comma-separated list"),
        ({"CARD_DATA_KEYS_RETIRED": "2"}, "the current version cannot be retired"),
    ],
)
def test_settings_refuse_a_bad_retired_list(tmp_path, env, message):
    keys_env = {"CARD_DATA_KEYS": f"1:{b64key()},2:{b64key()}", "CARD_DATA_KEY_VERSION": "2"}
    result = manage(tmp_path, "check", **keys_env, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_settings_read_the_retired_versions(tmp_path):
    keys_env = {"CARD_DATA_KEYS": f"1:{b64key()},2:{b64key()},3:{b64key()}", "CARD_DATA_KEYS_RETIRED": "2, 1"}
    result = manage(tmp_path, "shell", "-c", "from cards.vault import keyring; print(keyring())", **keys_env)
    assert result.returncode == 0, result.stderr
    assert "Keyring(current=3, versions=[1, 2, 3], retired=[1, 2])" in result.stdout


@pytest.mark.django_db
def test_new_cards_use_the_current_version_and_old_versions_decrypt_until_retired(merchant, keys):
    [(old, pan, _)] = vault_cards(merchant, 1)
    assert old.key_version == 1
    keys.rotate_to(2)
    [(new, _, _)] = vault_cards(merchant, 1)
    assert new.key_version == 2
    assert services.card_number(Card.objects.get(pk=old.pk)).reveal() == pan  # old version still decrypts
    with pytest.raises(InvalidTag):  # and the two versions really are different keys
        decrypt_pan(new.pan_ciphertext, key_version=1, record_id=new.id)

    keys.use(2, keys={1: KEY_1, 2: KEY_2}, retired=[1])  # retired: decrypts nothing, even with the key present
    with pytest.raises(CardKeyUnavailable, match="version 1 is retired"):
        services.card_number(Card.objects.get(pk=old.pk))
    keys.use(2, keys={2: KEY_2})  # removed from the keys altogether
    with pytest.raises(CardKeyUnavailable, match="version 1 is not configured"):
        services.card_number(Card.objects.get(pk=old.pk))


# --- Re-encryption -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_moves_every_record_to_the_current_version(merchant, keys):
    made = vault_cards(merchant, 10)
    deleted = make_card(merchant, number=random_pan())
    services.card_delete(merchant_id=merchant.pk, livemode=False, card_id=deleted.pk)
    before = {card.pk: bytes(Card.objects.get(pk=card.pk).pan_ciphertext) for card, _, _ in made}
    keys.rotate_to(2)
    assert counts() == {1: 10}

    run = rotation.rotate_table(table="cards.card", batch_size=3)

    assert (run.batches, run.reencrypted, run.failed, run.done) == (4, 10, 0, True)
    assert counts() == {2: 10}
    assert_all_on(2, made)
    for card, _, _ in made:
        blob = bytes(Card.objects.get(pk=card.pk).pan_ciphertext)
        assert blob != before[card.pk]
        with pytest.raises(InvalidTag):  # really under key 2 now
            decrypt_pan(blob, key_version=1, record_id=card.pk)
    assert Card.objects.get(pk=deleted.pk).pan_ciphertext is None  # destroyed card data stays destroyed


@pytest.mark.django_db
def test_rotation_is_resumable_from_its_cursor(merchant, keys):
    made = vault_cards(merchant, 10)
    keys.rotate_to(2)

    first = rotation.rotate_table(table="cards.card", batch_size=3, max_batches=2)

    assert (first.batches, first.reencrypted, first.done) == (2, 6, False)
    assert counts() == {1: 4, 2: 6}
    ordered = sorted(Card.objects.values_list("pk", flat=True))  # the same order on SQLite and PostgreSQL here
    assert first.cursor == ordered[5]
    assert list(Card.objects.filter(key_version=2).order_by("pk").values_list("pk", flat=True)) == ordered[:6]

    rest = rotation.rotate_table(table="cards.card", after=first.cursor, batch_size=3)

    assert (rest.reencrypted, rest.done) == (4, True)
    assert_all_on(2, made)


@pytest.mark.django_db
def test_a_crash_mid_batch_rolls_the_batch_back_and_the_job_resumes(merchant, keys, monkeypatch):
    made = vault_cards(merchant, 10)
    keys.rotate_to(2)
    real_encrypt = rotation.encrypt_pan
    calls = []

    def crash_on_the_fifth(number, *, record_id):
        calls.append(record_id)
        if len(calls) == 5:
            raise OperationalError("worker lost its connection")
        return real_encrypt(number, record_id=record_id)

    monkeypatch.setattr(rotation, "encrypt_pan", crash_on_the_fifth)
    with pytest.raises(OperationalError):
        rotation.rotate_table(table="cards.card", batch_size=3)
    assert counts() == {1: 7, 2: 3}  # the first batch committed, the second one rolled back entirely
    assert_all_on(1, [m for m in made if Card.objects.get(pk=m[0].pk).key_version == 1])

    monkeypatch.setattr(rotation, "encrypt_pan", real_encrypt)
    again = rotation.rotate_table(table="cards.card", batch_size=3)  # the message redelivered: from the start
    assert (again.reencrypted, again.done) == (7, True)
    assert_all_on(2, made)


@pytest.mark.django_db
def test_running_again_changes_nothing(merchant, keys):
    made = vault_cards(merchant, 5)
    keys.rotate_to(2)
    rotation.rotate_table(table="cards.card", batch_size=2)
    blobs = {card.pk: bytes(Card.objects.get(pk=card.pk).pan_ciphertext) for card, _, _ in made}

    for after in (None, made[2][0].pk):
        run = rotation.rotate_table(table="cards.card", after=after, batch_size=2)
        assert (run.batches, run.reencrypted, run.done) == (0, 0, True)
    assert {card.pk: bytes(Card.objects.get(pk=card.pk).pan_ciphertext) for card, _, _ in made} == blobs
    assert_all_on(2, made)


@pytest.mark.django_db
def test_nothing_to_do_without_an_old_version(merchant, keys):
    vault_cards(merchant, 3)
    run = rotation.rotate_table(table="cards.card", batch_size=10)
    assert (run.batches, run.reencrypted, run.done) == (0, 0, True)
    assert counts() == {1: 3}


@pytest.mark.django_db
def test_every_old_version_moves_to_the_current_one(merchant, keys):
    on_1 = vault_cards(merchant, 3)
    keys.rotate_to(2)
    on_2 = vault_cards(merchant, 3)
    keys.rotate_to(3)
    assert counts() == {1: 3, 2: 3}
    rotation.rotate_table(table="cards.card", batch_size=4)
    assert counts() == {3: 6}
    assert_all_on(3, on_1 + on_2)


@pytest.mark.django_db
def test_rotation_between_batches_of_live_traffic(merchant, keys):
    """New cards vaulted, cards read and deleted between the batches of a running rotation (deterministic
    interleaving; the PostgreSQL test below does it with real threads)."""
    made = vault_cards(merchant, 12)
    keys.rotate_to(2)
    traffic = {"new": [], "reads": 0}
    doomed = made.pop(7)

    def traffic_between_batches(batch):
        traffic["new"] += vault_cards(merchant, 2)  # new cards: under version 2, never picked by the job
        for card, pan, _ in made + traffic["new"]:
            assert services.card_number(Card.objects.get(pk=card.pk)).reveal() == pan
            traffic["reads"] += 1
        if Card.objects.filter(pk=doomed[0].pk, deleted_at__isnull=True).exists():
            services.card_delete(merchant_id=merchant.pk, livemode=False, card_id=doomed[0].pk)

    run = rotation.rotate_table(table="cards.card", batch_size=4, on_batch=traffic_between_batches)

    assert run.done and run.reencrypted in (11, 12)  # the deleted card may have been re-encrypted first
    assert all(card.key_version == 2 for card, _, _ in traffic["new"])
    assert counts() == {2: 11 + len(traffic["new"])}
    assert_all_on(2, made + traffic["new"])
    assert traffic["reads"] > 0


@pytest.mark.django_db
def test_a_record_that_does_not_decrypt_is_reported_left_alone_and_blocks_retirement(merchant, keys, caplog):
    made = vault_cards(merchant, 4)
    bad = made.pop(1)[0]
    tampered = bytearray(Card.objects.get(pk=bad.pk).pan_ciphertext)
    tampered[-1] ^= 1
    Card.objects.filter(pk=bad.pk).update(pan_ciphertext=bytes(tampered))
    keys.rotate_to(2)

    with caplog.at_level(logging.ERROR, logger="cards.rotation"):
        run = rotation.rotate_table(table="cards.card", batch_size=10)

    assert (run.reencrypted, run.failed, run.done) == (3, 1, True)
    assert counts() == {1: 1, 2: 3}
    assert_all_on(2, made)
    assert any(bad.pk in r.getMessage() for r in caplog.records)
    with pytest.raises(rotation.KeyRetirementRefused, match="1 record"):
        rotation.retirement_check(1)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="not an encrypted-PAN table"):
        rotation.reencrypt_batch(table="payments.payment", batch_size=10)
    for size in (0, -1, rotation.MAX_BATCH_SIZE + 1, "10", True):
        with pytest.raises(ValueError, match="batch_size"):
            rotation.reencrypt_batch(table="cards.card", batch_size=size)
    with pytest.raises(ValueError, match="max_batches"):
        rotation.rotate_table(table="cards.card", batch_size=10, max_batches=0)


def test_card_is_registered_and_another_table_can_be():
    table = rotation.encrypted_pan_table("cards.Card")
    assert (table.model, table.ciphertext_field, table.version_field) == ("cards.Card", "pan_ciphertext",
                                                                          "key_version")
    assert table.model_class() is Card


# --- Retirement ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_retirement_is_refused_while_records_remain_and_for_the_current_version(merchant, keys):
    vault_cards(merchant, 3)
    keys.rotate_to(2)
    with pytest.raises(rotation.KeyRetirementRefused, match=r"version 1 cannot be retired: 3 record\(s\)"):
        rotation.retirement_check(1)
    with pytest.raises(rotation.KeyRetirementRefused, match="current version"):
        rotation.retirement_check(2)
    rotation.rotate_table(table="cards.card", batch_size=10)
    rotation.retirement_check(1)  # nothing left: allowed
    rotation.retirement_check(7)  # a version never used holds nothing either


@pytest.mark.django_db
def test_system_check_refuses_a_retired_or_removed_version_that_still_holds_records(merchant, keys):
    vault_cards(merchant, 2)
    keys.rotate_to(2)
    assert check_card_key_versions(databases=["default"]) == []

    keys.use(2, keys={1: KEY_1, 2: KEY_2}, retired=[1])
    [error] = check_card_key_versions(databases=["default"])
    assert isinstance(error, Error) and error.id == "cards.E001"
    assert "version 1 is retired" in error.msg and "2 record(s) of cards.card" in error.msg
    assert "rotate_card_keys" in error.hint
    with pytest.raises(SystemCheckError, match=r"cards\.E001"):
        call_command("check", "--database", "default", stdout=io.StringIO(), stderr=io.StringIO())

    keys.use(2, keys={2: KEY_2})
    [error] = check_card_key_versions(databases=["default"])
    assert error.id == "cards.E002" and "not in CARD_DATA_KEYS" in error.msg

    assert check_card_key_versions(databases=None) == []  # a plain `check` does not read the database

    keys.rotate_to(2)
    rotation.rotate_table(table="cards.card", batch_size=10)
    keys.use(2, keys={2: KEY_2}, retired=[1])
    assert check_card_key_versions(databases=["default"]) == []
    call_command("check", "--database", "default", stdout=io.StringIO())


# --- The Celery task -----------------------------------------------------------------------------


def test_task_options():
    task = tasks.rotate_card_keys
    assert task.name == "cards.rotate_card_keys"
    assert task.acks_late is True
    assert task.max_retries == 5
    assert set(task.autoretry_for) == {OperationalError, InterfaceError}
    assert task.retry_backoff


@pytest.fixture
def enqueued(monkeypatch):
    """Messages the task sends to the broker (nothing is really sent); each kwargs round-trips through JSON."""
    sent = []
    monkeypatch.setattr(tasks.rotate_card_keys, "apply_async",
                        lambda args=None, kwargs=None, **options: sent.append(json.loads(json.dumps(kwargs))))
    return sent


@pytest.mark.django_db
def test_task_chains_itself_with_a_cursor_until_done(merchant, keys, enqueued):
    made = vault_cards(merchant, 7)
    keys.rotate_to(2)
    assert tasks.rotate_card_keys_start() == ["cards.card"]
    assert enqueued == [{"table": "cards.card"}]

    results = []
    while enqueued:
        message = enqueued.pop(0)
        result = tasks.rotate_card_keys.run(**{**message, "batch_size": 2, "batches": 2})
        results.append((message, result))

    # The last message finds nothing left: a batch is never assumed to be the last one.
    assert [r["reencrypted"] for _, r in results] == [4, 3, 0]
    assert [r["done"] for _, r in results] == [False, False, True]
    assert [m.get("after") for m, _ in results] == [None, results[0][1]["cursor"], results[1][1]["cursor"]]
    assert_all_on(2, made)
    for message, result in results:  # table names, primary keys and counts: no card data
        text = json.dumps([message, result])
        assert find_pans(text) == []
        assert not any(pan in text for _, pan, _ in made)
        assert set(result) == {"table", "cursor", "batches", "reencrypted", "failed", "done"}


@pytest.mark.django_db
def test_task_delivered_twice_does_no_harm(merchant, keys, enqueued):
    made = vault_cards(merchant, 5)
    keys.rotate_to(2)
    first = tasks.rotate_card_keys.run(table="cards.card", batch_size=2, batches=1)
    done_first = {c.pk: bytes(c.pan_ciphertext) for c in Card.objects.filter(key_version=2)}
    assert len(done_first) == 2

    again = tasks.rotate_card_keys.run(table="cards.card", batch_size=2, batches=1)  # the same message again

    assert (first["reencrypted"], again["reencrypted"]) == (2, 2)  # the redelivery skips what is done
    assert again["cursor"] > first["cursor"]
    assert {pk: bytes(Card.objects.get(pk=pk).pan_ciphertext) for pk in done_first} == done_first
    while enqueued:  # both chains run to the end
        tasks.rotate_card_keys.run(**enqueued.pop(0))
    assert_all_on(2, made)


# --- The command ---------------------------------------------------------------------------------


def command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_card_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_command_reports_rotates_inline_and_resumes(merchant, keys):
    made = vault_cards(merchant, 7)
    keys.rotate_to(2)

    out, _ = command()
    assert "current version 2; decrypt only: 1; retired: none" in out
    assert "cards.card: key version 1: 7 record(s) (old" in out
    assert "Version 1 cannot be retired yet (7 record(s) left)." in out

    out, _ = command("--inline", "--batch-size", "3", "--max-batches", "1")
    assert "3 record(s) re-encrypted to key version 2" in out
    cursor = out.split("--after ")[1].split()[0]
    assert cursor == sorted(c.pk for c, _, _ in made)[2]
    assert "key version 1: 4 record(s)" in out and "key version 2: 3 record(s) (current)" in out

    out, _ = command("--inline", "--table", "cards.card", "--after", cursor, "--batch-size", "3")
    assert "4 record(s) re-encrypted to key version 2, 0 failed, done" in out
    assert "Version 1 can be retired." in out
    assert_all_on(2, made)
    assert find_pans(out) == []


@pytest.mark.django_db
def test_command_check_retire(merchant, keys):
    vault_cards(merchant, 2)
    keys.rotate_to(2)
    with pytest.raises(CommandError, match=r"version 1 cannot be retired: 2 record\(s\)"):
        command("--check-retire", "1")
    with pytest.raises(CommandError, match="current version"):
        command("--check-retire", "2")
    command("--inline")
    out, _ = command("--check-retire", "1")
    assert "version 1 encrypts no record: it can be retired" in out


@pytest.mark.django_db
def test_command_start_enqueues_the_job(merchant, keys, enqueued):
    out, _ = command("--start")
    assert enqueued == [{"table": "cards.card"}]
    assert "cards.card" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--after", "card_x"], "--after goes with --inline"),
        (["--batch-size", "5"], "--batch-size goes with --inline"),
        (["--inline", "--batch-size", "0"], "--batch-size must be"),
        (["--inline", "--max-batches", "0"], "--max-batches must be"),
        (["--table", "payments.payment"], "not an encrypted-PAN table"),
    ],
)
def test_command_refuses_bad_options(args, message, keys):
    with pytest.raises(CommandError, match=message):
        command(*args)


@pytest.mark.django_db
def test_command_flags_records_it_cannot_decrypt(merchant, keys):
    vault_cards(merchant, 1)
    keys.use(2, keys={2: KEY_2})
    out, _ = command()
    assert "key version 1: 1 record(s) (NOT CONFIGURED" in out


# --- Real concurrency (PostgreSQL) ---------------------------------------------------------------




@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rotation_mid_traffic_with_real_threads(merchant, keys):
    """Two rotation jobs at once (the job beside itself), cards vaulted, read and deleted meanwhile."""
    made = vault_cards(merchant, 120)
    doomed, kept = made[:10], made[10:]
    keys.rotate_to(2)
    rotators_left = [2]
    lock = threading.Lock()

    def rotator():
        try:
            return rotation.rotate_table(table="cards.card", batch_size=7)
        finally:
            with lock:
                rotators_left[0] -= 1

    def writer():
        return vault_cards(merchant, 15)

    def reader():
        rounds = 0
        for _ in range(10_000):  # while the rotators run, then two more full rounds
            if rotators_left[0] == 0 and rounds >= 2:
                break
            for card, pan, fp in kept:
                row = Card.objects.get(pk=card.pk)
                assert row.key_version in (1, 2)
                assert services.card_number(row).reveal() == pan
                assert row.fingerprint == fp
            rounds += 1
        return rounds

    def deleter():
        for card, _, _ in doomed:
            services.card_delete(merchant_id=merchant.pk, livemode=False, card_id=card.pk)

    outcomes = run_concurrently([rotator, rotator, writer, writer, reader, reader, deleter])

    assert [exc for _, exc in outcomes if exc is not None] == []
    runs = [outcomes[0][0], outcomes[1][0]]
    assert all(run.done and run.failed == 0 for run in runs)
    # Each record re-encrypted once: never by both jobs (the 10 deleted ones possibly not at all).
    assert 110 <= sum(run.reencrypted for run in runs) <= 120
    new = outcomes[2][0] + outcomes[3][0]
    assert all(card.key_version == 2 for card, _, _ in new)
    assert counts() == {2: 110 + 30}
    assert_all_on(2, kept + new)
    assert Card.objects.filter(pk__in=[c.pk for c, _, _ in doomed], pan_ciphertext__isnull=True).count() == 10
    assert outcomes[4][0] >= 2 and outcomes[5][0] >= 2


# --- PCI: nothing in clear after rotating --------------------------------------------------------


@pytest.mark.django_db
def test_database_scan_looks_for_cvcs_in_values_not_in_ids(merchant):
    """Ids grow past 918 in a long test run: the CVC scan skips primary and foreign keys, not other numbers."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from payments.models import Payment
    from payments.tests.factories import make_payment

    if not Permission.objects.filter(id=918).exists():  # after many flushes on PostgreSQL it may exist already
        Permission.objects.create(id=918, name="x", codename="x918",
                                  content_type=ContentType.objects.get_for_model(Card))
    payment = make_payment(merchant)
    assert scan_database(cvcs=CVCS)["cvc"] == []
    Payment.objects.filter(pk=payment.pk).update(amount=9180, amount_captured=918)
    assert scan_database(cvcs=CVCS)["cvc"] == [("payments_payment", "amount_captured", "918")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("debug_logs")
def test_no_pan_or_cvc_in_database_or_logs_after_rotating(merchant, keys, caplog):
    """The PCI scenario (tokenizations, payments, declines, refunds) under key 1, then a rotation to key 2
    with every logger at DEBUG and SQL logged: the database and the logs hold no PAN and no CVC."""
    run_scenario(merchant)
    stored = {card.pk: services.card_number(card).reveal() for card in Card.objects.filter(key_version=1)}
    assert len(stored) >= 8
    keys.rotate_to(2)
    caplog.clear()

    out, err = command("--inline", "--batch-size", "3")
    out += command("--check-retire", "1")[0]

    assert Card.objects.filter(key_version=1).count() == 0
    assert {card.pk: services.card_number(card).reveal() for card in Card.objects.filter(key_version=2)} == stored
    # The rotation's statements are in the logs that are scanned below.
    assert any(r.name == "django.db.backends" and "UPDATE" in r.getMessage() and "cards_card" in r.getMessage()
               for r in caplog.records)
    assert any(r.name == "cards.rotation" for r in caplog.records)

    result = scan_database(pans=ALL_PANS + INVALID_NUMBERS, cvcs=CVCS)
    assert ("cards_card", "pan_ciphertext") in result["binary_columns"]
    assert (result["luhn"], result["cvc"], result["pan_bytes"]) == ([], [], [])
    assert pans_in_log_records(caplog.records) == []
    for record in caplog.records:
        for text in log_record_texts(record):
            assert not any(pan in text for pan in stored.values()), record.name
            assert not any(contains_token(text, cvc) for cvc in CVCS), record.name
    assert find_pans(out + err) == []
