# Stage: midi (see ../shared/DESIGN.md for what it owns).

TARGETS["midi"] = []
