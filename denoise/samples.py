"""Sample training sets made of the images that scikit-image ships (nothing is downloaded).

The app's Train page offers them beside the user's own images, so a first run needs no files.
The first two are of kinds the shipped models were not trained on (a deep-sky exposure, a
stained tissue slide), each cut into four parts (three to train on, one held out): there a
short fine-tune of a shipped model gains, as it would on a user's own kind of images.
"""

from __future__ import annotations

import numpy as np
from skimage import data as sample_images

__all__ = ["SAMPLE_SETS", "sample_set"]

#: Sample sets by label: each a list of (scikit-image function, cut into quarters).
SAMPLE_SETS: dict[str, tuple[tuple[str, bool], ...]] = {
    "astronomy (the Hubble deep field, in four parts)": (("hubble_deep_field", True),),
    "microscopy (a stained tissue slide, in four parts)": (("immunohistochemistry", True),),
    "colour photos (astronaut, cat, coffee, rocket)": (
        ("astronaut", False),
        ("chelsea", False),
        ("coffee", False),
        ("rocket", False),
    ),
    "grey images (camera, coins, moon, page)": (("camera", False), ("coins", False), ("moon", False), ("page", False)),
}


def _quarters(image: np.ndarray) -> list[np.ndarray]:
    """Cut an image into its four quarters, row by row."""
    half_height, half_width = image.shape[0] // 2, image.shape[1] // 2
    return [
        image[row * half_height : (row + 1) * half_height, column * half_width : (column + 1) * half_width]
        for row in range(2)
        for column in range(2)
    ]


def sample_set(label: str) -> list[np.ndarray]:
    """Return the images of sample set ``label`` as float32 H x W x C arrays in [0, 1].

    Raises
    ------
    KeyError
        If there is no sample set of that label.

    """
    images = []
    for name, quartered in SAMPLE_SETS[label]:
        pixels = np.asarray(getattr(sample_images, name)(), np.float32) / 255
        pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
        images.extend(_quarters(pixels) if quartered else [pixels])
    return [np.ascontiguousarray(image) for image in images]
