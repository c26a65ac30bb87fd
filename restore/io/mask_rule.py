"""The hole-mask rule in words, for help texts and messages (standard library only, so the command
line can say it before it imports anything heavy); :mod:`restore.io.masks` applies it."""

MASK_RULE = (
    "a hole is a pixel brighter than half the range (above 127 of 255: white), known is dark"
)
