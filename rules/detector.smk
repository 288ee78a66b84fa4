# Stage: detector (see ../shared/DESIGN.md for what it owns).

TARGETS["detector"] = []
