"""How an API account is named wherever tiepulse stores or shows it, and its Dagster partition key.

Without a pseudonym key an account is its address, as today (a single user reads their own). With the key it is
its pseudonym, the same ``p~<hex>@domain`` its mailbox's rows carry as ``mailbox_owner``: ``ops.sync_state``,
the run log, Dagster partition keys, run tags, asset metadata and log lines then hold no address. The address
itself is needed only to call the API; a sync maps its partition key back to it (``account_partitions``).
"""

from __future__ import annotations

from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.import_context import address_normaliser
from tiepulse.core.keyed_hash import keyed_hash
from tiepulse.core.settings import Settings
from tiepulse.pipelines.providers.spec import ApiProvider


def account_id(normaliser: AddressNormaliser, address: str) -> str:
    """The pseudonym of ``address`` (``normaliser`` holds the key); the address itself without a key."""
    if normaliser.hmac_key is None:
        return address
    return normaliser.normalise(address) or "k~" + keyed_hash(normaliser.hmac_key, address)[:32]


def account_partition_key(settings: Settings, address: str) -> str:
    """The Dagster partition key of the account ``address``: the one place it is made."""
    return account_id(address_normaliser(settings), address)


def account_partitions(provider: ApiProvider, settings: Settings) -> dict[str, str]:
    """Partition key -> address of every account ``provider`` syncs, as the settings say."""
    normaliser = address_normaliser(settings)
    return {account_id(normaliser, address): address for address in provider.accounts(settings)}
