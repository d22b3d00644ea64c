"""Linting: the table of rules and running the selected ones over an input (their docs: bpfrewrite.render.rules).

It sits above bpfrewrite.passes (it runs the rules), so no rule can import the table of rules.
"""
