"""Property-guided synthesis: synthesis problems, the egglog e-graph synthesizer, the progressive (αNAS) synthesizer.

    from alphanas.synth import mutate
    res = mutate(graph, seed=0)                 # e-graph synthesizer, 1 s budget
    res.graph, res.old, res.new, res.target, res.achieved, res.description

:func:`synthesize` solves one :class:`SynthesisProblem`; both raise :class:`SynthesisFailed` when
nothing satisfying (and different) is found within the budget or the result fails verification.
"""

from alphanas.synth.api import SYNTHESIZERS, MutationResult, make_problem, mutate, synthesize
from alphanas.synth.problem import SynthesisFailed, SynthesisProblem, SynthesisResult, Vocabulary

__all__ = ["SYNTHESIZERS", "MutationResult", "SynthesisFailed", "SynthesisProblem", "SynthesisResult",
           "Vocabulary", "make_problem", "mutate", "synthesize"]
