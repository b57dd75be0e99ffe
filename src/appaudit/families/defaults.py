"""The defaults of ``appaudit families`` that the command line shows in its help.

Apart from :mod:`appaudit.families.model` so that the command line can import them without
building the model's dataclasses (3.5 ms of every run of every command).
"""

#: Default link threshold: one strong reason (chain code, endpoint, signer) or read code alone;
#: a shared host alone (0.4) needs ``--min-score 0.4``.
MIN_SCORE = 0.5

#: A key held by more apps than this is treated as library or SDK code and ignored (a routine
#: copied into hundreds of apps says nothing about who runs them).
MAX_SHARED = 200
