"""Linting: the table of rules, running the selected ones over an input, and their documentation.

It sits above bpfrewrite.passes (it runs the rules), so no rule can import the table of rules.
"""
