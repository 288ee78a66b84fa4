# Stage: evaluate (see ../shared/DESIGN.md for what it owns).

TARGETS["evaluate"] = []
