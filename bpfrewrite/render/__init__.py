"""Every output format, one module per family; renderers take model or result objects and return text.

`formats` is the table of which command writes which formats; `diagnostics` (lint), `rules`
(lint --list-rules, --explain, docs/rules/), `progress` (lint's bar), `listing` (disasm), `cfg`,
`patch_report`, `verify`, `guard` and `messages` (bpfrewrite's own stderr lines) are the families;
`layout` holds what the plain-text ones share (aligned columns, counted nouns, durations).
"""
