"""The application around the library: the `autograd-mini` command, the lookup of the documents'
experiments, the audits of their hand rules, the derived code beside a hand rule and the BLAS thread
policy.

It sits on top: it imports the core (`autograd_mini`), the experiment kit (`autograd_mini.lab`), the
models (`models`, to fill the registry) and, for `autograd-mini bench`, the benchmarks (`benchmarks`).
Nothing imports it but `python -m autograd_mini`.
"""
