"""The shipped models: each ``NAME.keras`` with its model card ``NAME.json``.

Installed as the package ``denoise.pretrained``, so that a wheel carries them
(:func:`denoise.inference.pretrained_dir` finds them with ``importlib.resources``).
"""
