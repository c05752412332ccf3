"""``cudalign verify``: prove on the GPU that the installed stack runs, and load-test an endpoint.

Three doors to the outside, each replaceable in tests: the payload (:mod:`cudalign.verify.payload`, run
inside the target interpreter through a process door by :mod:`cudalign.verify.checks`), the files of
site-packages (:mod:`cudalign.verify.fatbin`, :mod:`cudalign.verify.static`), and an OpenAI-compatible
server (:mod:`cudalign.verify.endpoint`). :mod:`cudalign.verify.report` turns what they found into one
report. This package depends only on :mod:`cudalign.model` and :mod:`cudalign.errors`; the knowledge
base's figures (datasheets, the PTX ISA table) and the rule classifier are passed in.
"""

from __future__ import annotations

__all__: list[str] = []
