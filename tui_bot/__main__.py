import sys

from tui_bot.cli import main

if __name__ == "__main__":  # the training worker is spawned and re-imports this module
    sys.exit(main())
