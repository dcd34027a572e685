"""Model cards: the JSON beside each ``.keras`` file, read and written in one place.

A card says what a model is (architecture, channels, latent size, parameters), what it was
trained on and with which command, its lineage and what it measured. Cards are untrusted input
like the weights: :func:`read_card` checks the types of the fields the library relies on, and
the ``sha256`` a card carries must match its weights (:func:`check_weights`), so a card cannot
describe other weights than its own. :func:`write_card` is the one writer: it stamps the schema
version and the weights' digest and replaces the file atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from denoise.files import write_json

__all__ = ["SCHEMA_VERSION", "CardError", "check_card", "check_weights", "read_card", "weights_digest", "write_card"]

#: Version of the card format; a card from a newer version is refused.
SCHEMA_VERSION = 1
#: Fields the library reads, and the types they must have where present.
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "name": str,
    "architecture": str,
    "channels": int,
    "latent_size": int,
    "width": (int, type(None)),
    "bottom_blocks": int,
    "patch_size": (int, type(None)),
    "parameters": int,
    "noise": list,
    "training": dict,
    "patches_seen": int,
    "validation_psnr": (int, float, type(None)),
    "command": str,
    "sha256": str,
    "lineage": list,
    "measured": dict,
    "luminance": dict,
}


class CardError(ValueError):
    """A model card that cannot be read, does not fit the schema, or does not match its weights."""


def check_card(card: object, source: str = "card") -> dict:
    """Return ``card`` if it is a JSON object whose known fields have the right types.

    Raises
    ------
    CardError
        Naming the first field that is wrong.

    """
    if not isinstance(card, dict):
        raise CardError(f"{source}: a model card must be a JSON object")
    for field, expected in FIELD_TYPES.items():
        value = card.get(field)
        if field in card and (not isinstance(value, expected) or isinstance(value, bool)):
            raise CardError(f"{source}: field {field!r} has the wrong type ({type(value).__name__})")
    if card.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
        raise CardError(f"{source}: schema version {card['schema_version']} is newer than this library's")
    return card


def read_card(path: Path) -> dict:
    """Read and check the card at ``path``.

    Raises
    ------
    CardError
        If it is not valid JSON or not a valid card.

    """
    try:
        card = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CardError(f"{path}: not a JSON model card ({str(error).splitlines()[0][:120]})") from None
    return check_card(card, str(path))


def weights_digest(path: Path) -> str:
    """SHA-256 of a weights file, hexadecimal."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_weights(card: dict, weights: Path) -> None:
    """Check that ``weights`` are the ones ``card`` describes, where the card names a digest.

    Raises
    ------
    CardError
        If the card's ``sha256`` differs from the file's.

    """
    if "sha256" in card and weights_digest(weights) != card["sha256"]:
        raise CardError(f"{weights}: the weights do not match their card (sha256 differs)")


def write_card(path: Path, card: dict, weights: Path | None = None) -> dict:
    """Write ``card`` to ``path`` atomically, with the schema version and, given ``weights``, their digest.

    Returns
    -------
    dict
        The card as written.

    """
    card = {**card, "schema_version": SCHEMA_VERSION}
    if weights is not None and Path(weights).exists():
        card["sha256"] = weights_digest(weights)
    check_card(card, str(path))
    write_json(Path(path), card)
    return card
