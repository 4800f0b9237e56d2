"""``python -m flower_integration join <federation>``: see flower_integration.join."""

import sys

COMMANDS = {"join": "flower_integration.join"}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m flower_integration {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        sys.exit(2)
    from importlib import import_module

    sys.exit(import_module(COMMANDS[sys.argv[1]]).main(sys.argv[2:]))
