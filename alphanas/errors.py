"""User-facing errors.

Every error a user can cause (bad file, bad option, malformed model) is an :class:`AlphanasError`:
the CLI prints its message on one line and exits with status 2, never a traceback.
"""

from __future__ import annotations


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` with every run of white space (line breaks included) folded into one space, cut to ``limit``
    characters: how a message that quotes another tool (the ONNX checker, numpy) stays one line."""
    folded = " ".join(str(text).split())
    return folded if limit is None or len(folded) <= limit else folded[:limit]


class AlphanasError(Exception):
    """An error caused by user input: message says what, where, and how to fix it."""

    exit_code = 2


class InvalidGraphError(AlphanasError):
    """The graph breaks an IR invariant (cycle, dangling input, shape mismatch); names the node."""


class UnsupportedModelError(AlphanasError):
    """The model uses something alphanas cannot handle (opset, op form)."""


class MissingDependencyError(AlphanasError):
    """An optional dependency (onnxruntime, ray, ...) is needed for this operation."""


class ParameterError(AlphanasError):
    """A bad value of a named parameter of the library API.

    The message template names parameters as ``{parameter}``; the library spells them as the API does
    (``trials must be a positive integer``) and a front end re-spells them with :meth:`spelled` (the CLI
    names its flags: ``--trials must be a positive integer``). ``parameter`` is the parameter at fault;
    ``others`` are further parameters the message names.
    """

    def __init__(self, parameter: str, template: str, *, others: tuple[str, ...] = ()) -> None:
        self.parameter = parameter
        self.template = template
        self.names = (parameter, *others)
        super().__init__(self._render(lambda name: name))

    def _render(self, spell) -> str:
        text = self.template
        for name in self.names:
            text = text.replace("{" + name + "}", spell(name))
        return text

    def spelled(self, spell) -> AlphanasError:
        """The same error with every named parameter written as ``spell(name)``."""
        return AlphanasError(self._render(spell))
