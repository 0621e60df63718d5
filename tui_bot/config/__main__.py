"""python -m tui_bot.config: print the default config.toml (--markdown: the README's key table)."""

from tui_bot.config.rendering import main

main()
