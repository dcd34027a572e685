"""Which models there are and how they make up families: the models folder and its manifest.

A models folder holds ``NAME.keras`` files, each with its card ``NAME.json``
(:mod:`denoise.cards`), and a manifest, ``families.json``, that says what each family is and
how the default is put together:

.. code-block:: json

    {
      "schema_version": 1,
      "default": "unet",
      "families": {
        "unet": {
          "description": "residual U-Net, the best quality",
          "members": {"gray": "unet-gray", "color": "unet-color"},
          "low_noise": {"gray": {"model": "unet-low-gray", "below_sigma": 22}},
          "grey_luminance": 0.75
        }
      }
    }

* ``members``: the model for grey and for colour images (either may be missing);
* ``low_noise``: per member, a model that runs instead on images whose estimated noise standard
  deviation (0-255 scale) is below ``below_sigma``;
* ``grey_luminance``: the grey member also denoises each colour image's luminance, which gets
  this weight in the result's (:class:`denoise.compose.LuminanceBlend`).

A folder without a manifest (a user's own models, the tests' tiny ones) gets one inferred from
its file names: ``NAME-gray`` and ``NAME-color`` make the family ``NAME``, with nothing
composed. The manifest is untrusted input like the cards: :func:`read_manifest` checks it.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from denoise.cards import read_card

__all__ = [
    "CHANNEL_SUFFIXES",
    "MANIFEST_NAME",
    "PHOTO_MODEL",
    "PHOTO_NOISE_KINDS",
    "Family",
    "LowNoise",
    "Manifest",
    "ManifestError",
    "available_models",
    "default_family",
    "model_for_noise",
    "pretrained_dir",
    "quick_family",
    "read_manifest",
]

#: File name of the manifest in a models folder.
MANIFEST_NAME = "families.json"
#: Version of the manifest format; a newer one is refused.
MANIFEST_VERSION = 1
#: The blind family for photos that are already noisy (real camera noise).
PHOTO_MODEL = "photo"
#: Noise kinds that :data:`PHOTO_MODEL` was trained for; every other kind goes to the default.
PHOTO_NOISE_KINDS = frozenset({"camera", "correlated"})
#: Suffix of the grey and colour members of a family, by channel count.
CHANNEL_SUFFIXES = {1: "gray", 3: "color"}
#: What a model or family name may contain.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ManifestError(ValueError):
    """A manifest that cannot be read or does not fit the format; the message says where."""


@dataclass(frozen=True)
class LowNoise:
    """A model that takes over from a family member on images with little noise.

    Attributes
    ----------
    model : str
        The model trained for low noise.
    below_sigma : float
        It runs on images whose estimated noise standard deviation (0-255 scale) is below this.

    """

    model: str
    below_sigma: float


@dataclass(frozen=True)
class Family:
    """A family of models: a grey and/or colour member and how they are put together.

    Attributes
    ----------
    name : str
        The family's name (``unet``, ``conv-8``).
    members : dict of int to str
        Model name per channel count (1 and/or 3).
    description : str
        One line for people.
    low_noise : dict of int to LowNoise
        Per channel count, the member's low-noise model.
    grey_luminance : float or None
        Weight of the grey member's luminance in colour results, if it has one.
    quick : str or None
        A cheaper family of the manifest that does the same job less well: the app shows its
        result first while this one runs, and ``denoise run --fast`` runs it instead.

    """

    name: str
    members: dict[int, str]
    description: str = ""
    low_noise: dict[int, LowNoise] = field(default_factory=dict)
    grey_luminance: float | None = None
    quick: str | None = None

    @property
    def summary(self) -> str:
        """How the family is put together, in a few words (``-`` when it is just its members)."""
        parts = [f"{link.model} below σ {link.below_sigma:g}" for link in self.low_noise.values()]
        if self.grey_luminance is not None:
            parts.append(f"grey model's luminance × {self.grey_luminance:g}")
        if self.quick is not None:
            parts.append(f"quick look: {self.quick}")
        return ", ".join(parts) or "-"


@dataclass(frozen=True)
class Manifest:
    """A models folder's families and which of them is the default."""

    default: str
    families: dict[str, Family]

    def family(self, name: str) -> Family | None:
        """Return the family called ``name`` (``"default"`` for the default), or None."""
        return self.families.get(self.default if name == "default" else name)


def pretrained_dir() -> Path:
    """Folder of the shipped models.

    ``$DENOISE_MODELS`` if set; else the installed package ``denoise.pretrained`` (a wheel, or
    any install from any directory); else, in a source checkout, its top-level ``pretrained/``.
    """
    if "DENOISE_MODELS" in os.environ:
        return Path(os.environ["DENOISE_MODELS"])
    try:
        return Path(str(importlib.resources.files("denoise.pretrained")))
    except ModuleNotFoundError:  # an editable install maps only the top-level package
        return Path(__file__).resolve().parent.parent / "pretrained"


def available_models(folder: Path | None = None) -> dict[str, dict]:
    """Return the cards of the models in ``folder`` (default: :func:`pretrained_dir`), by model name."""
    folder = pretrained_dir() if folder is None else folder
    cards = {}
    for card_path in sorted(folder.glob("*.json")):
        if card_path.with_suffix(".keras").exists():
            cards[card_path.stem] = read_card(card_path)
    return cards


