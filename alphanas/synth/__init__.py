"""Property-guided synthesis: synthesis problems, the egglog e-graph synthesizer, the progressive (αNAS) synthesizer."""
