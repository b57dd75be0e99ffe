"""The chain search's default depth: defined once, imported by the library and every command.

Kept in a module of its own (no imports) so that the command line can show the
default in its help without importing the analysis.
"""

#: Calls from a read to a sink (hand-offs cost none). Chosen by measurement on
#: the corpus (bench/evaluate.py --depth): the smallest depth with the best F1;
#: see docs/harvest-chains.md.
CHAIN_DEPTH = 4
