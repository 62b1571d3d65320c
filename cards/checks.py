"""System checks of the card vault's keys.

`cards.E001` / `cards.E002` refuse a keyring that cannot decrypt every stored card: a version retired
(CARD_DATA_KEYS_RETIRED) or removed from CARD_DATA_KEYS while records are still encrypted with it.
They read the database, so Django runs them with `manage.py migrate` (every deployment) and
`manage.py check --database default`, not on every management command.
"""

from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from . import rotation
from .vault import keyring

HINT = ("Put the version back in CARD_DATA_KEYS (and out of CARD_DATA_KEYS_RETIRED), run "
        "`manage.py rotate_card_keys --inline` (or --start), and retire it once "
        "`manage.py rotate_card_keys --check-retire {version}` passes.")


@register(Tags.database)
def check_card_key_versions(app_configs=None, databases=None, **kwargs):
    if not databases or "default" not in databases:
        return []
    try:
        stranded = rotation.stranded_records()
    except DatabaseError:  # tables not created yet (first migrate): nothing is stored
        return []
    retired = keyring().retired
    errors = []
    for table, versions in stranded.items():
        for version, count in versions.items():
            if version in retired:
                errors.append(Error(
                    f"Card data key version {version} is retired (CARD_DATA_KEYS_RETIRED) but {count} record(s) of "
                    f"{table} are still encrypted with it: they cannot be decrypted.",
                    hint=HINT.format(version=version), id="cards.E001"))
            else:
                errors.append(Error(
                    f"Card data key version {version} is not in CARD_DATA_KEYS but {count} record(s) of {table} "
                    f"are still encrypted with it: they cannot be decrypted.",
                    hint=HINT.format(version=version), id="cards.E002"))
    return errors
