"""The ``denoise`` command: run, eval, models, train."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

__all__ = ["main"]

EXIT_REFUSED = 2


def _command_train(arguments: argparse.Namespace) -> int:
    from denoise.data import parse_noise_range
    from denoise.training import TrainingConfig, train

    config = TrainingConfig(
        data=arguments.data, output=arguments.output, architecture=arguments.architecture,
        channels=arguments.channels, latent=arguments.latent, width=arguments.width,
        patch_size=arguments.patch_size, batch_size=arguments.batch_size,
        batches_per_epoch=arguments.batches_per_epoch, epochs=arguments.epochs,
        learning_rate=arguments.learning_rate,
        noise=[parse_noise_range(text) for text in arguments.noise], seed=arguments.seed,
        command="denoise " + shlex.join(arguments.argv),
    )
    card = train(config)
    print(json.dumps(card, indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="denoise", description="Denoise images with Keras autoencoders.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model on a folder of clean images")
    train.add_argument("--data", required=True, help="folder of clean training images")
    train.add_argument("--output", required=True, help="model path without suffix, e.g. pretrained/unet-gray")
    train.add_argument("--architecture", choices=["unet", "conv", "dense"], default="unet")
    train.add_argument("--channels", type=int, choices=[1, 3], default=1, help="1 grey, 3 colour")
    train.add_argument("--latent", type=int, default=64, help="latent size (bottleneck channels or units)")
    train.add_argument("--width", type=int, default=32, help="feature maps at half resolution")
    train.add_argument("--patch-size", type=int, default=48)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--batches-per-epoch", type=int, default=100)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--noise", nargs="+", default=["gaussian:0-55"], metavar="KIND:LOW-HIGH",
                       help="noise kinds and level ranges drawn during training (default gaussian:0-55)")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_command_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = _parser().parse_args(argv)
    arguments.argv = argv
    try:
        return arguments.handler(arguments)
    except (ValueError, OSError) as error:
        print(f"denoise: error: {error}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
