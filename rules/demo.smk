# Stage: demo (see ../shared/DESIGN.md for what it owns).

TARGETS["demo"] = []
