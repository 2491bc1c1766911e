"""What a model builds its experiments with, below the models: the registry they fill (`registry`), the
record of a line a document printed next to ours (`reproduce`), the training pictures (`plots`) and
the run's output files (`output`).

It imports only the core; the models, the benchmarks and the application import it. `import
autograd_mini` does not load it.
"""
