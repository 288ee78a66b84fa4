"""The MIDI stage's parameters (the config's `midi:` section), its limits and its error."""

from __future__ import annotations

from dataclasses import dataclass

MIDI_SUFFIXES = (".mid", ".midi")
MAX_TICK = 10_000_000  # pretty_midi refuses files with a later event: they are corrupt
MAX_BARS = 10_000  # a drum or bass note later than this is a corrupt tick, not music


@dataclass(frozen=True)
class MidiParams:
    """The config's `midi:` section, minus the paths (SPEC section 1 defaults)."""

    steps_per_bar: int = 16
    parse_resolution: int = 24
    phrase_bars: int = 8
    hop_bars: int = 1
    min_drum_cells: int = 32
    min_bass_steps: int = 32
    bass_low: int = 24
    bass_high: int = 71
    bass_programs: tuple[int, ...] = tuple(range(32, 40))
    assume_4_4_without_time_signature: bool = False

    @classmethod
    def from_config(cls, section: dict) -> MidiParams:
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in section.items() if k in names}
        if "bass_programs" in values:
            values["bass_programs"] = tuple(values["bass_programs"])
        params = cls(**values)
        params.check()
        return params

    @property
    def steps_per_beat(self) -> int:
        return self.steps_per_bar // 4

    def check(self) -> None:
        from loopgen.roll import BASS_HIGH, BASS_LOW, N_BARS, STEPS_PER_BAR

        fixed = {"steps_per_bar": STEPS_PER_BAR, "phrase_bars": N_BARS, "bass_low": BASS_LOW, "bass_high": BASS_HIGH}
        for name, value in fixed.items():
            if getattr(self, name) != value:
                raise ValueError(f"midi.{name} must be {value}: the phrase roll format (loopgen.roll) is fixed")
        if self.parse_resolution % self.steps_per_beat:
            raise ValueError(f"midi.parse_resolution must be a multiple of {self.steps_per_beat} (steps per beat)")


class MidiError(ValueError):
    """A file that yields no phrases; the message is the reason a person reads in files.parquet."""


def _programs_text(params: MidiParams) -> str:
    programs = sorted(params.bass_programs)
    if programs == list(range(programs[0], programs[-1] + 1)) and len(programs) > 1:
        return f"{programs[0]}–{programs[-1]}"
    return ", ".join(map(str, programs))
