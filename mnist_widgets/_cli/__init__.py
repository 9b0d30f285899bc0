"""One module per ``mnist-widgets`` subcommand.

Each module defines ``register(subparsers)``, which adds its parser and sets ``func`` (called with
the parsed namespace, returning an exit code). Modules must not import TensorFlow at import time:
the CLI's ``--help`` has to be instant.
"""
