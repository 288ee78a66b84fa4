# Stage: loopnet (see ../shared/DESIGN.md for what it owns).

TARGETS["loopnet"] = []
