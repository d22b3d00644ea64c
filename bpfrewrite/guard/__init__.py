"""The guard runtime: load a patched object, attach its originals, watch their run time, switch to twins.

Modules: `durations` (option parsing), `rules` (when to switch and when to switch back),
`attach` (how each program type is attached and whether its link can be updated), `runtime`
(the loop). Its output is rendered by bpfrewrite.render.guard.
"""