def model_for_noise(kind: str | None) -> str:
    """Name of the shipped family for images with noise of ``kind`` (None: a photo that is already noisy).

    Real photos and synthetic camera-like noise go to :data:`PHOTO_MODEL`; noise added by the
    app or the command line of any other kind goes to the model trained for it, the default.
    """
    return PHOTO_MODEL if kind is None or kind in PHOTO_NOISE_KINDS else "default"


def read_manifest(folder: Path | None = None) -> Manifest:
    """Read and check the manifest of ``folder`` (default: :func:`pretrained_dir`), or infer one.

    Raises
    ------
    ManifestError
        If the manifest is not valid JSON, does not fit the format, or names a model that is
        not in the folder.

    """
    folder = pretrained_dir() if folder is None else folder
    path = folder / MANIFEST_NAME
    if not path.exists():
        return _inferred_manifest(folder)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: not a readable JSON manifest ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("families"), dict):
        raise ManifestError(f"{path}: a manifest is a JSON object with a 'families' object")
    version = document.get("schema_version")
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        raise ManifestError(f"{path}: schema_version must be an integer up to {MANIFEST_VERSION}")
    families = {name: _read_family(path, name, entry) for name, entry in document["families"].items()}
    default = document.get("default")
    if default not in families:
        raise ManifestError(f"{path}: 'default' must name one of its families")
    for family in families.values():
        if family.quick is not None and (family.quick not in families or family.quick == family.name):
            raise ManifestError(f"{path}: family {family.name!r}: 'quick' must name another of its families")
        for model in [*family.members.values(), *(link.model for link in family.low_noise.values())]:
            if not (folder / f"{model}.keras").is_file():
                raise ManifestError(f"{path}: family {family.name!r} names {model!r}, which has no {model}.keras")
    return Manifest(default, families)


def _read_family(path: Path, name: object, entry: object) -> Family:
    """Check one family of the manifest at ``path``."""
    where = f"{path}: family {name!r}"
    if not (isinstance(name, str) and NAME_PATTERN.fullmatch(name) and isinstance(entry, dict)):
        raise ManifestError(f"{where}: a family is a name and an object")
    suffix_channels = {suffix: channels for channels, suffix in CHANNEL_SUFFIXES.items()}
    members = entry.get("members")
    if not (isinstance(members, dict) and members and set(members) <= set(suffix_channels)):
        raise ManifestError(f"{where}: 'members' must map 'gray' and/or 'color' to model names")
    links = entry.get("low_noise", {})
    if not (isinstance(links, dict) and set(links) <= set(members)):
        raise ManifestError(f"{where}: 'low_noise' must map members ('gray', 'color') to models")
    low_noise = {}
    for suffix, link in links.items():
        model, below_sigma = (link.get(key) if isinstance(link, dict) else None for key in ("model", "below_sigma"))
        if not (isinstance(below_sigma, (int, float)) and not isinstance(below_sigma, bool) and below_sigma > 0):
            raise ManifestError(f"{where}: low_noise needs a model name and a below_sigma number above 0")
        low_noise[suffix_channels[suffix]] = LowNoise(_model_name(where, model), float(below_sigma))
    weight = entry.get("grey_luminance")
    if weight is not None:
        if not (isinstance(weight, (int, float)) and not isinstance(weight, bool) and 0 < weight <= 1):
            raise ManifestError(f"{where}: 'grey_luminance' needs a weight above 0 and at most 1")
        if set(members) != set(suffix_channels):
            raise ManifestError(f"{where}: 'grey_luminance' needs a grey and a colour member")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ManifestError(f"{where}: 'description' must be text")
    quick = entry.get("quick")
    return Family(
        name,
        {suffix_channels[suffix]: _model_name(where, model) for suffix, model in members.items()},
        description,
        low_noise,
        None if weight is None else float(weight),
        None if quick is None else _model_name(where, quick),
    )


def _model_name(where: str, model: object) -> str:
    if not (isinstance(model, str) and NAME_PATTERN.fullmatch(model)):
        raise ManifestError(f"{where}: {model!r} is not a model name")
    return model


def _inferred_manifest(folder: Path) -> Manifest:
    """Infer the manifest of a folder that has none: a family per ``NAME-gray`` / ``NAME-color`` pair."""
    families: dict[str, dict[int, str]] = {}
    for model_path in sorted(folder.glob("*.keras")):
        family, _, suffix = model_path.stem.rpartition("-")
        for channels, channel_suffix in CHANNEL_SUFFIXES.items():
            if suffix == channel_suffix and family:
                families.setdefault(family, {})[channels] = model_path.stem
    default = "unet" if "unet" in families else next(iter(families), "")
    return Manifest(default, {name: Family(name, members) for name, members in families.items()})


def quick_family(name: str) -> str | None:
    """Name of the quick family of family ``name`` (:attr:`Family.quick`), or None if it has none or is no family."""
    family = read_manifest().family(name)
    return None if family is None else family.quick


def default_family() -> str:
    """Name of the default family of the models folder (``load_model("default")``)."""
    return read_manifest().default
