"""The `loopgen` command for people: look into results and listen to them.

Each subcommand lives next to the code it uses; this file only routes to it, importing lazily so
`loopgen --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, function that adds its arguments, function that runs it, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "summary": (
        "loopgen.midi",
        "add_summary_args",
        "run_summary",
        "summarise MIDI phrase shards and files tables: phrase count, tempo histogram, reject reasons",
    ),
    "to-midi": (
        "loopgen.midi_write",
        "add_to_midi_args",
        "run_to_midi",
        "write one phrase of a shard to a .mid file (drums on channel 10, bass as notes)",
    ),
    "generate": (
        "loopgen.generate",
        "add_generate_args",
        "run_generate",
        "new loops from a trained model: 8-bar MIDI files at a tempo, WAV renders and a CSV",
    ),
    "synth": (
        "loopgen.loopnet",
        "add_synth_args",
        "run_synth",
        "LoopNet timbre transfer: rhythm from one loop or a MIDI drum pattern, timbre from another -> WAV",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loopgen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, add_args, _run, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        getattr(importlib.import_module(module), add_args)(p)
    args = parser.parse_args(argv)
    module, _add, run, _help = COMMANDS[args.command]
    try:
        return getattr(importlib.import_module(module), run)(args) or 0
    except (FileNotFoundError, ValueError) as error:
        print(f"loopgen {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
