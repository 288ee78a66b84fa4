# Stage: audio (see ../shared/DESIGN.md for what it owns).

TARGETS["audio"] = []
