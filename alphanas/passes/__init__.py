"""Graph passes: ``Pass``, ``PassResult(graph, modified)``, ``PassManager``, built-in passes, plug-ins."""
