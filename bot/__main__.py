"""python -m bot: the warroom command."""

from bot.cli import main

main()
