"""Every output format, one module per family; renderers take model or result objects and return text.

`formats` is the table of which command writes which formats; `diagnostics` (lint), `listing`
(disasm), `cfg`, `patch_report`, `verify` and `guard` are the families; `layout` holds what the
plain-text tables share (aligned columns, durations).
"""
