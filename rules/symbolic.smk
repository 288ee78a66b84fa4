# Stage: symbolic (see ../shared/DESIGN.md for what it owns).

TARGETS["symbolic"] = []
