"""Pictures of screens, displays and the console from a real in-process hall.

Each tool answers an option of a daemon's command (`hall line --picture DIR`, `hall kiosk
--screenshots DIR`, `hall console --screenshots DIR`) but starts a whole hall, so it lives here,
where no daemon imports it. Their options are declared here, apart from the tools, because the
command line is parsed at every start of those daemons: this module stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_line_picture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--picture", type=Path, default=None, metavar="DIR",
        help="write PNGs of a window strip and the hall screen after a simulated call",
    )


def add_kiosk_picture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screenshots", type=Path, default=None, metavar="DIR",
                        help="save pictures of the main screens to DIR and exit")


def add_console_picture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screenshots", type=Path, default=None, metavar="DIR",
                        help="save pictures of the main views from a simulated hall and exit")
